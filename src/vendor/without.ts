import type { LockedComponent } from '../types.js';

/**
 * What a distro configures Xen with when it leaves a component out (`--without NAME`):
 * one small table, matched on the component name first, then on its path. The Xen
 * helper may extend it (groups, more components).
 */
export interface WithoutRule {
  /** Component names this rule is for. */
  names: string[];
  /** Or: a path prefix in the tree (for components named otherwise). */
  pathPrefixes: string[];
  /** The Xen configure option to use instead. */
  flag: string;
  /** Why, in a few words. */
  note: string;
}

const STUBDOM_LIBS = ['newlib', 'zlib', 'pciutils', 'libpci', 'lwip', 'gmp', 'polarssl', 'tpm_emulator', 'tpmemu', 'grub'];

export const WITHOUT_RULES: WithoutRule[] = [
  { names: ['qemu-xen', 'qemu'], pathPrefixes: ['tools/qemu-xen'], flag: '--with-system-qemu=PATH', note: 'use the qemu-system-i386 your distribution builds' },
  { names: ['seabios'], pathPrefixes: ['tools/firmware/seabios'], flag: '--with-system-seabios=PATH', note: 'use a prebuilt bios.bin' },
  { names: ['ovmf', 'edk2'], pathPrefixes: ['tools/firmware/ovmf'], flag: '--with-system-ovmf=PATH', note: 'use a prebuilt OVMF.fd' },
  { names: ['ipxe', 'etherboot'], pathPrefixes: ['tools/firmware/etherboot'], flag: '--with-system-ipxe=PATH', note: 'use a prebuilt iPXE ROM' },
  { names: ['mini-os', 'minios', ...STUBDOM_LIBS], pathPrefixes: ['extras/mini-os', 'stubdom/'], flag: '--disable-stubdom', note: 'build without stub domains' },
  { names: ['qemu-xen-traditional', 'qemu-traditional'], pathPrefixes: ['tools/qemu-xen-traditional'], flag: '--disable-qemu-traditional', note: 'Xen 4.19 and older only' },
];

export function withoutRule(name: string, c: LockedComponent): WithoutRule | undefined {
  return (
    WITHOUT_RULES.find((r) => r.names.includes(name)) ??
    WITHOUT_RULES.find((r) => r.pathPrefixes.some((p) => c.path === p || c.path.startsWith(p)))
  );
}

/** The advice vendor prints for a left-out component. */
export function withoutAdvice(name: string, c: LockedComponent): string {
  const rule = withoutRule(name, c);
  return rule
    ? `${name} left out: configure Xen with ${rule.flag} (${rule.note})`
    : `${name} left out: make sure your Xen configuration does not build it (${c.path}); the shim will refuse to fetch it`;
}
