import { assertKnownComponents } from '../components/names.js';
import type { ComponentSpec } from '../model/config.js';
import { STUBDOM_LIBS } from './configure-options.js';

/**
 * `--without NAME|GROUP` → the Xen configure options that make the build do without it.
 * The authoritative table: vendor, plan and the CLI all print from here.
 */

export interface WithoutAdvice {
  component: string;
  /** configure options to pass (PATH is a placeholder for the distro's file). */
  flags: string[];
  note: string;
}

/** Stub domains that are on unless switched off, and the option that switches each off. */
const STUBDOM_OFF: Record<string, string> = {
  vtpm: '--disable-vtpm-stubdom',
  vtpmmgr: '--disable-vtpmmgr-stubdom',
  grub: '--disable-pv-grub',
  c: '--disable-c-stubdom',
  ioemu: '--disable-ioemu-stubdom',
};

const FIXED: Record<string, Omit<WithoutAdvice, 'component'>> = {
  'qemu-xen': {
    flags: ['--with-system-qemu'],
    note: "use the distribution's qemu-system-i386 (or --with-system-qemu=PATH)",
  },
  'qemu-xen-traditional': {
    flags: ['--disable-qemu-traditional'],
    note: 'off unless --enable-qemu-traditional (Xen 4.20 and older)',
  },
  seabios: {
    flags: ['--with-system-seabios=PATH'],
    note: 'use a prebuilt bios.bin at the absolute PATH (or --disable-seabios)',
  },
  ovmf: { flags: ['--disable-ovmf'], note: 'off by default; --with-system-ovmf=PATH uses a prebuilt OVMF' },
  ipxe: {
    flags: ['--disable-ipxe'],
    note: 'off by default (4.19: on with --enable-qemu-traditional); --with-system-ipxe=PATH uses a prebuilt ROM',
  },
  'mini-os': { flags: ['--disable-stubdom'], note: 'every stub domain is built on Mini-OS' },
  grub2: { flags: [], note: "not part of Xen's build; only xenrel's pvgrub2 target needs it" },
};

/** The stub domains a stubdom tarball is needed by, and how to switch them off. */
function stubdomLibAdvice(lib: string): Omit<WithoutAdvice, 'component'> | undefined {
  const users = Object.entries(STUBDOM_LIBS)
    .filter(([, libs]) => libs.includes(lib))
    .map(([d]) => d);
  if (!users.length) return undefined;
  if (users.includes('xenstore') || users.includes('xenstorepvh'))
    return { flags: ['--disable-stubdom'], note: 'the default xenstore stub domains need it' };
  return {
    flags: users.map((d) => STUBDOM_OFF[d]!).filter(Boolean),
    note: `needed only by the ${users.join(', ')} stub domain(s)`,
  };
}

/** Advice for one component (by its config/xen.yaml name), or undefined when Xen's configure has no switch for it. */
export function withoutComponent(name: string): WithoutAdvice | undefined {
  const fixed = FIXED[name];
  if (fixed) return { component: name, ...fixed };
  const lib = stubdomLibAdvice(name);
  return lib ? { component: name, ...lib } : undefined;
}

/** Group → options that cover the whole group at once (more than the sum of its members). */
const GROUP_FLAGS: Record<string, string[]> = {
  stubdom: ['--disable-stubdom'],
  qemu: ['--with-system-qemu'],
};

export interface WithoutResult {
  /** Components left out, each with its advice. */
  components: WithoutAdvice[];
  /** The configure options to pass, deduplicated, in a stable order. */
  flags: string[];
  /** Components Xen's configure cannot switch off (the shim will refuse to fetch them). */
  unswitchable: string[];
}

/**
 * Resolve names and groups against `components` (a config's), and collect the configure
 * options. Unknown names are a usage error with a suggestion.
 */
export function resolveWithout(names: string[], components: Record<string, ComponentSpec>): WithoutResult {
  const groups = new Map<string, string[]>();
  for (const [n, s] of Object.entries(components))
    for (const g of s.groups ?? []) groups.set(g, [...(groups.get(g) ?? []), n]);
  assertKnownComponents(names, [...Object.keys(components), ...groups.keys()], 'component or group');

  const picked = new Set<string>();
  const flags: string[] = [];
  for (const n of names) {
    if (components[n]) picked.add(n);
    else for (const m of groups.get(n) ?? []) picked.add(m);
    for (const f of GROUP_FLAGS[n] ?? []) if (groups.has(n)) flags.push(f);
  }
  const out: WithoutAdvice[] = [];
  const unswitchable: string[] = [];
  for (const n of [...picked].sort()) {
    const a = withoutComponent(n);
    if (a) {
      out.push(a);
      flags.push(...a.flags);
    } else unswitchable.push(n);
  }
  let unique = [...new Set(flags)];
  // --disable-stubdom covers every per-stub-domain switch.
  if (unique.includes('--disable-stubdom'))
    unique = unique.filter((f) => !/^--disable-(.*-stubdom|pv-grub)$/.test(f) || f === '--disable-stubdom');
  return { components: out, flags: unique, unswitchable };
}
