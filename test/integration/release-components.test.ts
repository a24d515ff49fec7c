/**
 * Components go into a release straight from the cache: a git component's commit from its
 * mirror, a tarball's bytes from the content store, none copied to $TMPDIR first. What GNU
 * tar extracts under `.xenrel/sources/` is compared with what `xenrel vendor` places (the
 * store the shim serves from), and with a `git clone --recurse-submodules` of the pinned commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { canMountTmpfs } from '../helpers/hardening.js';
import { createHash, randomBytes } from 'node:crypto';
import type { TestRepo } from '../helpers/git-repos.js';
import { SourcesWorld } from '../helpers/sources-project.js';
import { extractWith } from '../helpers/tar-oracle.js';
import { hashDir } from '../../src/tree/walk.js';
import { readBlobHashes, writeBlobHashes } from '../../src/release/blob-hash-cache.js';

let w: SourcesWorld;
let firmware: TestRepo;
const blob = randomBytes(3 * 1024 * 1024);

beforeAll(async () => {
  w = await SourcesWorld.create();
  // Incompressible, so a copy of it cannot fit in the 1 MiB $TMPDIR below; it sits in a
  // submodule, a nested source the lock pins on its own.
  const roms = await w.fx.repo('roms', { files: { 'ipxe.bin': blob } });
  await roms.commit('roms');
  firmware = await w.fx.repo('firmware', {
    files: {
      'util/mkrom.sh': { content: '#!/bin/sh\n', exec: true },
      'util/rom.link': { symlink: '../roms/ipxe.bin' },
      // A name that is a prefix of a folder's: archive order and tree-hash order differ here.
      'include/arch-arm.h': '/* arm */\n',
      'include/arch-arm/save.h': '/* save */\n',
    },
  });
  // A submodule pinned to a commit with no files: vendor places an empty folder.
  const empty = await w.fx.repo('empty', { files: {} });
  await empty.commit('nothing yet');
  await firmware.commit('firmware');
  await firmware.addSubmodule('roms', roms);
  await firmware.addSubmodule('util/empty', empty);
  await firmware.commit('add roms');
  await firmware.tag('v1.0', { annotated: true });
}, 120_000);

afterAll(async () => {
  await w?.cleanup();
});

/** The world's project plus the firmware component, locked and fetched. */
async function project(): Promise<string> {
  const dir = await w.project();
  const config = await readFile(join(dir, 'xenrel.config.yaml'), 'utf8');
  await writeFile(
    join(dir, 'xenrel.config.yaml'),
    `${config}  ipxe:\n    git: ${firmware.url}\n    ref: v1.0\n    path: tools/firmware/etherboot/ipxe\n`,
  );
  for (const cmd of ['lock', 'fetch']) {
    const r = await w.cli(dir, [cmd]);
    expect(r.code, r.stderr).toBe(0);
  }
  return dir;
}

function extracted(tarball: string): string {
  const into = `${tarball}.gnu`;
  const r = extractWith('gnu', tarball, into);
  expect(r.exit, r.stderr).toBe(0);
  return join(into, 'xen-4.22.0');
}

describe('release: components from the cache', () => {
  it('holds each component as vendor places it and as git checks it out with its submodule, per GNU tar', async () => {
    const dir = await project();
    const r = await w.cli(dir, ['release', '--out', 'out']);
    expect(r.code, r.stderr).toBe(0);
    const top = extracted(join(dir, 'out', 'xen-4.22.0.tar.gz'));
    const v = await w.cli(dir, ['vendor']);
    expect(v.code, v.stderr).toBe(0);
    const lock = JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8'));
    for (const name of ['ipxe', 'seabios', 'qemu-xen', 'newlib']) {
      const inTarball = await hashDir(join(top, '.xenrel/sources', name));
      const vendored = await hashDir(join(dir, '.xenrel/sources', name));
      expect(inTarball.hash, name).toBe(vendored.hash);
      expect(inTarball.entries, name).toEqual(vendored.entries);
    }
    expect(Object.keys(lock.components.ipxe.children).sort()).toEqual(['roms', 'util/empty']);
    // Every entry of the tarball's store, empty folders included, is what vendor placed.
    const listing = (root: string) =>
      execFileSync('find', ['.', '-mindepth', '1', '-printf', '%y %m %P\n'], { cwd: root, encoding: 'utf8' })
        .split('\n')
        .sort();
    expect(listing(join(top, '.xenrel/sources'))).toEqual(listing(join(dir, '.xenrel/sources')));
    expect(listing(join(top, '.xenrel/sources'))).toContain('d 755 ipxe/util/empty');
    expect((await hashDir(join(top, '.xenrel/sources/ipxe'))).hash).toBe(lock.components.ipxe.vendoredTree);
    // git's own view: the commit with its submodule checked out at the pinned commit.
    const clone = join(dir, 'ipxe-clone');
    execFileSync('git', ['clone', '-q', '--recurse-submodules', '-b', 'v1.0', firmware.url, clone], {
      env: { ...process.env, ...w.env },
      stdio: 'ignore',
    });
    const checkout = (await hashDir(clone)).entries.filter((e) => e.path !== '.git' && !e.path.endsWith('/.git'));
    expect((await hashDir(join(top, '.xenrel/sources/ipxe'))).entries).toEqual(checkout);
    expect(await readFile(join(top, '.xenrel/sources/newlib/newlib-1.16.0.tar.gz'))).toEqual(w.newlibTgz);
  });

  it.runIf(canMountTmpfs())('works with a $TMPDIR smaller than one component', async () => {
    const dir = await project();
    const mnt = join(dir, 'small-tmp');
    await mkdir(mnt);
    const script = `mount -t tmpfs -o size=1m tmpfs "$MNT" && TMPDIR="$MNT" "$NODE" "$CLI" release --out out --cache "$CACHE"`;
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], {
      cwd: dir,
      env: { ...process.env, ...w.env, MNT: mnt, NODE: process.execPath, CLI, CACHE: w.cacheDir, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const top = extracted(join(dir, 'out', 'xen-4.22.0.tar.gz'));
    // Buffer.equals: a deep toEqual walks 3 million elements.
    expect((await readFile(join(top, '.xenrel/sources/ipxe/roms/ipxe.bin'))).equals(blob)).toBe(true);
  });

  it('a wrong size in the blob-hash cache fails the release once, and the cache is dropped', async () => {
    const dir = await project();
    const oid = execFileSync('git', ['-C', firmware.dir, 'rev-parse', 'v1.0:util/mkrom.sh'], {
      encoding: 'utf8',
    }).trim();
    const sum = execFileSync('sh', ['-c', `git -C '${firmware.dir}' cat-file blob ${oid} | sha256sum`], {
      encoding: 'utf8',
    }).split(' ')[0]!;
    await writeBlobHashes(w.cacheDir, new Map([[oid, { size: 11, sha256: sum }]]));
    const bad = await w.cli(dir, ['release', '--out', 'out']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected 11 bytes but read 10');
    expect((await readBlobHashes(w.cacheDir)).size).toBe(0);
    const again = await w.cli(dir, ['release', '--out', 'out']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('a lock pinning a tarball by sha256 or sha384 alone: the release verifies, and so does verify alone', async () => {
    for (const algo of ['sha256', 'sha384'] as const) {
      const dir = await w.tmp.make('xenrel-pin-');
      const integrity = `${algo}-${createHash(algo).update(w.newlibTgz).digest('base64')}`;
      await writeFile(
        join(dir, 'xenrel.config.yaml'),
        `version: 1\nname: xen\nrelease:\n  version: 4.22.0\ncomponents:\n  newlib:\n    url: ${w.server.url}/newlib-1.16.0.tar.gz\n    integrity: ${integrity}\n    path: stubdom/newlib-1.16.0.tar.gz\n`,
      );
      for (const cmd of ['lock', 'fetch']) expect((await w.cli(dir, [cmd])).code).toBe(0);
      // xenrel's lock records sha512; a lock written by hand (or kept from a pin) may not.
      const lockFile = join(dir, 'xenrel.lock');
      const lock = JSON.parse(await readFile(lockFile, 'utf8'));
      lock.components.newlib.integrity = integrity;
      await writeFile(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
      expect((await w.cli(dir, ['fetch', '--offline'])).code).toBe(0);
      const r = await w.cli(dir, ['release', '--out', 'out']);
      expect(r.code, `${algo}: ${r.stderr}`).toBe(0);
      const v = await w.cli(dir, ['verify', join('out', 'xen-4.22.0.tar.gz')]);
      expect(v.code, `${algo}: ${v.stderr}`).toBe(0);
    }
  });

  it('verify --lock --without: what a release left out, said by the packager, not by the tarball', async () => {
    const dir = await project();
    const r = await w.cli(dir, ['release', '--out', 'out', '--without', 'newlib']);
    expect(r.code, r.stderr).toBe(0);
    const tarball = join('out', 'xen-4.22.0.tar.gz');
    const full = await w.cli(dir, ['verify', tarball, '--lock', 'xenrel.lock']);
    expect(full.code).toBe(1);
    expect(full.stdout).toMatch(/missing +newlib/);
    const left = await w.cli(dir, ['verify', tarball, '--lock', 'xenrel.lock', '--without', 'newlib']);
    expect(left.code, left.stdout + left.stderr).toBe(0);
    // Leaving out another component than the release did is a failure too.
    expect((await w.cli(dir, ['verify', tarball, '--lock', 'xenrel.lock', '--without', 'seabios'])).code).toBe(1);
    const unknown = await w.cli(dir, ['verify', tarball, '--lock', 'xenrel.lock', '--without', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect((await w.cli(dir, ['verify', tarball, '--without', 'newlib'])).code).toBe(2);
  });

  it("a user's safe.bareRepository=explicit does not stop it reading the cache's mirrors", async () => {
    const dir = await project();
    const global = join(dir, 'gitconfig');
    const base = await readFile(w.env.GIT_CONFIG_GLOBAL!, 'utf8');
    await writeFile(global, `${base}\n[safe]\n\tbareRepository = explicit\n`);
    const r = await w.cli(dir, ['release', '--out', 'out'], { GIT_CONFIG_GLOBAL: global });
    expect(r.code, r.stderr).toBe(0);
  });

  it('a wrong sha256 in the blob-hash cache for a component blob: the release hashes again, is right and mends the cache', async () => {
    const dir = await project();
    const oid = execFileSync('git', ['-C', firmware.dir, 'rev-parse', 'v1.0:util/mkrom.sh'], {
      encoding: 'utf8',
    }).trim();
    await writeBlobHashes(w.cacheDir, new Map([[oid, { size: 10, sha256: '0'.repeat(64) }]]));
    const r = await w.cli(dir, ['release', '--out', 'out']);
    expect(r.code, r.stderr).toBe(0);
    const v = await w.cli(dir, ['verify', join('out', 'xen-4.22.0.tar.gz'), '--lock', 'xenrel.lock']);
    expect(v.code, v.stderr).toBe(0);
    const top = extracted(join(dir, 'out', 'xen-4.22.0.tar.gz'));
    expect(await readFile(join(top, '.xenrel/sources/ipxe/util/mkrom.sh'), 'utf8')).toBe('#!/bin/sh\n');
    // The wrong entry was replaced by the blob's real hash (git and sha256sum say which).
    const sum = execFileSync('sh', ['-c', `git -C '${firmware.dir}' cat-file blob ${oid} | sha256sum`], {
      encoding: 'utf8',
    }).split(' ')[0];
    expect((await readBlobHashes(w.cacheDir)).get(oid)).toEqual({ size: 10, sha256: sum });
  });
});
