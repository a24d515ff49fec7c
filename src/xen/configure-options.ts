import { ExitCode, XenrelError } from '../errors.js';
import type { BuildChoices } from './build-choices.js';
import { TOOL_VARIABLES } from './host-tools.js';

/**
 * What Xen's configure decides about downloads, from its arguments — the same defaults as
 * configure.ac, tools/configure.ac, stubdom/configure.ac and m4/stubdom.m4 (Xen 4.19–4.22):
 * stubdom on for x86 hosts (not FreeBSD); qemu-xen on x86 and Arm; SeaBIOS on, OVMF and iPXE
 * off (x86 only); xenstore/xenstorepvh stub domains on; vTPM/vTPM manager on when cmake is
 * found; c-stubdom and pv-grub off; `--disable-extfiles` moves five stubdom URLs upstream.
 * Every option lives in one table below; which component each switch gates is in NEEDS.
 */

interface OptionRule {
  /** Matches the option name (before `=`). */
  re: RegExp;
  apply(c: BuildChoices, m: RegExpExecArray, value: string | undefined): void;
  /** A further test on the name (with the tree's stubdom library prefixes). */
  known?(name: string, libs: string[]): boolean;
}

/** The library prefixes of Xen 4.19–4.22's stubdom/configure.ac, when the tree's is not read. */
export const STUBDOM_LIB_PREFIXES = ['ZLIB', 'LIBPCI', 'NEWLIB', 'LWIP', 'GRUB', 'GMP', 'POLARSSL', 'TPMEMU'];

const STUBDOM_NAMES: Record<string, string> = {
  'c-stubdom': 'c',
  'pv-grub': 'grub',
  'xenstore-stubdom': 'xenstore',
  'xenstorepvh-stubdom': 'xenstorepvh',
  'vtpm-stubdom': 'vtpm',
  'vtpmmgr-stubdom': 'vtpmmgr',
  'ioemu-stubdom': 'ioemu',
};

const enableFlag = (m: RegExpExecArray, value: string | undefined) => (m[1] === 'enable' ? value !== 'no' : false);
const withSystem = (value: string | undefined) => value === 'no'; // --with-system-X=no keeps our own

/** The one table: configure option → what it changes. Options not listed change no download. */
const OPTIONS: OptionRule[] = [
  { re: /^--(enable|disable)-tools$/, apply: (c, m, v) => set(c, 'tools', enableFlag(m, v), m[0]!) },
  { re: /^--(enable|disable)-stubdom$/, apply: (c, m, v) => set(c, 'stubdom', enableFlag(m, v), m[0]!) },
  { re: /^--with-system-qemu$/, apply: (c, m, v) => set(c, 'qemuXen', withSystem(v), m[0]!) },
  { re: /^--without-system-qemu$/, apply: (c, m) => set(c, 'qemuXen', true, m[0]!) },
  { re: /^--(enable|disable)-seabios$/, apply: (c, m, v) => set(c, 'seabios', enableFlag(m, v), m[0]!) },
  { re: /^--with-system-seabios$/, apply: (c, m) => set(c, 'seabios', false, m[0]!) },
  { re: /^--(enable|disable)-ovmf$/, apply: (c, m, v) => set(c, 'ovmf', enableFlag(m, v), m[0]!) },
  { re: /^--with-system-ovmf$/, apply: (c, m) => set(c, 'ovmf', false, m[0]!) },
  { re: /^--(enable|disable)-ipxe$/, apply: (c, m, v) => set(c, 'ipxe', enableFlag(m, v), m[0]!) },
  // "--with-system-ipxe … takes precedence over --{en,dis}able-ipxe": applied last, see parse.
  { re: /^--with-system-ipxe$/, apply: (c, m) => set(c, 'ipxe', false, `${m[0]!}!`) },
  {
    re: /^--(enable|disable)-qemu-traditional$/,
    apply: (c, m, v) => set(c, 'qemuTraditional', enableFlag(m, v), m[0]!),
  },
  {
    re: /^--(enable|disable)-extfiles$/,
    apply: (c, m, v) => {
      c.extfiles = enableFlag(m, v);
      c.setBy.extfiles = m[0]!;
    },
  },
  {
    re: /^--(enable|disable)-(c-stubdom|pv-grub|xenstore-stubdom|xenstorepvh-stubdom|vtpm-stubdom|vtpmmgr-stubdom|ioemu-stubdom)$/,
    apply: (c, m, v) => {
      const s = STUBDOM_NAMES[m[2]!]!;
      c.stubdoms[s] = enableFlag(m, v);
      c.setBy[`stubdom:${s}`] = m[0]!;
    },
  },
  { re: /^--host$/, apply: (c, _m, v) => setHost(c, v ?? '') },
  // configure's AC_ARG_VAR: CMAKE=/path says where cmake is (empty: not there).
  {
    re: /^CMAKE$/,
    apply: (c, _m, v) => {
      c.cmake = Boolean(v);
      c.setBy.cmake = `CMAKE=${v ?? ''}`;
    },
  },
  // The other programs configure checks for (src/xen/host-tools.ts reads them).
  { re: /^[A-Z_][A-Z0-9_]*$/, apply: () => {}, known: (name) => TOOL_VARIABLES.has(name) },
  // stubdom/configure.ac's AX_STUBDOM_LIB declares AC_ARG_VAR([<LIB>_URL]): it beats both
  // $(XEN_EXTFILES_URL) and the --disable-extfiles upstream.
  {
    re: /^([A-Z][A-Z0-9_]*)_URL$/,
    apply: (c, m, v) => {
      c.libUrls[m[1]!] = (v ?? '').replace(/\/+$/, '');
      c.setBy[`url:${m[1]!}`] = `${m[0]!}=${v ?? ''}`;
    },
    known: (name, libs) => libs.includes(name.slice(0, -'_URL'.length)),
  },
];

function set(
  c: BuildChoices,
  key: 'tools' | 'stubdom' | 'qemuXen' | 'qemuTraditional' | 'seabios' | 'ovmf' | 'ipxe',
  v: boolean,
  by: string,
) {
  if (c.setBy[key]?.endsWith('!') && !by.endsWith('!')) return; // --with-system-ipxe wins
  c[key] = v;
  c.setBy[key] = by;
}

function setHost(c: BuildChoices, host: string) {
  c.host = host;
  const cpu = host.split('-')[0] ?? '';
  c.x86 = /^(i[3456]86|x86_64|amd64)$/.test(cpu);
  c.arm = /^(arm.*|aarch64)$/.test(cpu);
  c.freebsd = /freebsd/.test(host);
}

/** `uname -m`-style name of this machine, as configure's default host. */
export function defaultHost(): string {
  const cpu =
    ({ x64: 'x86_64', ia32: 'i686', arm64: 'aarch64', arm: 'arm' } as Record<string, string>)[process.arch] ??
    process.arch;
  return `${cpu}-pc-${process.platform === 'freebsd' ? 'freebsd' : 'linux-gnu'}`;
}

/** Split a configure argument string as a shell would, for plain quoting (`--x="a b"`). */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"']+)/g;
  let end = -1;
  for (const m of s.matchAll(re)) {
    const piece = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!);
    if (end === m.index && out.length) out[out.length - 1] += piece;
    else out.push(piece);
    end = m.index! + m[0].length;
  }
  return out;
}

export interface ParsedConfigure {
  choices: BuildChoices;
  /** Options that change no download (passed over). */
  ignored: string[];
  /** Things configure itself would refuse. */
  warnings: string[];
}

export function parseConfigure(
  args: string[],
  env: { host?: string; cmake: boolean; stubdomLibs?: string[] },
): ParsedConfigure {
  const libs = env.stubdomLibs ?? STUBDOM_LIB_PREFIXES;
  const c: BuildChoices = {
    host: '',
    x86: false,
    arm: false,
    freebsd: false,
    cmake: env.cmake,
    tools: undefined,
    stubdom: undefined,
    qemuXen: undefined,
    qemuTraditional: undefined,
    seabios: undefined,
    ovmf: undefined,
    ipxe: undefined,
    extfiles: true,
    libUrls: {},
    stubdoms: {},
    setBy: {},
  };
  setHost(c, env.host ?? defaultHost());
  const ignored: string[] = [];
  const warnings: string[] = [];
  // --with-system-ipxe takes precedence whatever its position: apply it last.
  const ordered = [
    ...args.filter((a) => !a.startsWith('--with-system-ipxe')),
    ...args.filter((a) => a.startsWith('--with-system-ipxe')),
  ];
  for (const arg of ordered) {
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (!name.startsWith('--') && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new XenrelError('E_USAGE', `configure argument "${arg}" is neither an option (--…) nor VAR=value`, {
        exitCode: ExitCode.usage,
        hint: 'pass the arguments as you would to ./configure, e.g. --configure "--enable-ovmf --disable-stubdom"',
      });
    const rule = OPTIONS.map((r) => ({ r, m: r.re.exec(name) })).find(
      (x) => x.m && (!x.r.known || x.r.known(name, libs)),
    );
    if (rule) rule.r.apply(c, rule.m!, value);
    else ignored.push(arg);
    if (name === '--with-system-seabios' && value !== undefined && value !== 'no' && !value.startsWith('/'))
      warnings.push(`configure will fail: --with-system-seabios needs an absolute path, got "${value}"`);
  }
  if (c.stubdoms.vtpm === true && !c.cmake)
    warnings.push('configure will fail: --enable-vtpm-stubdom needs cmake, which was not found');
  if (c.stubdoms.ioemu === true && c.qemuTraditional !== true)
    warnings.push('configure will fail: the ioemu stub domain requires --enable-qemu-traditional (Xen 4.19 and older)');
  return { choices: c, ignored, warnings };
}

/** Whether a component is fetched, and if not, why. */
export type Need = { needed: true; because: string } | { needed: false; option: string; reason: string };

const yes = (because: string): Need => ({ needed: true, because });
const no = (option: string, reason: string): Need => ({ needed: false, option, reason });

function toolsOn(c: BuildChoices): { needed: false; option: string; reason: string } | undefined {
  if (c.tools === false) return { needed: false, option: c.setBy.tools!, reason: 'the tools are not built' };
  return undefined;
}

function x86Firmware(c: BuildChoices, key: 'seabios' | 'ovmf' | 'ipxe', defaultOn: boolean, enable: string): Need {
  const t = toolsOn(c);
  if (t) return t;
  if (!c.x86) return no(`--host=${c.host}`, 'HVM firmware is built only for x86 hosts');
  const v = c[key] ?? defaultOn;
  if (v) return yes(c.setBy[key] ?? 'on by default');
  return no(c.setBy[key] ?? `(default; ${enable} turns it on)`, c.setBy[key] ? 'switched off' : 'off by default');
}

/** Resolved stub domains: m4/stubdom.m4 with AX_DEPENDS_PATH_PROG([vtpm], [CMAKE], [cmake]). */
export function resolveStubdoms(c: BuildChoices): Record<string, { on: boolean; by: string }> {
  const s = c.stubdoms;
  const r: Record<string, { on: boolean; by: string }> = {};
  const by = (n: string, dflt: string) => c.setBy[`stubdom:${n}`] ?? dflt;
  r.xenstore = { on: s.xenstore ?? true, by: by('xenstore', 'on by default') };
  r.xenstorepvh = { on: s.xenstorepvh ?? true, by: by('xenstorepvh', 'on by default') };
  r.c = { on: s.c ?? false, by: by('c', 'off by default (--enable-c-stubdom)') };
  r.grub = { on: s.grub ?? false, by: by('grub', 'off by default (--enable-pv-grub)') };
  const vtpm = s.vtpm ?? c.cmake;
  r.vtpm = {
    on: vtpm,
    by: by(
      'vtpm',
      c.cmake
        ? `on because cmake was found${c.setBy.cmake ? ` (${c.setBy.cmake})` : ''}`
        : `off because cmake was not found${c.setBy.cmake ? ` (${c.setBy.cmake})` : ''}`,
    ),
  };
  r.vtpmmgr = {
    on: s.vtpmmgr ?? vtpm,
    by: by('vtpmmgr', s.vtpm !== undefined ? `follows ${c.setBy['stubdom:vtpm']}` : r.vtpm.by),
  };
  r.ioemu = {
    on: s.ioemu ?? c.qemuTraditional === true,
    by: by('ioemu', c.qemuTraditional ? `follows ${c.setBy.qemuTraditional}` : 'off unless --enable-qemu-traditional'),
  };
  return r;
}

/** Stub domain → the stubdom tarballs its targets in stubdom/Makefile depend on. */
export const STUBDOM_LIBS: Record<string, string[]> = {
  xenstore: ['newlib', 'zlib', 'pciutils'],
  xenstorepvh: ['newlib', 'zlib', 'pciutils'],
  c: ['newlib', 'zlib', 'pciutils', 'lwip'],
  vtpm: ['newlib', 'lwip', 'polarssl', 'gmp', 'tpm_emulator'],
  vtpmmgr: ['newlib', 'lwip', 'polarssl'],
  grub: ['newlib', 'zlib', 'pciutils', 'lwip', 'polarssl', 'grub-legacy'],
  ioemu: ['newlib', 'zlib', 'pciutils', 'lwip'],
};

export const STUBDOM_LABEL: Record<string, string> = {
  xenstore: 'xenstore stub domain',
  xenstorepvh: 'xenstorepvh stub domain',
  c: 'c-stubdom',
  vtpm: 'vTPM stub domain',
  vtpmmgr: 'vTPM manager stub domain',
  grub: 'pv-grub',
  ioemu: 'ioemu stub domain',
};

function stubdomOn(c: BuildChoices): Need {
  if (c.stubdom === false) return no(c.setBy.stubdom!, 'stub domains are not built');
  if (c.stubdom === undefined && (!c.x86 || c.freebsd))
    return no(
      `--host=${c.host}`,
      'stub domains are built by default only on x86 hosts (not FreeBSD); --enable-stubdom forces them',
    );
  return yes(c.setBy.stubdom ?? 'stubdom on by default on x86');
}

function stubdomLib(lib: string) {
  return (c: BuildChoices): Need => {
    const base = stubdomOn(c);
    if (!base.needed) return base;
    const doms = resolveStubdoms(c);
    const users = Object.entries(STUBDOM_LIBS).filter(([d, libs]) => libs.includes(lib) && doms[d]!.on);
    if (users.length) return yes(users.map(([d]) => `${STUBDOM_LABEL[d]} (${doms[d]!.by})`).join('; '));
    const would = Object.entries(STUBDOM_LIBS)
      .filter(([, libs]) => libs.includes(lib))
      .map(([d]) => d);
    const offBy = would.map((d) => doms[d]!.by).filter((b, i, a) => a.indexOf(b) === i);
    return no(
      offBy.join('; '),
      `needed only by ${would.map((d) => STUBDOM_LABEL[d]).join(', ')}, none of which is built`,
    );
  };
}

/** Component (config/xen.yaml names) → whether this configuration fetches it. */
export const NEEDS: Record<string, (c: BuildChoices) => Need> = {
  'qemu-xen': (c) => {
    const t = toolsOn(c);
    if (t) return t;
    const v = c.qemuXen ?? (c.x86 || c.arm);
    if (v) return yes(c.setBy.qemuXen ?? 'on by default');
    return no(
      c.setBy.qemuXen ?? `--host=${c.host}`,
      c.setBy.qemuXen ? 'a system QEMU is used' : 'qemu-xen is built by default only on x86 and Arm',
    );
  },
  'qemu-xen-traditional': (c) => {
    const t = toolsOn(c);
    const doms = resolveStubdoms(c);
    if (c.qemuTraditional && !t) return yes(c.setBy.qemuTraditional!);
    if (doms.ioemu!.on && stubdomOn(c).needed) return yes(`ioemu stub domain (${doms.ioemu!.by})`);
    if (t && c.qemuTraditional) return t;
    return no(
      c.setBy.qemuTraditional ?? '(default; --enable-qemu-traditional turns it on)',
      c.setBy.qemuTraditional ? 'switched off' : 'off by default',
    );
  },
  seabios: (c) => x86Firmware(c, 'seabios', true, '--enable-seabios'),
  ovmf: (c) => x86Firmware(c, 'ovmf', false, '--enable-ovmf'),
  // Xen 4.19: iPXE defaults to on with --enable-qemu-traditional.
  ipxe: (c) => x86Firmware(c, 'ipxe', c.qemuTraditional === true, '--enable-ipxe'),
  'mini-os': (c) => stubdomOn(c),
  newlib: stubdomLib('newlib'),
  zlib: stubdomLib('zlib'),
  pciutils: stubdomLib('pciutils'),
  lwip: stubdomLib('lwip'),
  gmp: stubdomLib('gmp'),
  polarssl: stubdomLib('polarssl'),
  tpm_emulator: stubdomLib('tpm_emulator'),
  'grub-legacy': stubdomLib('grub-legacy'),
  grub2: () => no('xenrel pvgrub2', "not part of Xen's build; only xenrel's pvgrub2 target builds it"),
};

/** Stubdom libraries whose URL `--disable-extfiles` moves upstream (4-argument AX_STUBDOM_LIB). */
export const EXTFILES_UPSTREAM: Record<string, string> = {
  pciutils: 'https://mirrors.edge.kernel.org/pub/software/utils/pciutils',
  newlib: 'https://sourceware.org/ftp/newlib',
  lwip: 'https://download.savannah.gnu.org/releases/lwip',
  'grub-legacy': 'https://alpha.gnu.org/gnu/grub',
  gmp: 'https://gmplib.org/download/gmp/archive',
};
