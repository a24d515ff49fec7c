/**
 * `xenrel vendor` and `xenrel clean` as a user runs them (the built CLI), after
 * `xenrel lock`, on the Xen-like fixture tree.
 */
import { appendFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { canUnshareNet, make, run } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { XenUpstreams, expectedBuilt, fixtureConfigYaml, writeXenTree } from '../helpers/xen-tree.js';

const netns = canUnshareNet();
// In CI the namespace proofs must run: no namespaces there is a failure, not a skip.
test.runIf(!netns && process.env.CI)(
  'CI must be able to make network namespaces (these proofs cannot be skipped there)',
  () => {
    expect(netns).toBe(true);
  },
);

const tmp = tempDirs();
let up: XenUpstreams;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  up = await XenUpstreams.create();
  dir = await tmp.make('xenrel-xen-cli-');
  await writeXenTree(dir, up);
  await writeFile(join(dir, 'xenrel.config.yaml'), fixtureConfigYaml(up));
  env = { XENREL_CACHE: await tmp.make('xenrel-cache-') };
  const lock = await runInProcess(['lock'], { cwd: dir, env });
  expect(lock.code, lock.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await up?.cleanup();
  await tmp.cleanup();
});

const xenrel = (...args: string[]) => runInProcess(args, { cwd: dir, env });

describe('xenrel vendor / clean', () => {
  test('vendor fetches what is missing, places everything; a second run has nothing to do', async () => {
    const r = await xenrel('vendor');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('placed seabios at tools/firmware/seabios-dir-remote');
    expect(r.stdout).toMatch(/vendored 13 components/);
    expect(await readFile(join(dir, '.config'), 'utf8')).toContain('override FETCHER := $(XEN_ROOT)/.xenrel/bin/fetch');
    const again = await xenrel('vendor');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('nothing to do: 13 components already vendored and unchanged\n');
  });

  test.skipIf(!netns)('make on the vendored tree builds in a network namespace', async () => {
    const r = await make(dir, [], { netns: true });
    expect(r.code, r.stderr).toBe(0);
    for (const [file, content] of Object.entries(expectedBuilt(up)))
      expect(await readFile(join(dir, 'built', file), 'utf8')).toBe(content);
  });

  test('vendor --check exits 1 naming component and file; vendor restores and says what it replaced', async () => {
    await appendFile(join(dir, '.xenrel/sources/seabios/src/post.c'), 'edit\n');
    await writeFile(join(dir, 'stubdom/zlib-1.2.3.tar.gz'), 'not zlib');
    const check = await xenrel('vendor', '--check');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('seabios: .xenrel/sources/seabios: modified src/post.c\n');
    expect(check.stdout).toContain('zlib: stubdom/zlib-1.2.3.tar.gz: modified zlib-1.2.3.tar.gz\n');
    expect(check.stderr).toContain('error: the vendored tree differs from xenrel.lock: seabios, zlib');
    const json = await xenrel('vendor', '--check', '--json');
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout);
    expect(doc.check.findings.map((f: { name: string }) => f.name)).toEqual(['seabios', 'zlib']);
    // --check changed nothing.
    expect(await readFile(join(dir, 'stubdom/zlib-1.2.3.tar.gz'), 'utf8')).toBe('not zlib');

    const fix = await xenrel('vendor');
    expect(fix.code, fix.stderr).toBe(0);
    expect(fix.stdout).toContain('restored seabios in .xenrel/sources/seabios: modified src/post.c\n');
    expect(fix.stdout).toContain('restored zlib at stubdom/zlib-1.2.3.tar.gz: modified zlib-1.2.3.tar.gz\n');
    expect((await xenrel('vendor', '--check')).code).toBe(0);
  });

  test('a component folder that differs from the lock is restored in one swap, keeping build outputs', async () => {
    const at = join(dir, 'tools/firmware/seabios-dir-remote');
    const locked = (await readdir(at, { recursive: true, withFileTypes: true })).find(
      (d) => d.isFile() && d.name !== 'post.c',
    )!;
    const unchanged = join(locked.parentPath, locked.name);
    await appendFile(join(at, 'src/post.c'), 'edit\n');
    await mkdir(join(at, 'out'), { recursive: true });
    await writeFile(join(at, 'out/bios.bin'), 'a build output\n');
    const before = { dir: (await stat(at)).ino, file: await stat(unchanged) };
    const r = await xenrel('vendor');
    expect(r.code, r.stderr).toBe(0);
    // A new folder renamed into place (a kill leaves the old one or the new one, never a mix)…
    expect((await stat(at)).ino).not.toBe(before.dir);
    // …whose unchanged files are the old inodes (time stamps kept: make rebuilds nothing)…
    const after = await stat(unchanged);
    expect([after.ino, after.mtimeMs]).toEqual([before.file.ino, before.file.mtimeMs]);
    // …with the build output kept and the edit undone.
    expect(await readFile(join(at, 'out/bios.bin'), 'utf8')).toBe('a build output\n');
    expect(await readFile(join(at, 'src/post.c'), 'utf8')).toBe(
      await readFile(join(dir, '.xenrel/sources/seabios/src/post.c'), 'utf8'),
    );
    expect((await xenrel('vendor', '--check')).code).toBe(0);
  });

  test('verify DIR checks the copies make builds from, as vendor --check does; build outputs pass', async () => {
    const at = 'tools/firmware/seabios-dir-remote';
    // The tree as vendored, built and with a build output inside a copy.
    for (const args of [[], ['--lock', 'xenrel.lock']]) {
      const ok = await xenrel('verify', '.', ...args);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    }
    expect((await xenrel('vendor', '--check')).code).toBe(0);

    await appendFile(join(dir, at, 'src/post.c'), 'edit\n');
    await rm(join(dir, at, 'scripts/kconfig/link'));
    for (const args of [[], ['--lock', 'xenrel.lock']]) {
      const r = await xenrel('verify', '.', ...args, '--json');
      expect(r.code, r.stdout).toBe(1);
      const sb = JSON.parse(r.stdout).verify.components.find((c: { name: string }) => c.name === 'seabios');
      expect(sb).toMatchObject({
        status: 'modified',
        modified: [`${at}/src/post.c`],
        missing: [`${at}/scripts/kconfig/link`],
      });
    }
    const text = await xenrel('verify', '.');
    expect(text.stdout).toContain(
      `modified seabios  .xenrel/sources/seabios (the copy at ${at}, which the build reads)`,
    );
    expect(text.stdout).toContain(`    modified ${at}/src/post.c\n`);
    // The same verdict as vendor --check, the command that placed the copy.
    const check = await xenrel('vendor', '--check');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`seabios: ${at}: modified src/post.c; missing scripts/kconfig/link`);

    expect((await xenrel('vendor')).code).toBe(0);
    expect((await xenrel('verify', '.')).code).toBe(0);
  });

  test.skipIf(!netns)(
    'a real release tarball, extracted in a fresh folder, builds in a network namespace',
    async () => {
      const src = await tmp.make('xenrel-xen-rel-');
      await writeXenTree(src, up);
      await writeFile(join(src, 'xenrel.config.yaml'), fixtureConfigYaml(up));
      const out = await tmp.make('xenrel-dist-');
      const cli = (...args: string[]) => runInProcess(args, { cwd: src, env });
      expect((await cli('lock')).code).toBe(0);
      const rel = await cli('release', '--prefix', 'xen-fixture', '--out', out);
      expect(rel.code, rel.stderr).toBe(0);
      const fresh = await tmp.make('xenrel-unpacked-');
      expect((await run('tar', ['-xzf', join(out, 'xen-fixture.tar.gz'), '-C', fresh], { cwd: fresh })).code).toBe(0);
      const tree = join(fresh, 'xen-fixture');
      // One copy of each component: in the store, not at the paths make fetches into.
      expect(await stat(join(tree, 'tools/firmware/seabios-dir-remote')).catch(() => undefined)).toBeUndefined();
      expect(await stat(join(tree, '.xenrel/sources/seabios/src/post.c'))).toBeTruthy();
      const log = join(fresh, 'shim.log');
      const r = await make(tree, [], { netns: true, env: { XENREL_SHIM_LOG: log } });
      expect(r.code, r.stderr).toBe(0);
      for (const [file, content] of Object.entries(expectedBuilt(up)))
        expect(await readFile(join(tree, 'built', file), 'utf8')).toBe(content);
      const lines = (await readFile(log, 'utf8')).trim().split('\n');
      expect(lines.filter((l) => !l.split('\t')[3]!.startsWith('served'))).toEqual([]);
      expect(lines.filter((l) => /\tclone /.test(l))).toHaveLength(4);
      expect(lines.filter((l) => l.startsWith('fetch\t'))).toHaveLength(9);
    },
  );

  test('vendor --without prints the configure option; clean undoes vendor and leaves the cache', async () => {
    const w = await xenrel('vendor', '--without', 'qemu-xen');
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain('qemu-xen left out: configure Xen with --with-system-qemu:');
    const bad = await xenrel('vendor', '--without', 'seabois');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('did you mean "seabios"');

    const c = await xenrel('clean');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/cleaned: \d+ path\(s\) removed, \.config block removed; the cache is untouched/);
    expect(await stat(join(dir, '.xenrel')).catch(() => undefined)).toBeUndefined();
    expect(await stat(join(dir, '.config')).catch(() => undefined)).toBeUndefined();
    expect(await stat(join(dir, 'tools/firmware/seabios-dir-remote')).catch(() => undefined)).toBeUndefined();
    expect((await xenrel('clean')).stdout).toBe('nothing to clean: the tree has nothing vendor placed\n');
    // Everything comes back from the cache alone.
    const back = await xenrel('vendor', '--offline');
    expect(back.code, back.stderr).toBe(0);
  });
});
