/**
 * Crash safety (issue 7, hostile-inputs §5 "loses no data", §6.12/§6.14): the built CLI is
 * SIGKILLed (with its whole process group, so git children die too) at a spread of points
 * during `lock`, `fetch`, `vendor` and `release`. After each kill:
 *   - the cache is well-formed: every content object re-hashes to its name, every git
 *     mirror under its final name passes `git fsck --connectivity-only`;
 *   - the lockfile is absent/old or complete (it parses and equals the reference);
 *   - every vendored component (store and materialised path) is entirely the old or the
 *     new content, never a mix; the vendored lock copy is old or new;
 *   - the release folder has nothing under the final name unless it is the complete,
 *     byte-identical tarball;
 * and the next run succeeds without downloading what the cache already held (requests
 * counted on the loopback server; a held git commit is reported "in cache"). Before each
 * rerun the killed run's locks are aged past their stale time (ageLocks): the takeover is
 * the one a rerun half a minute later would do, without the wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import {
  ageLocks,
  auditCache,
  commitProject,
  copyTree,
  createWorld,
  fileSha256,
  makeProject,
  readLockIfAny,
  runXenrel as runCli,
  spawnCli,
  sri512,
  type HardeningWorld,
} from '../helpers/hardening.js';
import { hashDir } from '../../src/tree/walk.js';
import { hasCommit } from '../../src/sources/git.js';
import { Cache } from '../../src/content-cache/cache.js';
import { isLockedGit, isLockedTarball, type Lockfile } from '../../src/types.js';

const tmp = tempDirs();
let w: HardeningWorld;
let env: NodeJS.ProcessEnv;

/** Fractions of a full run's duration at which to kill. */
const FRACTIONS = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95];

beforeAll(async () => {
  w = await createWorld(await tmp.make('xenrel-world-'), { bigBytes: 3 * 1024 * 1024, files: 200 });
  env = w.fx.env;
}, 120_000);

afterAll(async () => {
  await w?.close();
  await tmp.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start `args`, kill it after `ms` (or when `until` resolves first), wait for it to end. */
async function killAt(args: string[], cwd: string, ms: number, until?: () => Promise<void>) {
  const r = spawnCli(args, { cwd, env });
  await Promise.race([sleep(ms), until?.() ?? new Promise(() => {}), r.done]);
  r.kill();
  return r.done;
}

/** Wait until the server has sent at least `n` bytes of `path` since request index `from`. */
async function bytesSent(path: string, from: number, n: number): Promise<void> {
  for (;;) {
    const sent = w.server.requests
      .slice(from)
      .filter((q) => q.path === path)
      .reduce((s, q) => s + q.bytesSent, 0);
    if (sent >= n) return;
    await sleep(5);
  }
}

const requestsSince = (mark: number) => w.server.requests.slice(mark);

async function expectWellFormed(cacheDir: string, when: string) {
  const a = await auditCache(cacheDir);
  expect(a.problems, `cache after ${when}`).toEqual([]);
  return a;
}

/** Tarball paths on the server for the tarballs of `lock`, keyed by their storage SRI. */
function tarballObjects(lock: Lockfile, bodies: Record<string, Buffer>) {
  return Object.values(lock.components)
    .filter(isLockedTarball)
    .map((c) => {
      const path = new URL(c.url).pathname;
      return { path, sri: sri512(bodies[path]!) };
    });
}

describe('SIGKILL at many points leaves everything old or complete', () => {
  let refLock: string;
  let lock: Lockfile;
  const bodies = () => ({ [w.bigPath]: w.big, [w.smallPath]: w.small });

  it('lock: the lockfile is absent or complete; the cache stays well-formed', async () => {
    const proj = await makeProject(await tmp.make('xenrel-lockref-'), w.config());
    const cache = await tmp.make('xenrel-cache-');
    const full = await runCli(['lock', '--cache', cache], { cwd: proj, env });
    expect(full.code, full.stderr).toBe(0);
    refLock = await readFile(join(proj, 'xenrel.lock'), 'utf8');
    lock = JSON.parse(refLock) as Lockfile;
    const t0 = Date.now();
    await rm(join(proj, 'xenrel.lock'));
    const cache2 = await tmp.make('xenrel-cache-');
    expect((await runCli(['lock', '--cache', cache2], { cwd: proj, env })).code).toBe(0);
    const total = Date.now() - t0;

    for (const f of [0.2, 0.6, 0.95]) {
      await rm(join(proj, 'xenrel.lock'), { force: true });
      const c = await tmp.make('xenrel-cache-');
      const r = await killAt(['lock', '--cache', c], proj, Math.round(total * f));
      const when = `lock killed at ${Math.round(total * f)} ms (exit ${r.code}, ${r.signal})`;
      const got = await readLockIfAny(join(proj, 'xenrel.lock'));
      if (got) expect(await readFile(join(proj, 'xenrel.lock'), 'utf8'), when).toBe(refLock);
      await expectWellFormed(c, when);
      await ageLocks(c);
      const again = await runCli(['lock', '--cache', c], { cwd: proj, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      expect(await readFile(join(proj, 'xenrel.lock'), 'utf8')).toBe(refLock);
      await expectWellFormed(c, `${when}, rerun`);
    }
  }, 300_000);

  it('fetch: the cache is well-formed after each kill, and the rerun downloads only what was missing', async () => {
    const proj = await makeProject(await tmp.make('xenrel-fetch-'), w.config());
    await writeFile(join(proj, 'xenrel.lock'), refLock);
    const objects = tarballObjects(lock, bodies());
    const seabios = lock.components.seabios!;
    if (!isLockedGit(seabios)) throw new Error('fixture');

    const t0 = Date.now();
    const c0 = await tmp.make('xenrel-cache-');
    const full = await runCli(['fetch', '--cache', c0], { cwd: proj, env });
    expect(full.code, full.stderr).toBe(0);
    const total = Date.now() - t0;

    // Time-based points, plus points tied to the big download's progress.
    const points: { label: string; ms: number; until?: (mark: number) => () => Promise<void> }[] = FRACTIONS.map((f) => ({
      label: `${Math.round(total * f)} ms`,
      ms: Math.round(total * f),
    }));
    for (const frac of [0, 0.3, 0.7, 0.99])
      points.push({ label: `big at ${frac * 100}%`, ms: 60_000, until: (mark) => () => bytesSent(w.bigPath, mark, Math.max(1, Math.floor(w.big.length * frac))) });

    for (const p of points) {
      const cacheDir = await tmp.make('xenrel-cache-');
      const mark = w.server.requests.length;
      const r = await killAt(['fetch', '--cache', cacheDir], proj, p.ms, p.until?.(mark));
      const when = `fetch killed at ${p.label} (exit ${r.code}, ${r.signal})`;
      expect(await readFile(join(proj, 'xenrel.lock'), 'utf8'), when).toBe(refLock);
      const audit = await expectWellFormed(cacheDir, when);
      const mirror = new Cache(cacheDir).gitMirrorDir(seabios.git);
      const hadCommit = audit.mirrors.includes(mirror) && (await hasCommit(mirror, seabios.commit));

      await ageLocks(cacheDir);
      const rerunMark = w.server.requests.length;
      const again = await runCli(['fetch', '--cache', cacheDir], { cwd: proj, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      const reqs = requestsSince(rerunMark);
      for (const o of objects) {
        if (audit.content.includes(o.sri))
          expect(
            reqs.filter((q) => q.path === o.path),
            `${when}: ${o.path} was held, yet fetched again`,
          ).toEqual([]);
      }
      if (hadCommit) expect(again.stdout, when).toMatch(/seabios: in cache/);
      const after = await expectWellFormed(cacheDir, `${when}, rerun`);
      // One copy of each object, nothing else published.
      expect(after.content.sort()).toEqual(objects.map((o) => o.sri).sort());
      expect(after.mirrors).toEqual([mirror]);
      const offline = await runCli(['fetch', '--offline', '--cache', cacheDir], { cwd: proj, env });
      expect(offline.code, offline.stderr).toBe(0);
    }
  }, 300_000);

  it('vendor: each component is entirely old or new after a kill; the rerun repairs with no download', async () => {
    // Template: v1 vendored, then the config and lock moved to v2 (seabios v2, big 2.0).
    const cacheDir = await tmp.make('xenrel-cache-');
    const template = join(await tmp.make('xenrel-vendor-'), 'tree');
    await makeProject(template, w.config('v1'));
    const run = (dir: string, args: string[]) => runCli([...args, '--cache', cacheDir], { cwd: dir, env });
    expect((await run(template, ['lock'])).code).toBe(0);
    expect((await run(template, ['vendor'])).code).toBe(0);
    const v1 = (await readLockIfAny(join(template, 'xenrel.lock')))!;
    const v1Text = await readFile(join(template, 'xenrel.lock'), 'utf8');
    await writeFile(join(template, 'xenrel.config.yaml'), w.config('v2', { bigPath: '/dl/big-2.0.tar.gz' }));
    expect((await run(template, ['lock'])).code).toBe(0);
    expect((await run(template, ['fetch'])).code).toBe(0);
    const v2 = (await readLockIfAny(join(template, 'xenrel.lock')))!;
    const v2Text = await readFile(join(template, 'xenrel.lock'), 'utf8');
    expect(v2.components.seabios).not.toEqual(v1.components.seabios);

    const work = join(await tmp.make('xenrel-vendor-work-'), 'tree');
    copyTree(template, work);
    const t0 = Date.now();
    expect((await run(work, ['vendor'])).code).toBe(0);
    const total = Date.now() - t0;

    const allowed = async (name: string, abs: string): Promise<string> => {
      const [a, b] = [v1.components[name]!, v2.components[name]!];
      if (isLockedGit(a) && isLockedGit(b)) {
        const h = (await hashDir(abs).catch(() => undefined))?.hash;
        return h === a.tree ? 'old' : h === b.tree ? 'new' : `neither (${h})`;
      }
      const sha = await fileSha256(abs);
      const want = (c: typeof a) => Buffer.from((c as { integrity: string }).integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
      const sha512 =
        sha &&
        createHash('sha512')
          .update(await readFile(abs))
          .digest('hex');
      return sha512 === want(a) ? 'old' : sha512 === want(b) ? 'new' : `neither (${sha})`;
    };

    for (const f of FRACTIONS) {
      copyTree(template, work);
      const r = await killAt(['vendor', '--cache', cacheDir], work, Math.round(total * f));
      const when = `vendor killed at ${Math.round(total * f)} ms (exit ${r.code}, ${r.signal})`;
      for (const [name, c] of Object.entries(v2.components)) {
        const store = join(work, '.xenrel/sources', name, isLockedGit(c) ? '' : c.path.split('/').pop()!);
        expect(await allowed(name, store), `${when}: store of ${name}`).toMatch(/^(old|new)$/);
        expect(await allowed(name, join(work, c.path)), `${when}: ${c.path}`).toMatch(/^(old|new)$/);
      }
      const copy = await readFile(join(work, '.xenrel/xenrel.lock'), 'utf8');
      expect([v1Text, v2Text], `${when}: vendored lock copy`).toContain(copy);
      await expectWellFormed(cacheDir, when);
      await ageLocks(cacheDir);

      const mark = w.server.requests.length;
      const again = await runCli(['vendor', '--cache', cacheDir], { cwd: work, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      expect(requestsSince(mark), `${when}: the rerun downloaded`).toEqual([]);
      const check = await runCli(['vendor', '--check'], { cwd: work, env });
      expect(check.code, `${when}: vendor --check: ${check.stdout}${check.stderr}`).toBe(0);
      for (const dir of ['.xenrel/sources', 'tools/firmware', 'stubdom'])
        expect(
          (await readdir(join(work, dir))).filter((n) => /xenrel-(tmp|old)-/.test(n)),
          `${when}: leftovers in ${dir}`,
        ).toEqual([]);
    }
  }, 300_000);

  it('release: nothing under the final name unless complete and identical; the rerun downloads nothing', async () => {
    const cacheDir = await tmp.make('xenrel-cache-');
    const proj = await makeProject(join(await tmp.make('xenrel-rel-'), 'xen'), w.config());
    expect((await runCli(['lock', '--cache', cacheDir], { cwd: proj, env })).code).toBe(0);
    commitProject(proj, env);
    const out = join(proj, '..', 'out');
    const name = 'xen-4.22.0.tar.gz';
    const t0 = Date.now();
    const full = await runCli(['release', '--cache', cacheDir, '--out', out], { cwd: proj, env });
    expect(full.code, full.stderr).toBe(0);
    const total = Date.now() - t0;
    const ref = (await fileSha256(join(out, name)))!;
    const refSums = await readFile(join(out, 'SHA256SUMS'), 'utf8');
    expect(refSums).toContain(`${ref}  ${name}\n`);

    for (const f of FRACTIONS) {
      await rm(out, { recursive: true, force: true });
      const r = await killAt(['release', '--cache', cacheDir, '--out', out], proj, Math.round(total * f));
      const when = `release killed at ${Math.round(total * f)} ms (exit ${r.code}, ${r.signal})`;
      const got = await fileSha256(join(out, name));
      if (got !== undefined) expect(got, `${when}: a tarball under the final name`).toBe(ref);
      const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8').catch(() => undefined);
      if (sums !== undefined) expect(sums, when).toBe(refSums);
      await expectWellFormed(cacheDir, when);
      await ageLocks(cacheDir);

      const mark = w.server.requests.length;
      const again = await runCli(['release', '--cache', cacheDir, '--out', out], { cwd: proj, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      expect(requestsSince(mark)).toEqual([]);
      expect(await fileSha256(join(out, name))).toBe(ref);
      expect(await readFile(join(out, 'SHA256SUMS'), 'utf8')).toBe(refSums);
      const listing = await readdir(out);
      expect(listing, when).toContain(name);
      expect(
        listing.filter((n) => /xenrel-(tmp|old)-/.test(n)),
        `${when}: leftovers in the output folder`,
      ).toEqual([]);
    }
  }, 300_000);
});
