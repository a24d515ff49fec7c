/**
 * The vendor stage as a library: idempotence, restoring local edits (naming them),
 * --check, --without, clean, and a vendor killed mid-run.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import { serializeLock } from '../../src/lock/lockfile.js';
import { treeHash } from '../../src/tree/hash.js';
import { walkTree } from '../../src/tree/walk.js';
import type { Lockfile } from '../../src/model/lock.js';
import { BLOCK_BEGIN, BLOCK_END } from '../../src/vendoring/config-block.js';
import { clean, vendor, vendorCheck } from '../../src/vendoring/vendor.js';
import { run } from '../helpers/netns.js';
import type { XenUpstreams } from '../helpers/xen-tree.js';
import { xenFixtureSuite } from '../helpers/xen-fixture-suite.js';

const ROOT = join(import.meta.dirname, '..', '..');
const fx = xenFixtureSuite();
const { tmp, freshTree } = fx;
let up: XenUpstreams;
let cache: Cache;
let lock: Lockfile;
beforeAll(() => void ({ up, cache, lock } = fx));

/** Every file and symlink under `dir` with its content hash: a snapshot to compare. */
async function snapshot(dir: string, ignore: string[] = []): Promise<Record<string, string>> {
  const entries = await walkTree(dir, { ignoreNames: [], ignorePaths: ignore });
  return Object.fromEntries(entries.map((e) => [e.path, `${e.mode} ${e.sha256}`]));
}

describe('vendor', () => {
  test('places store, shim, lock copy, .config block and paths; a second run has nothing to do', async () => {
    const dir = await freshTree();
    const first = await vendor(lock, cache, dir);
    expect(first.nothingToDo).toBe(false);
    expect(first.store.map((r) => r.action)).toEqual(Object.keys(lock.components).map(() => 'placed'));
    expect(first.config).toBe(true);
    expect(first.shim).toEqual(
      expect.arrayContaining(['.xenrel/bin/git', '.xenrel/bin/fetch', '.xenrel/shim.tsv', '.xenrel/xenrel.lock']),
    );
    for (const [name, c] of Object.entries(lock.components)) {
      if ('tree' in c && 'git' in c) expect(treeHash(await walkTree(join(dir, '.xenrel/sources', name)))).toBe(c.tree);
      else expect(await readdir(join(dir, '.xenrel/sources', name))).toEqual([c.path.split('/').pop()]);
    }
    expect(await readFile(join(dir, '.xenrel/xenrel.lock'), 'utf8')).toBe(serializeLock(lock));
    const config = await readFile(join(dir, '.config'), 'utf8');
    const g = up.git;
    const extfiles = up.extfilesUrl;
    expect(config).toBe(
      [
        BLOCK_BEGIN,
        'override GIT := $(XEN_ROOT)/.xenrel/bin/git',
        'override FETCHER := $(XEN_ROOT)/.xenrel/bin/fetch',
        'CONFIG_QEMUU_EXTRA_ARGS += --disable-download',
        "# The locked pins (xenrel.lock); make XENREL_TREE_PINS=y shows the tree's own.",
        'ifneq ($(XENREL_TREE_PINS),y)',
        `override GMP_URL := ${extfiles}`,
        // The fixture calls it grub; xenrel knows the path as grub-legacy's.
        `override GRUB_URL := ${extfiles}`,
        `override IPXE_TARBALL_URL := ${up.tarballs.ipxe!.url}`,
        `override LWIP_URL := ${extfiles}`,
        `override MINIOS_UPSTREAM_URL := ${g['mini-os']!.url}`,
        `override MINIOS_UPSTREAM_REVISION := ${g['mini-os']!.ref}`,
        `override NEWLIB_URL := ${extfiles}`,
        `override OVMF_UPSTREAM_URL := ${g.ovmf!.url}`,
        `override OVMF_UPSTREAM_REVISION := ${g.ovmf!.ref}`,
        `override LIBPCI_URL := ${extfiles}`,
        `override POLARSSL_URL := ${extfiles}`,
        `override QEMU_UPSTREAM_URL := ${g['qemu-xen']!.url}`,
        `override QEMU_UPSTREAM_REVISION := ${g['qemu-xen']!.ref}`,
        `override SEABIOS_UPSTREAM_URL := ${g.seabios!.url}`,
        `override SEABIOS_UPSTREAM_REVISION := ${g.seabios!.ref}`,
        `override TPMEMU_URL := ${extfiles}`,
        `override ZLIB_URL := ${extfiles}`,
        'endif',
        BLOCK_END,
        '',
      ].join('\n'),
    );

    const before = await snapshot(dir);
    const second = await vendor(lock, cache, dir);
    expect(second.nothingToDo).toBe(true);
    expect(second.shim).toEqual([]);
    expect(await snapshot(dir)).toEqual(before);
    expect((await vendorCheck(lock, dir)).ok).toBe(true);
  });

  test('after local edits, vendor restores the locked content and names what it replaced', async () => {
    const dir = await freshTree();
    await vendor(lock, cache, dir);
    await appendFile(join(dir, '.xenrel/sources/seabios/src/post.c'), 'edit\n');
    await rm(join(dir, '.xenrel/sources/mini-os/kernel.c'));
    await writeFile(join(dir, '.xenrel/sources/qemu-xen/added.c'), 'extra\n');
    await writeFile(join(dir, 'stubdom/zlib-1.2.3.tar.gz'), 'not zlib');
    await writeFile(join(dir, 'tools/qemu-xen-dir-remote/hw/xen/xen-hvm.c'), 'patched by hand\n');
    await writeFile(join(dir, 'tools/qemu-xen-dir-remote/build-output.o'), 'object\n');

    const res = await vendor(lock, cache, dir);
    expect(res.nothingToDo).toBe(false);
    const store = Object.fromEntries(res.store.filter((r) => r.action !== 'unchanged').map((r) => [r.name, r]));
    expect(Object.keys(store).sort()).toEqual(['mini-os', 'qemu-xen', 'seabios']);
    expect(store.seabios!.action).toBe('restored');
    expect(store.seabios!.diff).toEqual({ modified: ['src/post.c'], missing: [], extra: [] });
    expect(store['mini-os']!.diff).toEqual({ modified: [], missing: ['kernel.c'], extra: [] });
    expect(store['qemu-xen']!.diff).toEqual({ modified: [], missing: [], extra: ['added.c'] });
    const paths = Object.fromEntries(res.paths.filter((p) => p.action !== 'unchanged').map((p) => [p.name, p]));
    expect(Object.keys(paths).sort()).toEqual(['qemu-xen', 'zlib']);
    expect(paths.zlib!.diff!.modified).toEqual(['zlib-1.2.3.tar.gz']);
    expect(paths['qemu-xen']!.diff).toEqual({ modified: ['hw/xen/xen-hvm.c'], missing: [], extra: [] });
    // A file the lock does not name in a working copy (a build output) stays.
    expect(await readFile(join(dir, 'tools/qemu-xen-dir-remote/build-output.o'), 'utf8')).toBe('object\n');
    expect(await readFile(join(dir, 'stubdom/zlib-1.2.3.tar.gz'))).toEqual(up.tarballs.zlib!.bytes);
    const check = await vendorCheck(lock, dir);
    expect(check.ok).toBe(true);
    expect(check.untracked).toEqual(['tools/qemu-xen-dir-remote/build-output.o']);
  });

  test('--check exits 1 naming each component and file, and changes nothing', async () => {
    const dir = await freshTree();
    await vendor(lock, cache, dir);
    await appendFile(join(dir, '.xenrel/sources/seabios/src/post.c'), 'edit\n');
    await writeFile(join(dir, '.xenrel/sources/seabios/new.c'), 'new\n');
    await rm(join(dir, '.xenrel/sources/ovmf/OvmfPkg/README'));
    await rm(join(dir, 'extras/mini-os-remote/Config.mk'));
    await rm(join(dir, '.xenrel/sources/gmp'), { recursive: true });
    await writeFile(join(dir, '.xenrel/bin/fetch'), '#!/bin/sh\nwget "$@"\n');
    await rm(join(dir, 'tools/firmware/seabios-dir-remote'), { recursive: true });
    const before = await snapshot(dir);

    const res = await vendorCheck(lock, dir);
    expect(res.ok).toBe(false);
    const by = (name: string) => res.findings.filter((f) => f.name === name);
    expect(by('seabios')).toEqual([
      {
        name: 'seabios',
        where: '.xenrel/sources/seabios',
        problem: 'differs',
        diff: { modified: ['src/post.c'], missing: [], extra: ['new.c'] },
      },
    ]);
    expect(by('ovmf')).toEqual([
      {
        name: 'ovmf',
        where: '.xenrel/sources/ovmf',
        problem: 'differs',
        diff: { modified: [], missing: ['OvmfPkg/README'], extra: [] },
      },
    ]);
    expect(by('mini-os')).toEqual([
      {
        name: 'mini-os',
        where: 'extras/mini-os-remote',
        problem: 'differs',
        diff: { modified: [], missing: ['Config.mk'], extra: [] },
      },
    ]);
    expect(by('gmp')).toEqual([{ name: 'gmp', where: '.xenrel/sources/gmp/gmp-4.3.2.tar.bz2', problem: 'missing' }]);
    expect(by('(shim)')).toEqual([{ name: '(shim)', where: '.xenrel/bin/fetch', problem: 'differs' }]);
    expect(res.notMaterialised).toEqual(['tools/firmware/seabios-dir-remote']);
    expect(await snapshot(dir)).toEqual(before);
  });

  test('--without leaves a component out; the shim refuses it; the configure flag is named', async () => {
    const dir = await freshTree();
    await vendor(lock, cache, dir);
    const res = await vendor(lock, cache, dir, { without: ['qemu-xen', 'grub'] });
    expect(res.store.find((r) => r.name === 'qemu-xen')!.action).toBe('removed');
    expect(res.removedPaths.sort()).toEqual(['stubdom/grub-0.97.tar.gz', 'tools/qemu-xen-dir-remote']);
    expect(res.advice).toEqual([
      "qemu-xen left out: configure Xen with --with-system-qemu: use the distribution's qemu-system-i386 (or --with-system-qemu=PATH)",
      'grub left out: configure Xen with --disable-pv-grub: needed only by the grub stub domain(s)',
    ]);
    expect(await stat(join(dir, '.xenrel/sources/qemu-xen')).catch(() => undefined)).toBeUndefined();
    // QEMU is not built from the tree any more: no --disable-download for it.
    expect(await readFile(join(dir, '.config'), 'utf8')).not.toContain('--disable-download');
    const r = await run(join(dir, '.xenrel/bin/git'), ['clone', up.git['qemu-xen']!.url, 'qemu-xen-dir-remote.tmp'], {
      cwd: join(dir, 'tools'),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `xenrel shim: refusing to fetch ${up.git['qemu-xen']!.url}: component qemu-xen was left out on purpose`,
    );
    expect((await vendorCheck(lock, dir)).ok).toBe(true);
    // Vendoring it again brings it back.
    const back = await vendor(lock, cache, dir);
    expect(back.store.find((x) => x.name === 'qemu-xen')!.action).toBe('placed');
    expect(await readFile(join(dir, '.config'), 'utf8')).toContain('--disable-download');
  });

  test('an unknown --without name is a usage error with a suggestion', async () => {
    const dir = await freshTree();
    await expect(vendor(lock, cache, dir, { without: ['seabois'] })).rejects.toMatchObject({
      code: 'E_UNKNOWN_COMPONENT',
      exitCode: 2,
      message: expect.stringContaining('did you mean "seabios"'),
    });
  });

  test('a component the cache lacks: error naming it, nothing placed for it', async () => {
    const dir = await freshTree();
    const emptyCache = new Cache(await tmp.make('xenrel-empty-cache-'));
    await expect(
      vendor({ ...lock, components: { seabios: lock.components.seabios! } }, emptyCache, dir),
    ).rejects.toMatchObject({
      code: 'E_OFFLINE_MISSING',
      message: expect.stringContaining('seabios'),
    });
    expect(await readdir(join(dir, '.xenrel/sources'))).toEqual([]);
  });

  test("clean removes exactly what vendor placed; the user's .config lines and the cache stay", async () => {
    const dir = await freshTree();
    const userConfig = 'debug := y\n# my settings\nGIT = /opt/git/bin/git\nQEMU_UPSTREAM_URL = file:///srv/qemu.git'; // no final newline
    await writeFile(join(dir, '.config'), userConfig);
    await writeFile(join(dir, 'stubdom/my-notes.txt'), 'keep me\n');
    const before = await snapshot(dir);
    const cacheBefore = await snapshot(cache.root, ['locks/']);
    await vendor(lock, cache, dir);
    const config = await readFile(join(dir, '.config'), 'utf8');
    expect(config.startsWith(`${userConfig}\n# BEGIN xenrel`)).toBe(true);

    const res = await clean(dir);
    expect(res.config).toBe(true);
    expect(res.removed).toEqual(
      expect.arrayContaining([
        'tools/qemu-xen-dir-remote',
        'stubdom/newlib-1.16.0.tar.gz',
        '.xenrel/sources',
        '.xenrel/bin',
      ]),
    );
    expect(await readFile(join(dir, '.config'), 'utf8')).toBe(userConfig);
    expect(await stat(join(dir, '.xenrel')).catch(() => undefined)).toBeUndefined();
    expect(await snapshot(dir)).toEqual(before);
    expect(await snapshot(cache.root, ['locks/'])).toEqual(cacheBefore);
    // Nothing left: a second clean says so.
    expect(await clean(dir)).toEqual({ removed: [], config: false });
  });

  test('clean after --without keeps the paths vendor did not place', async () => {
    const dir = await freshTree();
    await mkdir(join(dir, 'tools/qemu-xen-dir-remote'), { recursive: true });
    await writeFile(join(dir, 'tools/qemu-xen-dir-remote/distro-qemu.txt'), "the distribution's\n");
    await vendor(lock, cache, dir, { without: ['qemu-xen'] });
    await clean(dir);
    expect(await readFile(join(dir, 'tools/qemu-xen-dir-remote/distro-qemu.txt'), 'utf8')).toBe("the distribution's\n");
    expect(await stat(join(dir, '.config')).catch(() => undefined)).toBeUndefined();
  });

  test('a git checkout at a component path that differs is not overwritten', async () => {
    const dir = await freshTree();
    const p = join(dir, 'tools/firmware/seabios-dir-remote');
    await mkdir(join(p, '.git'), { recursive: true });
    await writeFile(join(p, 'mine.c'), 'my work\n');
    await expect(vendor(lock, cache, dir)).rejects.toMatchObject({
      code: 'E_PATH_IN_USE',
      message: expect.stringContaining('tools/firmware/seabios-dir-remote is a git checkout'),
    });
    expect(await readFile(join(p, 'mine.c'), 'utf8')).toBe('my work\n');
  });

  test('a vendor killed mid-run leaves each component old or complete; the next run completes', async () => {
    const names = Object.keys(lock.components).sort();
    const lockFile = join(await tmp.make('xenrel-lockfile-'), 'xenrel.lock');
    await writeFile(lockFile, serializeLock(lock));
    for (const killAt of [1, 3, 6, 9, 12]) {
      const dir = await freshTree();
      const out = await new Promise<string>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join(ROOT, 'test/helpers/vendor-child.ts'), lockFile, cache.root, dir],
          {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let text = '';
        let starts = 0;
        child.stdout.on('data', (d: Buffer) => {
          text += d;
          starts = (text.match(/^start /gm) ?? []).length;
          // Kill at the Nth component, sometimes a few milliseconds into it.
          if (starts >= killAt) setTimeout(() => child.kill('SIGKILL'), (killAt % 3) * 4);
        });
        child.on('close', () => resolve(text));
      });
      expect(out, `killed at ${killAt}`).not.toContain('done');
      // Whatever is under a final name is complete.
      for (const name of names) {
        const c = lock.components[name]!;
        const storeDir = join(dir, '.xenrel/sources', name);
        if (!(await stat(storeDir).catch(() => undefined))) continue;
        if ('git' in c) expect(treeHash(await walkTree(storeDir)), `${name} after kill at ${killAt}`).toBe(c.tree);
        else {
          const files = await readdir(storeDir);
          expect(files).toEqual([c.path.split('/').pop()]);
          const bytes = await readFile(join(storeDir, files[0]!));
          expect(createHash('sha512').update(bytes).digest('base64'), name).toBe(
            (c as { integrity: string }).integrity.slice('sha512-'.length),
          );
        }
      }
      const again = await vendor(lock, cache, dir);
      expect(again.store.every((r) => r.action !== 'restored')).toBe(true);
      expect((await vendorCheck(lock, dir)).ok).toBe(true);
      expect((await readdir(join(dir, '.xenrel/sources'))).filter((n) => n.startsWith('.'))).toEqual([]);
    }
  }, 120_000);
});
