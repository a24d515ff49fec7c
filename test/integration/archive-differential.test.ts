import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { tempDirs } from '../helpers/tmp.js';
import { buildCases, type TarCase } from '../helpers/tar-cases.js';
import { extractWith, oracleTrees, type Extracted, type OracleTree } from '../helpers/tar-oracle.js';
import { runCli } from '../helpers/cli.js';
import { runInProcess } from '../helpers/in-process.js';
import { hashTarball, readTar } from '../../src/archive/reader.js';
import { safeExtract } from '../../src/archive/extract.js';
import { XenrelError } from '../../src/errors.js';
import { sortEntries } from '../../src/tree/hash.js';

/**
 * The archive contract, checked against the real tools: for every archive, either xenrel's
 * entries and tree hash equal those of the tree GNU tar extracts (bsdtar agreeing), or
 * xenrel refuses it — exit 1, a stable E_TAR_* code, the entry named. Each case goes through
 * the lock-time tree hash, `xenrel verify` (the CLI) and the extraction path.
 */

const tmp = tempDirs();
let work: string;
let cases: TarCase[] = [];
interface Oracle {
  gnu: Extracted;
  bsd: Extracted;
  gnuTree: OracleTree;
  bsdTree: OracleTree;
}
const oracle = new Map<string, Oracle>();
type VerifyRun = {
  exitCode: number;
  json: { verify?: { unsafe: { code: string; path: string }[]; tree: { actual: string }; topDir?: string } };
};
const cli = new Map<string, VerifyRun>();
/** Every BINARY_EVERY-th case also through the built binary. */
const BINARY_EVERY = 8;
const binary = new Map<string, VerifyRun>();

beforeAll(async () => {
  work = await tmp.make('xenrel-diff-');
  mkdirSync(join(work, 'x'));
  cases = buildCases(join(work, 'in'));
  const dirs: string[] = [];
  cases.forEach((c, i) => {
    const g = join(work, 'gnu', String(i));
    const b = join(work, 'bsd', String(i));
    const gnu = extractWith('gnu', c.file, g);
    const bsd = extractWith('bsdtar', c.file, b);
    dirs.push(g, b);
    oracle.set(c.file, { gnu, bsd } as Oracle);
  });
  const trees = oracleTrees(dirs);
  for (const [i, c] of cases.entries())
    Object.assign(oracle.get(c.file)!, { gnuTree: trees[2 * i], bsdTree: trees[2 * i + 1] });
  // xenrel verify through the CLI's own entry, in this process: a spawned CLI per archive
  // cost most of this file's time.
  for (const c of cases) {
    const r = await runInProcess(['verify', c.file, '--json'], { cwd: work });
    cli.set(c.file, { exitCode: r.code, json: JSON.parse(r.stdout || '{}') });
  }
  // A sample through the built binary, as a packager runs it (a few processes at a time),
  // must answer exactly as the command did in-process.
  const limit = pLimit(3);
  await Promise.all(
    cases
      .filter((_, i) => i % BINARY_EVERY === 0)
      .map((c) =>
        limit(async () => {
          const r = await runCli(['verify', c.file, '--json'], { cwd: work, timeoutMs: 60_000 });
          binary.set(c.file, { exitCode: r.code ?? -1, json: JSON.parse(r.stdout || '{}') });
        }),
      ),
  );
}, 600_000);

// Some trees are deeper than PATH_MAX from /: rm(1) removes them where fs.rm cannot.
afterAll(() => {
  if (work) spawnSync('rm', ['-rf', work]);
  return tmp.cleanup();
});

describe('differential suite: xenrel against GNU tar and bsdtar', () => {
  it('has at least 80 archives from GNU tar, bsdtar, Python tarfile and raw headers', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
    for (const w of ['GNU tar', 'bsdtar', 'Python tarfile']) expect(cases.some((c) => c.name.startsWith(w))).toBe(true);
  });

  it('the built binary answers as the command does in-process', () => {
    expect(binary.size).toBeGreaterThanOrEqual(10);
    for (const [file, b] of binary) expect(b, file).toEqual(cli.get(file));
  });

  it('every archive meets the contract on every surface', async () => {
    const failures: string[] = [];
    let accepted = 0;
    let refused = 0;
    // Folders xenrel extracted, hashed by the oracle at the end in one Python process.
    const extracted: { dest: string; want: string; fail: (what: string) => void }[] = [];
    for (const [i, c] of cases.entries()) {
      const o = oracle.get(c.file)!;
      const fail = (what: string) => failures.push(`${c.name}: ${what}`);
      const lock = await hashTarball(c.file, { collect: true });
      const v = cli.get(c.file)!;
      if (lock.findings.length === 0) {
        accepted++;
        // (a) what GNU tar extracts, bsdtar agreeing
        if (c.expect === 'refuse') fail(`accepted, expected ${c.code}`);
        if (o.gnu.exit !== 0) fail(`xenrel accepts, GNU tar exits ${o.gnu.exit}: ${o.gnu.stderr}`);
        if (o.bsd.exit !== 0) fail(`xenrel accepts, bsdtar exits ${o.bsd.exit}: ${o.bsd.stderr}`);
        if (o.gnuTree.hash !== o.bsdTree.hash) fail('xenrel accepts, GNU tar and bsdtar extract different trees');
        if (lock.hash !== o.gnuTree.hash) fail(`lock-time tree hash ${lock.hash} ≠ GNU tar's ${o.gnuTree.hash}`);
        const listed = sortEntries([...lock.entries]).map((e) => e.path);
        if (JSON.stringify(listed) !== JSON.stringify(o.gnuTree.entries))
          fail(`entries ${JSON.stringify(listed)} ≠ GNU tar's ${JSON.stringify(o.gnuTree.entries)}`);
        if (v.exitCode !== 0) fail(`verify exits ${v.exitCode}: ${JSON.stringify(v.json.verify?.unsafe)}`);
        const top = v.json.verify?.topDir;
        if (top && o.gnuTree.tops[top] && v.json.verify!.tree.actual !== o.gnuTree.tops[top])
          fail(`verify's tree ${v.json.verify!.tree.actual} ≠ GNU tar's ${o.gnuTree.tops[top]}`);
        const dest = join(work, 'x', String(i));
        const x = await safeExtract(c.file, dest).then(
          (r) => r,
          (e: unknown) => e as Error,
        );
        if (x instanceof Error) {
          // The one refusal extraction may add: a path that fits Linux but not under the staging folder.
          if (!(x instanceof XenrelError && x.code === 'E_TAR_LIMIT' && /too long to extract under/.test(x.message)))
            fail(`extraction failed: ${x.message}`);
        } else {
          if (x.hash !== o.gnuTree.hash) fail(`extraction's tree hash ${x.hash} ≠ GNU tar's`);
          extracted.push({ dest, want: o.gnuTree.hash, fail });
        }
      } else {
        refused++;
        // (b) refused: exit 1, a stable code, the entry named — on every surface
        const f = lock.findings[0]!;
        if (c.expect === 'accept') fail(`refused (${f.code}: ${f.message}), expected to be read like GNU tar`);
        if (!/^E_TAR_[A-Z_]+$/.test(f.code)) fail(`unstable code ${f.code}`);
        if (c.code && !lock.findings.some((x) => x.code === c.code))
          fail(`refused with ${f.code} (${f.message}), expected ${c.code}`);
        if (c.entry && !lock.findings.some((x) => x.message.includes(c.entry!)))
          fail(`refusal does not name ${c.entry}: ${f.message}`);
        const err = await readTar(c.file).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!(err instanceof XenrelError) || err.exitCode !== 1 || !err.code.startsWith('E_TAR_'))
          fail(`readTar: ${String(err)}`);
        // verify writes nothing: it may accept an absolute symlink as inert, hashing what GNU tar extracts
        const verifyInert =
          c.absoluteLink &&
          v.exitCode === 0 &&
          v.json.verify?.tree.actual === o.gnuTree.tops[v.json.verify?.topDir ?? ''];
        if (!verifyInert && (v.exitCode !== 1 || !v.json.verify?.unsafe.length))
          fail(`verify exits ${v.exitCode}, unsafe ${JSON.stringify(v.json.verify?.unsafe)}`);
        const dest = join(work, 'x', String(i));
        const xe = await safeExtract(c.file, dest).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!(xe instanceof XenrelError) || !xe.code.startsWith('E_TAR_')) fail(`extraction: ${String(xe)}`);
        if (existsSync(dest)) fail('extraction left a staging folder behind');
      }
    }
    const written = oracleTrees(extracted.map((e) => e.dest));
    for (const [i, e] of extracted.entries())
      if (written[i]!.hash !== e.want) e.fail('the extracted folder differs from what GNU tar wrote');
    if (failures.length) console.error(failures.join('\n'));
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(40);
    expect(refused).toBeGreaterThan(30);
  }, 600_000);
});
