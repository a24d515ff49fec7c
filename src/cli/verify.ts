import { Command, Option } from 'clipanion';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Cache } from '../cache/cache.js';
import { ExitCode, usageError } from '../errors.js';
import { fetchAll, type FetchOutcome } from '../fetch/fetch-all.js';
import { requireLock } from '../lock/lockfile.js';
import type { Report } from '../report/report.js';
import { expectationsFromLock, verifyDir, verifyTarball, type VerifyResult } from '../verify/verify.js';
import { readEmbeddedLock } from '../verify/embedded-lock.js';
import { BaseCommand } from './base.js';

function printResult(report: Report, r: VerifyResult): void {
  for (const c of r.components) {
    const detail = c.status === 'ok' ? '' : c.note ? ` (${c.note})` : '';
    report.output(`${c.status === 'ok' ? 'ok      ' : c.status.padEnd(8)} ${c.name}  ${c.prefix}${detail}`);
    for (const p of c.modified) report.output(`    modified ${p}`);
    for (const p of c.missing) report.output(`    missing  ${p}`);
    for (const p of c.extra) report.output(`    extra    ${p}`);
  }
  for (const f of r.unsafe) report.output(`unsafe   ${f.code}: ${f.message}`);
  for (const p of r.problems) report.output(`problem  ${p}`);
  if (r.buildProducts?.length) report.info(`${r.buildProducts.length} absolute link(s) into the tree itself, made by the build (e.g. ${r.buildProducts[0]}): build products, not vendored content`);
  if (r.tree.expected) report.output(`${r.tree.ok ? 'ok      ' : 'modified'} whole tree ${r.tree.actual}${r.tree.ok ? '' : ` (expected ${r.tree.expected})`}`);
}

export class VerifyCommand extends BaseCommand {
  static override paths = [['verify']];
  static override usage = Command.Usage({
    description: 'Verify a release tarball or a vendored tree against its lock, offline or against upstream',
    details: `
      Streams the tarball once, without extracting it, recomputes the tree hash of every
      component and of the whole, and names each missing, extra or modified file under its
      component. Unsafe entries (\`..\`, absolute paths, links leaving the tree, devices, setuid
      bits, duplicates, oversize) are reported, never followed. Exit 1 on any finding.

      By default the expectations are the tarball's own \`.xenrel/release.json\` and
      \`xenrel.lock\`; \`--lock FILE\` checks against a lockfile you obtained independently (from
      the project's git, say). \`--upstream\` also re-fetches every pin into a temporary cache,
      ignoring yours, and checks it against the same hashes: the packager's proof that the
      tarball is what upstream published.

      A folder argument verifies a vendored tree the same way.
    `,
    examples: [
      ['Verify a release tarball offline', '$0 verify xen-4.22.0.tar.gz'],
      ['Against the lockfile from the project\'s git', '$0 verify xen-4.22.0.tar.gz --lock xenrel.lock'],
      ['Against upstream, for machines', '$0 verify xen-4.22.0.tar.gz --upstream --json'],
      ['A vendored Xen tree', '$0 verify .'],
    ],
  });

  target = Option.String({ name: 'TARBALL|DIR' });
  lock = Option.String('--lock', { description: 'Verify against this lockfile instead of the one inside' });
  upstream = Option.Boolean('--upstream', false, { description: 'Also re-fetch every pin from upstream into a temporary cache and compare' });
  portable = Option.Boolean('--portable', false, { description: 'Also refuse names Windows cannot hold (CON, aux.c, trailing dots)' });

  async run(report: Report): Promise<void> {
    const target = resolve(this.cwd, this.target);
    const st = await stat(target).catch(() => undefined);
    if (!st) throw usageError(`${this.target}: no such file or folder`);
    const lock = this.lock ? await requireLock(resolve(this.cwd, this.lock), this.lock) : undefined;
    const expect = lock ? expectationsFromLock(lock) : undefined;
    const limits = this.portable ? { portableNames: true } : undefined;
    const result = st.isDirectory() ? await verifyDir(target, { expect, limits }) : await verifyTarball(target, { expect, limits });
    report.set('verify', result);
    printResult(report, result);
    if (result.expectations === 'none') report.warn('no lock or release.json inside and no --lock given: only entry safety was checked');
    else if (!lock) report.info(`expectations: the ${result.expectations === 'release.json' ? '.xenrel/release.json' : 'xenrel.lock'} inside ${this.target} (pass --lock FILE for an independent check)`);
    if (!result.ok) report.failWith(ExitCode.checkFailed);

    if (this.upstream) {
      const upstreamLock = lock ?? (await readEmbeddedLock(target, st.isDirectory()));
      if (!upstreamLock) throw usageError('--upstream needs a lock: none inside the target, and no --lock given');
      const dir = await mkdtemp(join(tmpdir(), 'xenrel-upstream-'));
      let outcomes: FetchOutcome[] = [];
      try {
        report.info(`re-fetching ${Object.keys(upstreamLock.components).length} pins from upstream into a temporary cache`);
        const names = Object.entries(upstreamLock.components)
          .filter(([, c]) => !('local' in c))
          .map(([n]) => n);
        try {
          outcomes = await fetchAll({ lock: upstreamLock, cache: new Cache(dir), names, progress: report });
        } catch (err) {
          outcomes = ((err as { details?: { outcomes?: FetchOutcome[] } }).details?.outcomes ?? []) as FetchOutcome[];
          if (!outcomes.length) throw err;
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      report.set('upstream', outcomes);
      for (const o of outcomes) report.output(`${o.status === 'failed' ? 'MISMATCH' : 'upstream'} ${o.name}${o.error ? `: ${o.error.message}` : ': same content as the lock'}`);
      const failed = outcomes.filter((o) => o.status === 'failed');
      if (failed.length) report.failWith(failed.some((f) => f.error?.exitCode === ExitCode.checkFailed || /INTEGRITY|TREE_MISMATCH/.test(f.error?.code ?? '')) ? ExitCode.checkFailed : ExitCode.fetch);
    }
    if (report.exitCode === ExitCode.ok) report.info(`${this.target}: verified (${result.files} files${this.upstream ? ', matches upstream' : ''})`);
  }
}
