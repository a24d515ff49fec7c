import { describe, expect, it } from 'vitest';
import { NEEDS, parseConfigure, resolveStubdoms, splitArgs } from '../../src/xen/configure-options.js';
import { resolveWithout, withoutComponent } from '../../src/xen/without.js';
import { loadXenKnowledge, XEN_CONFIG_PATH } from '../../src/xen/knowledge.js';

const X86 = 'x86_64-pc-linux-gnu';

/** Names NEEDS says a configuration fetches. */
function fetched(args: string, env: { host?: string; cmake: boolean } = { host: X86, cmake: true }): string[] {
  const { choices } = parseConfigure(splitArgs(args), env);
  return Object.entries(NEEDS)
    .filter(([, f]) => f(choices).needed)
    .map(([n]) => n)
    .sort();
}

const DEFAULT_NO_CMAKE = ['mini-os', 'newlib', 'pciutils', 'qemu-xen', 'seabios', 'zlib'];
const VTPM = ['gmp', 'lwip', 'polarssl', 'tpm_emulator'];

describe('Xen configure defaults and options (table)', () => {
  it.each([
    ['', false, X86, DEFAULT_NO_CMAKE],
    ['', true, X86, [...DEFAULT_NO_CMAKE, ...VTPM].sort()],
    ['CMAKE=', true, X86, DEFAULT_NO_CMAKE],
    ['--disable-vtpm-stubdom', true, X86, DEFAULT_NO_CMAKE],
    ['--disable-vtpm-stubdom --enable-vtpmmgr-stubdom', true, X86, [...DEFAULT_NO_CMAKE, 'lwip', 'polarssl'].sort()],
    ['--disable-stubdom', true, X86, ['qemu-xen', 'seabios']],
    ['--with-system-qemu=/usr/bin/qemu-system-i386 --disable-stubdom', false, X86, ['seabios']],
    ['--with-system-qemu=no --disable-stubdom', false, X86, ['qemu-xen', 'seabios']],
    ['--with-system-seabios=/usr/share/seabios/bios.bin --disable-stubdom', false, X86, ['qemu-xen']],
    ['--disable-seabios --disable-stubdom', false, X86, ['qemu-xen']],
    ['--enable-ovmf --enable-ipxe --disable-stubdom', false, X86, ['ipxe', 'ovmf', 'qemu-xen', 'seabios']],
    ['--enable-ipxe --with-system-ipxe=/x/ipxe.bin --disable-stubdom', false, X86, ['qemu-xen', 'seabios']],
    ['--with-system-ipxe=/x/ipxe.bin --enable-ipxe --disable-stubdom', false, X86, ['qemu-xen', 'seabios']],
    ['--disable-tools', false, X86, ['mini-os', 'newlib', 'pciutils', 'zlib']],
    ['--enable-pv-grub', false, X86, [...DEFAULT_NO_CMAKE, 'grub-legacy', 'lwip', 'polarssl'].sort()],
    [
      '--enable-c-stubdom --disable-xenstore-stubdom --disable-xenstorepvh-stubdom',
      false,
      X86,
      [...DEFAULT_NO_CMAKE, 'lwip'].sort(),
    ],
    [
      '--enable-qemu-traditional --disable-stubdom',
      false,
      X86,
      ['ipxe', 'qemu-xen', 'qemu-xen-traditional', 'seabios'],
    ],
    [
      '--enable-qemu-traditional --disable-ipxe --disable-stubdom',
      false,
      X86,
      ['qemu-xen', 'qemu-xen-traditional', 'seabios'],
    ],
    ['', true, 'aarch64-linux-gnu', ['qemu-xen']],
    [
      '--enable-stubdom --enable-ovmf',
      false,
      'aarch64-linux-gnu',
      ['mini-os', 'newlib', 'pciutils', 'qemu-xen', 'zlib'],
    ],
    ['', false, 'x86_64-unknown-freebsd14', ['qemu-xen', 'seabios']],
    ['--host=aarch64-linux-gnu', false, X86, ['qemu-xen']],
    ['--prefix=/usr --enable-systemd', false, X86, DEFAULT_NO_CMAKE],
  ])('configure %j (cmake %s, host %s)', (args, cmake, host, want) => {
    expect(fetched(args, { host, cmake })).toEqual(want);
  });

  it('explains exclusions with the option responsible', () => {
    const { choices } = parseConfigure(['--disable-stubdom', '--with-system-qemu'], { host: X86, cmake: false });
    expect(NEEDS['mini-os']!(choices)).toEqual({
      needed: false,
      option: '--disable-stubdom',
      reason: 'stub domains are not built',
    });
    expect(NEEDS['qemu-xen']!(choices)).toMatchObject({ needed: false, option: '--with-system-qemu' });
    expect(NEEDS.ovmf!(choices)).toMatchObject({
      needed: false,
      option: '(default; --enable-ovmf turns it on)',
      reason: 'off by default',
    });
    const noCmake = parseConfigure([], { host: X86, cmake: false }).choices;
    expect(NEEDS.gmp!(noCmake)).toMatchObject({
      needed: false,
      option: 'off because cmake was not found',
      reason: 'needed only by vTPM stub domain, none of which is built',
    });
    expect(NEEDS['grub-legacy']!(noCmake)).toMatchObject({
      needed: false,
      option: 'off by default (--enable-pv-grub)',
    });
    const cmake = parseConfigure([], { host: X86, cmake: true }).choices;
    expect(NEEDS.gmp!(cmake)).toEqual({ needed: true, because: 'vTPM stub domain (on because cmake was found)' });
    expect(resolveStubdoms(cmake).vtpmmgr).toEqual({ on: true, by: 'on because cmake was found' });
  });

  it('ignores options that change no download, warns where configure would fail, and rejects junk', () => {
    const r = parseConfigure(['--prefix=/usr', '--enable-vtpm-stubdom', '--with-system-seabios=bios.bin'], {
      host: X86,
      cmake: false,
    });
    expect(r.ignored).toEqual(['--prefix=/usr']);
    expect(r.warnings).toEqual([
      'configure will fail: --with-system-seabios needs an absolute path, got "bios.bin"',
      'configure will fail: --enable-vtpm-stubdom needs cmake, which was not found',
    ]);
    expect(() => parseConfigure(['disable-stubdom'], { host: X86, cmake: false })).toThrow(/neither an option/);
  });

  it('--disable-extfiles is recorded', () => {
    expect(parseConfigure(['--disable-extfiles'], { host: X86, cmake: false }).choices.extfiles).toBe(false);
    expect(parseConfigure([], { host: X86, cmake: false }).choices.extfiles).toBe(true);
  });

  it('splitArgs splits like a shell for plain quoting', () => {
    expect(splitArgs(` --a  --with-extra-qemuu-configure-args="--disable-download --x"  'b c' d\\e`)).toEqual([
      '--a',
      '--with-extra-qemuu-configure-args=--disable-download --x',
      'b c',
      'd\\e',
    ]);
    expect(splitArgs('')).toEqual([]);
  });
});

describe('--without → configure flags', () => {
  const components = loadXenKnowledge().components;
  it.each([
    [['qemu-xen'], ['--with-system-qemu'], []],
    [['qemu'], ['--with-system-qemu'], []],
    [['seabios'], ['--with-system-seabios=PATH'], []],
    [['stubdom'], ['--disable-stubdom'], []],
    [['gmp'], ['--disable-vtpm-stubdom'], []],
    [
      ['lwip'],
      [
        '--disable-c-stubdom',
        '--disable-vtpm-stubdom',
        '--disable-vtpmmgr-stubdom',
        '--disable-pv-grub',
        '--disable-ioemu-stubdom',
      ],
      [],
    ],
    [['zlib', 'gmp'], ['--disable-stubdom'], []],
    [['firmware'], ['--disable-ipxe', '--disable-ovmf', '--with-system-seabios=PATH'], []],
    [['grub2'], [], []],
  ])('--without %j', (names, flags, unswitchable) => {
    const r = resolveWithout(names, components);
    expect(r.flags).toEqual(flags);
    expect(r.unswitchable).toEqual(unswitchable);
  });

  it('unknown names: a usage error with a suggestion; unswitchable components are listed', () => {
    expect(() => resolveWithout(['seabois'], components)).toThrow(
      /unknown component or group: "seabois" \(did you mean "seabios"\?\)/,
    );
    const r = resolveWithout(['extra'], { extra: { url: 'https://example.org/x.tar.gz', path: 'x.tar.gz' } });
    expect(r).toEqual({ components: [], flags: [], unswitchable: ['extra'] });
    expect(withoutComponent('newlib')).toEqual({
      component: 'newlib',
      flags: ['--disable-stubdom'],
      note: 'the default xenstore stub domains need it',
    });
  });
});

describe('config/xen.yaml (the default config)', () => {
  const m = loadXenKnowledge();
  it('lists every component of a Xen 4.22 release where make expects it', () => {
    expect(XEN_CONFIG_PATH).toMatch(/config\/xen\.yaml$/);
    const paths = Object.fromEntries(Object.entries(m.components).map(([n, c]) => [n, c.path]));
    expect(paths).toEqual({
      'qemu-xen': 'tools/qemu-xen-dir-remote',
      seabios: 'tools/firmware/seabios-dir-remote',
      ovmf: 'tools/firmware/ovmf-dir-remote',
      ipxe: 'tools/firmware/etherboot/ipxe.tar.gz',
      'mini-os': 'extras/mini-os-remote',
      newlib: 'stubdom/newlib-1.16.0.tar.gz',
      zlib: 'stubdom/zlib-1.2.3.tar.gz',
      pciutils: 'stubdom/pciutils-2.2.9.tar.bz2',
      lwip: 'stubdom/lwip-1.3.0.tar.gz',
      gmp: 'stubdom/gmp-4.3.2.tar.bz2',
      polarssl: 'stubdom/polarssl-1.1.4-gpl.tgz',
      tpm_emulator: 'stubdom/tpm_emulator-0.7.4.tar.gz',
      'grub-legacy': 'stubdom/grub-0.97.tar.gz',
      grub2: 'tools/pvgrub2/grub-2.12.tar.xz',
    });
    for (const [name, c] of Object.entries(m.components)) {
      expect(c.license, name).toMatch(/^[A-Za-z0-9.+-]+( (AND|OR) [A-Za-z0-9.+-]+)*$/);
      expect(c.groups?.length, name).toBeGreaterThan(0);
      expect(NEEDS[name], `${name} has a configure rule`).toBeDefined();
      if (c.url)
        expect(c.url.split('/').pop(), name).toBe(
          name === 'ipxe' ? 'ipxe-git-1d1cf74a5e58811822bee4b3da3cff7282fcdfca.tar.gz' : c.path.split('/').pop(),
        );
    }
    expect(m.components['qemu-xen']).toMatchObject({
      git: 'https://xenbits.xen.org/git-http/qemu-xen.git',
      ref: 'qemu-xen-4.22.0',
    });
    expect(m.components.grub2).toMatchObject({ url: 'https://ftp.gnu.org/gnu/grub/grub-2.12.tar.xz' });
  });
});
