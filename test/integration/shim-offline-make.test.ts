/**
 * The proof: `make` on a Xen-like tree inside a network namespace with no interfaces.
 * Without xenrel it fails (the fixture really fetches, over git daemon and HTTP on
 * loopback); after `vendor` it succeeds with every fetch served by the shim — also from a
 * release-style tarball, after `make distclean`, and for `make subtree-force-update`.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssri from 'ssri';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Cache } from '../../src/content-cache/cache.js';
import { treeHash } from '../../src/tree/hash.js';
import { walkTree } from '../../src/tree/walk.js';
import type { Lockfile } from '../../src/model/lock.js';
import { vendor } from '../../src/vendoring/vendor.js';
import { canUnshareNet, make, run } from '../helpers/netns.js';
import { BUILD_OUTPUTS, type XenUpstreams, expectedBuilt, type XenVersion } from '../helpers/xen-tree.js';
import { xenFixtureSuite } from '../helpers/xen-fixture-suite.js';

const netns = canUnshareNet();
// In CI the namespace proofs must run: no namespaces there is a failure, not a skip.
test.runIf(!netns && process.env.CI)(
  'CI must be able to make network namespaces (these proofs cannot be skipped there)',
  () => {
    expect(netns).toBe(true);
  },
);

const fx = xenFixtureSuite();
const { tmp, freshTree } = fx;
let up: XenUpstreams;
let cache: Cache;
let lock: Lockfile;
beforeAll(() => void ({ up, cache, lock } = fx));

async function readBuilt(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await readdir(join(dir, 'built')).catch(() => [] as string[])) {
    if (f === 'qemu-configure-args.txt') continue;
    out[f] = await readFile(join(dir, 'built', f), 'utf8');
  }
  return out;
}

interface LogLine {
  tool: string;
  cwd: string;
  call: string;
  outcome: string;
}

async function readLog(file: string): Promise<LogLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [tool, cwd, call, outcome] = l.split('\t');
      return { tool: tool!, cwd: cwd!, call: call!, outcome: outcome! };
    });
}

/** Every component path holds exactly the locked content (plus the build's own outputs). */
async function expectTreesMatchLock(dir: string, names = Object.keys(lock.components)): Promise<void> {
  for (const name of names) {
    const c = lock.components[name]!;
    const abs = join(dir, c.path);
    if ('integrity' in c && c.integrity) {
      await expect(ssri.checkStream(createReadStream(abs), c.integrity), `${name} at ${c.path}`).resolves.toBeTruthy();
    } else {
      const entries = await walkTree(abs, { ignorePaths: BUILD_OUTPUTS[name] ?? [] });
      expect(treeHash(entries), `${name} at ${c.path}`).toBe((c as { tree: string }).tree);
    }
  }
}

const withLog = (dir: string) => ({ XENREL_SHIM_LOG: join(dir, 'shim.log') });

describe.skipIf(!netns)('make in a network namespace', () => {
  test('1. without xenrel the fixture fetches: offline make fails, online make succeeds', async () => {
    const offline = await freshTree();
    const r = await make(offline, [], { netns: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unable to connect|unable to look up|Network is unreachable|failed/i);
    expect(await readBuilt(offline)).toEqual({});

    const online = await freshTree();
    const before = up.httpRequests;
    const ok = await make(online, []);
    expect(ok.stderr).not.toMatch(/xenrel shim/);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readBuilt(online)).toEqual(expectedBuilt(up));
    // All nine tarballs came over HTTP; the git clones over git daemon (checked by content).
    expect(up.httpRequests - before).toBeGreaterThanOrEqual(9);
    await expectTreesMatchLock(online);
  });

  test('2. after vendor, make in the namespace succeeds and builds the locked sources', async () => {
    const dir = await freshTree();
    const res = await vendor(lock, cache, dir);
    expect(res.paths.map((p) => p.action)).toEqual(Object.keys(lock.components).map(() => 'placed'));
    const r = await make(dir, [], { netns: true, env: withLog(dir) });
    expect(r.code, r.stderr).toBe(0);
    expect(await readBuilt(dir)).toEqual(expectedBuilt(up));
    // The .config block reached QEMU's configure.
    expect(await readFile(join(dir, 'built/qemu-configure-args.txt'), 'utf8')).toContain('--disable-download');
    // Everything was in place: make asked the shim for nothing, and nothing was refused.
    const log = await readLog(join(dir, 'shim.log'));
    expect(log.filter((l) => !l.outcome.startsWith('served'))).toEqual([]);
    await expectTreesMatchLock(dir);
  });

  test.each<XenVersion>(['4.22', '4.19'])(
    '3. a release-style tarball (store only) builds offline, git-checkout.sh %s',
    async (xenVersion) => {
      const dir = await freshTree(xenVersion);
      await vendor(lock, cache, dir);
      // Until `xenrel release` exists: the tree minus the materialised paths, as a tar.
      const tarball = join(await tmp.make('xenrel-rel-'), 'xen.tar');
      const excludes = Object.values(lock.components).map((c) => `--exclude=./${c.path}`);
      const t = await run('tar', ['-cf', tarball, ...excludes, '--exclude=./.xenrel/state', '-C', dir, '.'], {
        cwd: dir,
      });
      expect(t.code, t.stderr).toBe(0);
      const fresh = await tmp.make('xenrel-unpacked-');
      expect((await run('tar', ['-xf', tarball, '-C', fresh], { cwd: fresh })).code).toBe(0);
      for (const c of Object.values(lock.components))
        expect(await stat(join(fresh, c.path)).catch(() => undefined)).toBeUndefined();

      const r = await make(fresh, [], { netns: true, env: withLog(fresh) });
      expect(r.code, r.stderr).toBe(0);
      expect(await readBuilt(fresh)).toEqual(expectedBuilt(up));
      const log = await readLog(join(fresh, 'shim.log'));
      expect(log.filter((l) => !l.outcome.startsWith('served'))).toEqual([]);
      // One clone per git component, one fetch per tarball, each served from the store.
      const served = (tool: string, verb: string) =>
        log
          .filter((l) => l.tool === tool && l.call.startsWith(verb))
          .map((l) => l.outcome.split(' ')[1])
          .sort();
      expect(served('git', 'clone ')).toEqual(['mini-os', 'ovmf', 'qemu-xen', 'seabios']);
      expect(served('fetch', '')).toEqual([
        'gmp',
        'grub',
        'ipxe',
        'lwip',
        'newlib',
        'pciutils',
        'polarssl',
        'tpm_emulator',
        'zlib',
      ]);
      if (xenVersion === '4.22') expect(log.filter((l) => l.call.startsWith('fetch origin ')).length).toBe(4);
      else
        expect(
          log.filter((l) => /^checkout -b dummy (rel-|qemu-xen-|xen-RELEASE-|[0-9a-f]{40})/.test(l.call)).length,
        ).toBe(4);
      await expectTreesMatchLock(fresh);
    },
  );

  test('4. make distclean && make in the namespace', async () => {
    const dir = await freshTree();
    await vendor(lock, cache, dir);
    expect((await make(dir, [], { netns: true })).code).toBe(0);
    const dc = await make(dir, ['distclean'], { netns: true });
    expect(dc.code, dc.stderr).toBe(0);
    for (const c of Object.values(lock.components))
      expect(await stat(join(dir, c.path)).catch(() => undefined), c.path).toBeUndefined();
    // .config (and so the shim) survives distclean.
    expect(await readFile(join(dir, '.config'), 'utf8')).toContain('.xenrel/bin/git');

    const r = await make(dir, [], { netns: true, env: withLog(dir) });
    expect(r.code, r.stderr).toBe(0);
    expect(await readBuilt(dir)).toEqual(expectedBuilt(up));
    const log = await readLog(join(dir, 'shim.log'));
    expect(log.length).toBeGreaterThanOrEqual(13);
    expect(log.filter((l) => !l.outcome.startsWith('served'))).toEqual([]);
    await expectTreesMatchLock(dir);
  });

  test('5. a component the Makefiles fetch but the lock lacks: make fails, naming its URL', async () => {
    const { lwip: _l, ...noLwip } = lock.components;
    const dir = await freshTree();
    await vendor({ ...lock, components: noLwip }, cache, dir);
    await rm(join(dir, 'stubdom/lwip-1.3.0.tar.gz'), { force: true });
    const r = await make(dir, [], { netns: true, env: withLog(dir) });
    expect(r.code).not.toBe(0);
    const url = up.tarballs.lwip!.url;
    expect(r.stderr).toContain(
      `xenrel shim: refusing to fetch ${url}: not in .xenrel/xenrel.lock — add it to xenrel.config.yaml and run xenrel lock && xenrel vendor`,
    );
    expect(r.stderr.match(/xenrel shim:/g)).toHaveLength(1);
    expect(await stat(join(dir, 'stubdom/lwip-1.3.0.tar.gz')).catch(() => undefined)).toBeUndefined();

    // A git one: OVMF missing from the lock.
    const { ovmf: _o, ...noOvmf } = lock.components;
    const dir2 = await freshTree();
    await vendor({ ...lock, components: noOvmf }, cache, dir2);
    const r2 = await make(dir2, [], { netns: true, env: withLog(dir2) });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain(`xenrel shim: refusing to fetch ${up.git.ovmf!.url}: not in .xenrel/xenrel.lock`);
    const log = await readLog(join(dir2, 'shim.log'));
    expect(
      log.some((l) => l.outcome.startsWith('refused: refusing to fetch') && l.call.includes(up.git.ovmf!.url)),
    ).toBe(true);
  });

  test('6. make subtree-force-update stays offline and keeps the locked revisions', async () => {
    const dir = await freshTree();
    await vendor(lock, cache, dir);
    expect((await make(dir, [], { netns: true })).code).toBe(0);
    // Local drift in a checked-out source: reset --hard puts the locked file back.
    await writeFile(join(dir, 'tools/firmware/seabios-dir-remote/src/post.c'), 'drifted\n');
    await rm(join(dir, 'extras/mini-os-remote/kernel.c'));
    const r = await make(dir, ['subtree-force-update'], { netns: true, env: withLog(dir) });
    expect(r.code, r.stderr).toBe(0);
    const log = await readLog(join(dir, 'shim.log'));
    expect(log.filter((l) => !l.outcome.startsWith('served'))).toEqual([]);
    const resets = log
      .filter((l) => l.call.startsWith('reset --hard'))
      .map((l) => l.outcome.split(' ')[1])
      .sort();
    expect(resets).toEqual(['mini-os', 'ovmf', 'qemu-xen', 'seabios']);
    expect(log.filter((l) => l.call === 'fetch origin').length).toBe(4);
    await expectTreesMatchLock(dir);
    expect(await readFile(join(dir, 'tools/firmware/seabios-dir-remote/VERSION'), 'utf8')).toBe(
      up.git.seabios!.version,
    );
  });

  test('7. a tampered file in the store: the shim refuses to serve it', async () => {
    const dir = await freshTree();
    await vendor(lock, cache, dir, { materialise: false });
    await appendFile(join(dir, '.xenrel/sources/seabios/src/post.c'), 'evil();\n');
    const r = await make(dir, [], { netns: true, env: withLog(dir) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `xenrel shim: refusing to serve ${up.git.seabios!.url} (rel-1.17.0): .xenrel/sources/seabios content differs from xenrel.lock: modified: src/post.c`,
    );
    // Nothing half-served: no checkout left behind.
    expect(await stat(join(dir, 'tools/firmware/seabios-dir-remote.tmp')).catch(() => undefined)).toBeUndefined();
    expect(await stat(join(dir, 'tools/firmware/seabios-dir-remote')).catch(() => undefined)).toBeUndefined();

    // A tarball: one flipped byte.
    const dir2 = await freshTree();
    await vendor(lock, cache, dir2, { materialise: false });
    const f = join(dir2, '.xenrel/sources/newlib/newlib-1.16.0.tar.gz');
    const bytes = await readFile(f);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 1; // a gzip file is longer than 5 bytes
    await writeFile(f, bytes);
    await mkdir(join(dir2, 'built'), { recursive: true });
    const r2 = await make(dir2, ['-C', 'stubdom', 'newlib-1.16.0.tar.gz'], { netns: true, env: withLog(dir2) });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(
      /xenrel shim: refusing to serve http:\/\/127\.0\.0\.1:\d+\/xen-extfiles\/newlib-1\.16\.0\.tar\.gz: \.xenrel\/sources\/newlib\/newlib-1\.16\.0\.tar\.gz sha512 is [0-9a-f]{128}, xenrel\.lock expects [0-9a-f]{128}/,
    );
    expect(await readdir(join(dir2, 'stubdom'))).toEqual(['Makefile']);
  });
});
