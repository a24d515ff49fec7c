import { afterAll, describe, expect, it } from 'vitest';
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readXenPins } from '../../src/xen/read-pins.js';
import { pinsToConfig } from '../../src/xen/pins-to-config.js';
import { checkPins } from '../../src/xen/check-pins.js';
import { loadXenKnowledge } from '../../src/xen/knowledge.js';
import { XenrelError } from '../../src/errors.js';
import { tempDirs } from '../helpers/tmp.js';
import { withBlock } from '../../src/vendoring/config-block.js';
import {
  IPXE_PIN,
  OVMF_PIN,
  expectedPins,
  stubdomMkText,
  writeXenPinsTree,
  type XenVariant,
} from '../helpers/xen-pins-tree.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const cleanEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function tree(variant: XenVariant, opts: Parameters<typeof writeXenPinsTree>[2] = {}) {
  return writeXenPinsTree(await tmp.make('xenrel-xen-'), variant, opts);
}

describe('readXenPins on fixture trees', () => {
  it("reads the tree's own pins past xenrel's .config block; with lockedPins, what make runs with", async () => {
    const block = withBlock('# fork\nSEABIOS_UPSTREAM_REVISION = rel-1.18.0\n', {
      pins: [{ component: 'seabios', variable: 'SEABIOS_UPSTREAM_REVISION', value: 'rel-1.17.0' }],
    });
    const root = await tree('4.22', { dotConfig: block });
    expect((await readXenPins(root, { env: cleanEnv })).vars.SEABIOS_UPSTREAM_REVISION).toMatchObject({
      value: 'rel-1.18.0',
      file: '.config',
      line: 2,
    });
    expect((await readXenPins(root, { env: cleanEnv, lockedPins: true })).vars.SEABIOS_UPSTREAM_REVISION).toMatchObject(
      { value: 'rel-1.17.0', origin: 'override' },
    );
  });

  it.each(['4.19', '4.22', 'unstable'] as const)(
    'reads the pins of a %s-like tree as make sees them',
    async (variant) => {
      const root = await tree(variant);
      const pins = await readXenPins(root, { env: cleanEnv });
      const want = expectedPins(variant);
      expect(pins.vars.SEABIOS_UPSTREAM_REVISION).toMatchObject({
        value: want.seabios,
        origin: 'file',
        file: 'Config.mk',
      });
      expect(pins.vars.QEMU_UPSTREAM_REVISION!.value).toBe(want.qemu);
      expect(pins.vars.MINIOS_UPSTREAM_REVISION!.value).toBe(want.minios);
      expect(pins.vars.OVMF_UPSTREAM_REVISION!.value).toBe(OVMF_PIN);
      expect(pins.vars.IPXE_TARBALL_URL).toMatchObject({
        value: `https://xenbits.xen.org/xen-extfiles/ipxe-git-${IPXE_PIN}.tar.gz`,
        file: 'tools/firmware/etherboot/Makefile',
        line: 11,
      });
      expect(pins.vars.GIT).toMatchObject({ value: 'git', file: 'config/StdGNU.mk', line: 2 });
      expect(pins.qemuTraditional).toBe(variant === '4.19');
      expect(pins.stubdom.source).toBe('stubdom/configure.ac');
      const files = pins.stubdom.libs.map((l) => l.file);
      expect(files).toContain('polarssl-1.1.4-gpl.tgz');
      expect(files).toContain('pciutils-2.2.9.tar.bz2');
      expect(files.includes('grub-0.97.tar.gz')).toBe(variant !== 'unstable');
      const newlib = pins.stubdom.libs.find((l) => l.lib === 'NEWLIB')!;
      expect(newlib).toMatchObject({
        version: '1.16.0',
        url: 'https://xenbits.xen.org/xen-extfiles',
        fileUrl: 'https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz',
        upstreamUrl: 'https://sourceware.org/ftp/newlib',
        declared: { file: 'stubdom/configure.ac' },
      });
      expect(newlib.rule?.file).toBe('stubdom/Makefile');
      // Printing variables ran no recipe of the tree.
      expect(await exists(join(root, 'recipe-ran'))).toBe(false);
    },
  );

  it('honours .config (read first by Config.mk) and the legacy SEABIOS_UPSTREAM_TAG', async () => {
    const root = await tree('4.22', {
      dotConfig:
        'QEMU_UPSTREAM_URL = https://git.example.org/my-qemu.git\nSEABIOS_UPSTREAM_TAG = rel-1.16.0\nXEN_EXTFILES_URL = https://mirror.example.org/extfiles\n',
    });
    const pins = await readXenPins(root, { env: cleanEnv });
    expect(pins.vars.QEMU_UPSTREAM_URL).toMatchObject({
      value: 'https://git.example.org/my-qemu.git',
      file: '.config',
      line: 1,
    });
    expect(pins.vars.SEABIOS_UPSTREAM_REVISION!.value).toBe('rel-1.16.0');
    // Stubdom URLs and iPXE follow XEN_EXTFILES_URL, as the real Stubdom.mk's $(XEN_EXTFILES_URL) does.
    expect(pins.stubdom.libs.find((l) => l.lib === 'ZLIB')!.fileUrl).toBe(
      'https://mirror.example.org/extfiles/zlib-1.2.3.tar.gz',
    );
    expect(pins.vars.IPXE_TARBALL_URL!.value).toBe(`https://mirror.example.org/extfiles/ipxe-git-${IPXE_PIN}.tar.gz`);
  });

  it('applies command-line overrides, even over := (IPXE_GIT_TAG) and .config', async () => {
    const root = await tree('4.22', { dotConfig: 'SEABIOS_UPSTREAM_REVISION = rel-1.16.0\n' });
    const pins = await readXenPins(root, {
      env: cleanEnv,
      overrides: ['SEABIOS_UPSTREAM_REVISION=rel-1.18.0', 'IPXE_GIT_TAG=feedface', 'NEWLIB_VERSION=2.0.0'],
    });
    expect(pins.vars.SEABIOS_UPSTREAM_REVISION).toMatchObject({ value: 'rel-1.18.0', origin: 'command line' });
    expect(pins.vars.SEABIOS_UPSTREAM_REVISION!.file).toBeUndefined();
    expect(pins.vars.IPXE_TARBALL_URL!.value).toBe('https://xenbits.xen.org/xen-extfiles/ipxe-git-feedface.tar.gz');
    expect(pins.stubdom.libs.find((l) => l.lib === 'NEWLIB')!.file).toBe('newlib-2.0.0.tar.gz');
  });

  it('environment variables reach ?= pins, as in a real build', async () => {
    const root = await tree('4.22');
    const pins = await readXenPins(root, { env: { ...cleanEnv, MINIOS_UPSTREAM_REVISION: 'deadbeef' } });
    expect(pins.vars.MINIOS_UPSTREAM_REVISION).toMatchObject({ value: 'deadbeef', origin: 'environment' });
  });

  it("an outer make's MAKEFLAGS does not leak in", async () => {
    const root = await tree('4.22');
    const pins = await readXenPins(root, {
      env: { ...cleanEnv, MAKEFLAGS: 'SEABIOS_UPSTREAM_REVISION=from-makeflags' },
    });
    expect(pins.vars.SEABIOS_UPSTREAM_REVISION!.value).toBe('rel-1.17.0');
  });

  it('reads a configured stubdom from config/Stubdom.mk (--disable-extfiles)', async () => {
    const root = await tree('4.22', { stubdomMk: stubdomMkText({ extfiles: false }) });
    const pins = await readXenPins(root, { env: cleanEnv });
    expect(pins.stubdom.source).toBe('config/Stubdom.mk');
    const byLib = Object.fromEntries(pins.stubdom.libs.map((l) => [l.lib, l]));
    expect(byLib.NEWLIB!.fileUrl).toBe('https://sourceware.org/ftp/newlib/newlib-1.16.0.tar.gz');
    expect(byLib.ZLIB!.fileUrl).toBe('https://xenbits.xen.org/xen-extfiles/zlib-1.2.3.tar.gz');
    expect(pins.vars.NEWLIB_URL).toMatchObject({ file: 'config/Stubdom.mk', line: 7 });
  });

  it('models --disable-extfiles on an unconfigured tree', async () => {
    const root = await tree('4.22');
    const pins = await readXenPins(root, { env: cleanEnv, extfiles: false });
    const byLib = Object.fromEntries(pins.stubdom.libs.map((l) => [l.lib, l]));
    expect(byLib.GMP!.fileUrl).toBe('https://gmplib.org/download/gmp/archive/gmp-4.3.2.tar.bz2');
    expect(byLib.POLARSSL!.fileUrl).toBe('https://xenbits.xen.org/xen-extfiles/polarssl-1.1.4-gpl.tgz');
  });

  it('does not run the FETCHER or GIT a .config names', async () => {
    const root = await tree('4.22');
    const marker = join(root, 'fetcher-ran');
    await mkdir(join(root, 'bin'));
    await writeFile(join(root, 'bin/fake'), `#!/bin/sh\ntouch ${marker}\n`);
    await chmod(join(root, 'bin/fake'), 0o755);
    await writeFile(join(root, '.config'), `FETCHER = ${root}/bin/fake\nGIT = ${root}/bin/fake\n`);
    const pins = await readXenPins(root, { env: cleanEnv });
    expect(pins.vars.GIT!.value).toBe(`${root}/bin/fake`);
    expect(await exists(marker)).toBe(false);
  });

  it('errors: not a Xen tree, broken .config, bad override, no make', async () => {
    const empty = await tmp.make();
    await expect(readXenPins(empty)).rejects.toMatchObject({
      code: 'E_XEN_TREE',
      exitCode: 2,
      message: expect.stringContaining('no Config.mk'),
    });

    const broken = await tree('4.22', { dotConfig: 'ifeq (a,b)\nX = 1\n' });
    const err = await readXenPins(broken, { env: cleanEnv }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XenrelError);
    expect(err).toMatchObject({ code: 'E_MAKE_VARS', exitCode: 2 });
    expect((err as Error).message).toMatch(/\.config/);

    const ok = await tree('4.22');
    await expect(readXenPins(ok, { env: cleanEnv, overrides: ['not an override'] })).rejects.toMatchObject({
      code: 'E_USAGE',
      exitCode: 2,
    });
    await expect(readXenPins(ok, { env: cleanEnv, make: join(ok, 'no-such-make') })).rejects.toMatchObject({
      code: 'E_NO_MAKE',
      exitCode: 2,
    });
  });
});

describe('pinsToConfig and checkPins', () => {
  it('builds a valid config for a 4.22-like tree: every component, paths and licenses from config/xen.yaml', async () => {
    const root = await tree('4.22');
    const { config, notes } = pinsToConfig(await readXenPins(root, { env: cleanEnv }));
    const knowledge = loadXenKnowledge();
    expect(Object.keys(config.components).sort()).toEqual(Object.keys(knowledge.components).sort());
    for (const [name, spec] of Object.entries(knowledge.components)) {
      expect(config.components[name], name).toMatchObject({
        path: spec.path,
        license: spec.license,
        groups: spec.groups,
      });
      expect(config.components[name]!.git ?? config.components[name]!.url).toBe(spec.git ?? spec.url);
      expect(config.components[name]!.ref).toBe(spec.ref);
    }
    expect(notes).toEqual([]);
    // The 4.22 knowledge base and a 4.22 tree agree: no drift.
    expect(checkPins(pinsToConfig(await readXenPins(root, { env: cleanEnv })), knowledge)).toEqual([]);
  });

  it('4.19 adds qemu-xen-traditional; unstable drops GRUB legacy and notes the floating master pin', async () => {
    const old = pinsToConfig(await readXenPins(await tree('4.19'), { env: cleanEnv }));
    expect(old.config.components['qemu-xen-traditional']).toMatchObject({
      git: 'https://xenbits.xen.org/git-http/qemu-xen-traditional.git',
      ref: 'xen-4.19.0',
      path: 'tools/qemu-xen-traditional-dir-remote',
      license: 'GPL-2.0-only',
    });
    expect(old.config.components.seabios!.ref).toBe('rel-1.16.3');

    const unstable = pinsToConfig(await readXenPins(await tree('unstable'), { env: cleanEnv }));
    expect(unstable.config.components['grub-legacy']).toBeUndefined();
    expect(unstable.config.components['qemu-xen']!.ref).toBe('master');
    expect(unstable.config.components['mini-os']!.ref).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(unstable.notes.join('\n')).toMatch(/qemu-xen: QEMU_UPSTREAM_REVISION is "master".*floats/);
  });

  it("a local path pin becomes a file:// URL; a fork's unknown pins and stubdom libs are reported", async () => {
    const root = await tree('4.22', {
      dotConfig: 'QEMU_UPSTREAM_URL = /srv/git/qemu-xen.git\nFOO_UPSTREAM_URL = https://example.org/foo.git\n',
      extra: {
        'stubdom/configure.ac': `${'AX_STUBDOM_LIB([ZLIB], [zlib], [1.2.3])\n'}AX_STUBDOM_LIB([LIBFOO], [libfoo], [3.1])\n`,
        'stubdom/Makefile':
          'zlib-$(ZLIB_VERSION).tar.gz:\n\t$(FETCHER) $@ $(ZLIB_URL)/$@\n\nlibfoo-$(LIBFOO_VERSION).tar.xz:\n\t$(FETCHER) $@ $(LIBFOO_URL)/$@\n',
      },
    });
    const { config, notes } = pinsToConfig(await readXenPins(root, { env: cleanEnv }));
    expect(config.components['qemu-xen']!.git).toBe('file:///srv/git/qemu-xen.git');
    expect(config.components.libfoo).toMatchObject({
      url: 'https://xenbits.xen.org/xen-extfiles/libfoo-3.1.tar.xz',
      path: 'stubdom/libfoo-3.1.tar.xz',
      groups: ['stubdom'],
    });
    expect(config.components.libfoo!.license).toBeUndefined();
    expect(notes.join('\n')).toMatch(/libfoo: stubdom library LIBFOO is not one xenrel knows.*stubdom\/Makefile:5/);
    expect(notes.join('\n')).toMatch(
      /FOO_UPSTREAM_URL \(\.config:2\) = https:\/\/example\.org\/foo\.git is not a variable of any component/,
    );
  });

  it('checkPins names the variable, its file:line and both values when a pin moved', async () => {
    const root = await tree('4.22', { dotConfig: '\n\nSEABIOS_UPSTREAM_REVISION ?= rel-1.18.0\n' });
    const derived = pinsToConfig(await readXenPins(root, { env: cleanEnv, overrides: ['NEWLIB_VERSION=1.17.0'] }));
    const config = loadXenKnowledge();
    const drift = checkPins(derived, config, 'xenrel.config.yaml');
    const seabios = drift.find((d) => d.component === 'seabios')!;
    expect(seabios).toMatchObject({ field: 'ref', tree: 'rel-1.18.0', config: 'rel-1.17.0' });
    expect(seabios.message).toBe(
      'seabios.ref: the tree has "rel-1.18.0" (SEABIOS_UPSTREAM_REVISION (.config:3) = rel-1.18.0), xenrel.config.yaml has "rel-1.17.0"',
    );
    const newlib = drift.filter((d) => d.component === 'newlib').map((d) => d.field);
    expect(newlib).toEqual(['url', 'path']);
    expect(drift.find((d) => d.component === 'newlib')!.message).toMatch(/NEWLIB_VERSION \(command line\) = 1\.17\.0/);
    // A component the config lacks is drift too; one the config has beyond the tree (grub2) is not.
    const { grub2: _g, ...rest } = config.components;
    const { seabios: _s, ...withoutSeabios } = rest;
    const d2 = checkPins(pinsToConfig(await readXenPins(await tree('4.22'), { env: cleanEnv })), {
      ...config,
      components: withoutSeabios,
    });
    expect(d2.map((d) => `${d.component}:${d.field}`)).toEqual(['seabios:component']);
  });
});
