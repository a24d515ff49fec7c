/**
 * `release`'s check of what the tarball's make will ask for, evaluated by GNU make on a
 * Xen-like tree with the tarball's .config: quiet when the block carries every pin, and a
 * warning naming the variable for a pin it cannot carry.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Lockfile } from '../../src/model/lock.js';
import { withBlock } from '../../src/vendoring/config-block.js';
import { lockedPins } from '../../src/xen/locked-pins.js';
import { tarballPinWarnings } from '../../src/xen/tarball-pins.js';
import { tempDirs } from '../helpers/tmp.js';
import { writeXenPinsTree } from '../helpers/xen-pins-tree.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const X = 'sha256-x';
function lock(extra: Lockfile['components'] = {}): Lockfile {
  return {
    lockfileVersion: 1,
    name: 'xen',
    components: {
      seabios: {
        git: 'https://mirror.example/seabios.git',
        ref: 'rel-1.17.0',
        commit: 'a'.repeat(40),
        tree: X,
        path: 'tools/firmware/seabios-dir-remote',
      },
      'mini-os': {
        git: 'https://mirror.example/mini-os.git',
        ref: 'xen-RELEASE-4.22.0',
        commit: 'b'.repeat(40),
        tree: X,
        path: 'extras/mini-os-remote',
      },
      newlib: {
        url: 'https://mirror.example/files/newlib-1.16.0.tar.gz',
        integrity: 'sha512-x',
        size: 1,
        path: 'stubdom/newlib-1.16.0.tar.gz',
      },
      ...extra,
    },
  };
}

async function tarballConfig(l: Lockfile): Promise<string> {
  const dir = await tmp.make();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, '.config'), withBlock('', { pins: lockedPins(l).assignments }));
  return join(dir, '.config');
}

describe("what the release tarball's make asks for", () => {
  it('nothing about a locked pin the block carries; what make downloads and the lock lacks, in one line', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    const l = lock();
    const w = await tarballPinWarnings(root, await tarballConfig(l), l);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^the lock has nothing for 10 downloads of the release tarball's make: /);
    expect(w[0]).toMatch(/qemu-xen \(QEMU_UPSTREAM_URL, Config\.mk:\d+\)/);
    expect([...w[0]!.matchAll(/([\w-]+) \([A-Z]+_(?:UPSTREAM_|TARBALL_)?URL, /g)].map((m) => m[1]).sort()).toEqual([
      'gmp',
      'grub-legacy',
      'ipxe',
      'lwip',
      'ovmf',
      'pciutils',
      'polarssl',
      'qemu-xen',
      'tpm_emulator',
      'zlib',
    ]);
    // Locked, a download is not named.
    const all = lock(
      Object.fromEntries(
        ['gmp', 'grub-legacy', 'lwip', 'pciutils', 'polarssl', 'tpm_emulator', 'zlib'].map((n) => [
          n,
          { url: `https://mirror.example/${n}.tgz`, integrity: 'sha512-x', size: 1, path: `stubdom/${n}.tar.gz` },
        ]),
      ),
    );
    const rest = await tarballPinWarnings(root, await tarballConfig(all), all, []);
    expect(rest.filter((x) => x.startsWith('the lock has nothing'))).toEqual([
      expect.stringMatching(/^the lock has nothing for 3 downloads .*: qemu-xen .*, ovmf .*, ipxe .*; /),
    ]);
  });

  it('without the block, each pin that differs from Config.mk is named with its variable and file:line', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    const w = (await tarballPinWarnings(root, undefined, lock())).filter((x) => !x.startsWith('the lock has nothing'));
    expect(w).toHaveLength(3);
    expect(w[0]).toMatch(
      /^mini-os: the release tarball's make would ask for https:\/\/xenbits\.xen\.org\/git-http\/mini-os\.git \(MINIOS_UPSTREAM_URL \(Config\.mk:\d+\)\), but the lock pins https:\/\/mirror\.example\/mini-os\.git; the shim will refuse that fetch$/,
    );
    expect(w[1]).toMatch(
      /^newlib: .* would ask for https:\/\/xenbits\.xen\.org\/xen-extfiles\/newlib-1\.16\.0\.tar\.gz \(NEWLIB_URL \(stubdom\/configure\.ac:\d+\), NEWLIB_VERSION/,
    );
    expect(w[2]).toMatch(/^seabios: .*SEABIOS_UPSTREAM_URL \(Config\.mk:\d+\)/);
  });

  it('a pin the block cannot carry, and a component no Xen variable names, are warned about', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    const l = lock({
      zlib: {
        url: 'https://mirror.example/zlib.tgz',
        integrity: 'sha512-x',
        size: 1,
        path: 'stubdom/zlib-1.2.3.tar.gz',
      },
      foobios: {
        git: 'https://example.org/foobios.git',
        ref: 'v1',
        commit: 'c'.repeat(40),
        tree: X,
        path: 'tools/firmware/foobios-dir-remote',
      },
    });
    const w = (await tarballPinWarnings(root, await tarballConfig(l), l)).filter(
      (x) => !x.startsWith('the lock has nothing'),
    );
    expect(w).toEqual([
      "foobios: no make variable of Xen that xenrel knows names it, so the release tarball's make asks for whatever its makefiles say; the shim serves only https://example.org/foobios.git (v1)",
      expect.stringMatching(
        /^zlib: the release tarball's make would ask for https:\/\/xenbits\.xen\.org\/xen-extfiles\/zlib-1\.2\.3\.tar\.gz \(ZLIB_URL \(stubdom\/configure\.ac:\d+\), ZLIB_VERSION \(stubdom\/configure\.ac:\d+\)\), but the lock pins https:\/\/mirror\.example\/zlib\.tgz/,
      ),
    ]);
  });

  it('not a Xen tree: nothing to check', async () => {
    expect(await tarballPinWarnings(await tmp.make(), undefined, lock())).toEqual([]);
  });
});
