/**
 * `npm run hardening`: runs the hostile-archive, fetch-fault, crash, disk-full,
 * concurrency, fuzz, security-default and signature tests and prints one table: each case,
 * whether it held, and the error code / exit code the test actually observed (recorded by
 * the tests through test/helpers/outcome.ts; "-" where a test records none). Nothing here
 * is hard-coded: a case that fails shows FAIL and its first error line. Exits 1 if any failed.
 */
import { relative } from 'node:path';
import { startVitest } from 'vitest/node';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

const FILES = [
  'test/unit/archive-hostile.test.ts',
  'test/integration/tarball-fetch.test.ts',
  'test/integration/tarball-fetch-tls.test.ts',
  'test/integration/tarball-fetch-process.test.ts',
  'test/integration/crash-safety.test.ts',
  'test/integration/disk-full.test.ts',
  'test/integration/concurrency.test.ts',
  'test/integration/security-defaults.test.ts',
  'test/integration/signatures.test.ts',
  'test/unit/config-fuzz.test.ts',
];

interface Row {
  file: string;
  name: string;
  state: string;
  outcome: string;
  ms: number;
  error?: string;
}

class HardeningReporter implements Reporter {
  rows: Row[] = [];
  onTestCaseResult(t: TestCase) {
    const r = t.result();
    const outcomes = t.meta().outcomes ?? [];
    this.rows.push({
      file: relative(process.cwd(), t.module.moduleId),
      name: t.fullName,
      state: r.state === 'passed' ? 'held' : r.state === 'failed' ? 'FAIL' : r.state,
      outcome: outcomes.length
        ? outcomes.map((o) => (o.exit === undefined ? o.code : `${o.code}, exit ${o.exit}`)).join('; ')
        : '-',
      ms: Math.round(t.diagnostic()?.duration ?? 0),
      error: r.state === 'failed' ? (r.errors?.[0]?.message ?? '').split('\n')[0] : undefined,
    });
  }
  onTestRunEnd(_modules: ReadonlyArray<TestModule>) {
    const out = process.stdout;
    let file = '';
    const w = Math.min(90, Math.max(...this.rows.map((r) => r.name.length)));
    for (const r of this.rows.sort((a, b) => FILES.indexOf(a.file) - FILES.indexOf(b.file))) {
      if (r.file !== file) {
        file = r.file;
        out.write(`\n${file}\n${'CASE'.padEnd(w)}  RESULT  OBSERVED (code, exit)\n`);
      }
      const name = r.name.length > w ? `${r.name.slice(0, w - 1)}…` : r.name;
      out.write(`${name.padEnd(w)}  ${r.state.padEnd(6)}  ${r.outcome}${r.error ? `  <- ${r.error}` : ''}\n`);
    }
    const failed = this.rows.filter((r) => r.state === 'FAIL').length;
    const skipped = this.rows.filter((r) => r.state === 'skipped').length;
    out.write(
      `\n${this.rows.length} cases: ${this.rows.length - failed - skipped} held, ${failed} failed, ${skipped} skipped\n`,
    );
  }
}

const reporter = new HardeningReporter();
const vitest = await startVitest('test', FILES, {
  run: true,
  watch: false,
  reporters: [reporter],
  fileParallelism: false,
});
await vitest.close();
process.exitCode = reporter.rows.some((r) => r.state === 'FAIL') || !reporter.rows.length ? 1 : 0;
