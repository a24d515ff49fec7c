/**
 * Disk full for `vendor` and `release`, the
 * fetch being done: the tree or output folder sits on a small real tmpfs, mounted in a
 * private mount namespace (`unshare -rm`) around one CLI run. Expected: exit 3 with
 * E_NOSPACE ("no space left on device"), no stack trace, and nothing that was there before
 * lost — each vendored component still entirely old or new, an earlier release untouched.
 * The tmpfs lives only inside the namespace, so the script copies what it saw back out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { recordOutcome } from '../helpers/outcome.js';
import {
  CLI,
  canMountTmpfs,
  commitProject,
  createWorld,
  fileSha256,
  makeProject,
  readLockIfAny,
  runXenrel,
  type HardeningWorld,
} from '../helpers/hardening.js';
import { hashDir } from '../../src/tree/walk.js';
import { isLockedGit } from '../../src/model/kind.js';
import type { Lockfile } from '../../src/model/lock.js';

const tmp = tempDirs();
let w: HardeningWorld;
let env: NodeJS.ProcessEnv;
let cacheDir: string;
const can = canMountTmpfs();

beforeAll(async () => {
  if (!can) return;
  w = await createWorld(await tmp.make('xenrel-world-'), { bigBytes: 2 * 1024 * 1024, files: 100 });
  env = w.fx.env;
  cacheDir = await tmp.make('xenrel-cache-');
}, 120_000);

afterAll(async () => {
  await w?.close();
  await tmp.cleanup();
});

/** Runs `script` (sh) in a private mount namespace with a tmpfs of `size` at $MNT. */
function inNamespace(mnt: string, size: string, script: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=${size} tmpfs "$MNT" && ${script}`], {
    env: { ...process.env, ...env, ...extraEnv, MNT: mnt, NODE: process.execPath, CLI, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
}

/** Disk usage in bytes (blocks, as a tmpfs counts them). */
const duBytes = (dir: string) =>
  1024 * Number(spawnSync('du', ['-sk', dir], { encoding: 'utf8' }).stdout.split('\t')[0]);

describe.skipIf(!can)('disk full', () => {
  it('vendor: exit 3, E_NOSPACE, every component still old or new; with space the rerun completes', async () => {
    const template = join(await tmp.make('xenrel-vendor-'), 'tree');
    await makeProject(template, w.config('v1'));
    const run = (dir: string, args: string[]) => runXenrel([...args, '--cache', cacheDir], { cwd: dir, env });
    expect((await run(template, ['lock'])).code).toBe(0);
    expect((await run(template, ['vendor'])).code).toBe(0);
    const v1 = (await readLockIfAny(join(template, 'xenrel.lock')))!;
    await writeFile(join(template, 'xenrel.config.yaml'), w.config('v2', { bigPath: '/dl/big-2.0.tar.gz' }));
    expect((await run(template, ['lock'])).code).toBe(0);
    expect((await run(template, ['fetch'])).code).toBe(0);
    const v2 = (await readLockIfAny(join(template, 'xenrel.lock')))!;
    const lockText = await readFile(join(template, 'xenrel.lock'), 'utf8');

    const mnt = await tmp.make('xenrel-tmpfs-');
    const outside = await tmp.make('xenrel-seen-');
    // Room for the old tree plus a little: the new big tarball cannot be staged.
    const size = `${Math.ceil((duBytes(template) + 1024 * 1024) / 4096) * 4}k`;
    inNamespace(
      mnt,
      size,
      `cp -a "$TEMPLATE" "$MNT/tree" && cd "$MNT/tree" && { "$NODE" "$CLI" vendor --cache "$CACHE" >"$OUT/stdout" 2>"$OUT/stderr"; echo $? >"$OUT/rc"; } && cp -a "$MNT/tree" "$OUT/tree"`,
      { TEMPLATE: template, CACHE: cacheDir, OUT: outside },
    );
    const rc = Number(await readFile(join(outside, 'rc'), 'utf8'));
    const stderr = await readFile(join(outside, 'stderr'), 'utf8');
    recordOutcome('vendor: no space left on device', rc);
    expect(rc, stderr).toBe(3);
    expect(stderr).toMatch(/error: .*no space left on device/);
    expect(stderr).toContain('hint: free some disk space');
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace

    const after = join(outside, 'tree');
    expect(await readFile(join(after, 'xenrel.lock'), 'utf8')).toBe(lockText);
    await expectOldOrNew(after, v1, v2);
    for (const dir of ['.xenrel/sources', 'tools/firmware', 'stubdom'])
      expect(
        (await readdir(join(after, dir))).filter((n) => /xenrel-tmp-/.test(n)),
        `staging left in ${dir}`,
      ).toEqual([]);

    // With space again, the same tree completes.
    const again = await runXenrel(['vendor', '--cache', cacheDir], { cwd: after, env });
    expect(again.code, again.stderr).toBe(0);
    expect((await runXenrel(['vendor', '--check'], { cwd: after, env })).code).toBe(0);
  }, 300_000);

  it('release: exit 3, E_NOSPACE, an earlier release and SHA256SUMS untouched, nothing under the new name', async () => {
    const proj = await makeProject(join(await tmp.make('xenrel-rel-'), 'xen'), w.config('v1'));
    expect((await runXenrel(['lock', '--cache', cacheDir], { cwd: proj, env })).code).toBe(0);
    expect((await runXenrel(['fetch', '--cache', cacheDir], { cwd: proj, env })).code).toBe(0);
    commitProject(proj, env);
    const before = await tmp.make('xenrel-out-before-');
    const old = Buffer.from('an earlier release\n');
    await writeFile(join(before, 'xen-4.21.0.tar.gz'), old);
    const sums = `${createHash('sha256').update(old).digest('hex')}  xen-4.21.0.tar.gz\n`;
    await writeFile(join(before, 'SHA256SUMS'), sums);

    for (const where of ['out', 'tmpdir'] as const) {
      const mnt = await tmp.make('xenrel-tmpfs-');
      const outside = await tmp.make('xenrel-seen-');
      await mkdir(join(outside, 'out'));
      // out: the output folder is on the small disk; tmpdir: the staging folder is. Only
      // xenrel's own files are staged (components stream from the cache): 8 KiB is too little.
      const outDir = where === 'out' ? '$MNT/out' : '$OUT/out';
      const tmpDir = where === 'tmpdir' ? '$MNT/tmp' : '$OUT';
      inNamespace(
        mnt,
        where === 'out' ? '1m' : '8k',
        `mkdir -p "$MNT/tmp" && cp -a "$BEFORE" "$MNT/out" && cp -a "$BEFORE/." "$OUT/out/" && cd "$PROJ" && { TMPDIR="${tmpDir}" "$NODE" "$CLI" release --cache "$CACHE" --out "${outDir}" >"$OUT/stdout" 2>"$OUT/stderr"; echo $? >"$OUT/rc"; } && ls -A "$MNT/tmp" >"$OUT/tmp-left" && rm -rf "$OUT/seen" && cp -a "${outDir}" "$OUT/seen"`,
        { BEFORE: before, PROJ: proj, CACHE: cacheDir, OUT: outside },
      );
      const rc = Number(await readFile(join(outside, 'rc'), 'utf8'));
      const stderr = await readFile(join(outside, 'stderr'), 'utf8');
      recordOutcome(
        `release (${where} full): ${/no space left on device/.test(stderr) ? 'no space left on device' : stderr.split('\n')[0]}`,
        rc,
      );
      expect(rc, `${where}: ${stderr}`).toBe(3);
      expect(stderr, where).toMatch(/no space left on device/);
      expect(stderr).not.toMatch(/\n\s+at /);
      const seen = join(outside, 'seen');
      expect((await readdir(seen)).sort(), `${where}: output folder`).toEqual(['SHA256SUMS', 'xen-4.21.0.tar.gz']);
      expect(await readFile(join(seen, 'SHA256SUMS'), 'utf8')).toBe(sums);
      expect(await fileSha256(join(seen, 'xen-4.21.0.tar.gz'))).toBe(createHash('sha256').update(old).digest('hex'));
      // The failed run removed its staging folder.
      expect((await readFile(join(outside, 'tmp-left'), 'utf8')).trim(), `${where}: staging left`).toBe('');
    }
  }, 300_000);
});

async function expectOldOrNew(tree: string, v1: Lockfile, v2: Lockfile) {
  for (const [name, c] of Object.entries(v2.components)) {
    const a = v1.components[name]!;
    for (const abs of [
      join(tree, '.xenrel/sources', name, isLockedGit(c) ? '' : c.path.split('/').pop()!),
      join(tree, c.path),
    ]) {
      if (isLockedGit(c) && isLockedGit(a)) {
        const h = (await hashDir(abs)).hash;
        expect([a.tree, c.tree], `${abs}`).toContain(h);
      } else {
        const got = `sha512-${createHash('sha512')
          .update(await readFile(abs))
          .digest('base64')}`;
        expect([(a as { integrity: string }).integrity, (c as { integrity: string }).integrity], abs).toContain(got);
      }
    }
  }
}
