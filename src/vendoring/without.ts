import type { LockedComponent } from '../model/lock.js';
import { withoutComponent } from '../xen/without.js';

/**
 * What to tell a distro that leaves a component out (`--without NAME`). The table itself is
 * src/xen/without.ts; here a component named otherwise (a fork's name) is recognised by the
 * path Xen's make expects it at.
 */
const BY_PATH: [prefix: string, name: string][] = [
  ['tools/qemu-xen-traditional', 'qemu-xen-traditional'],
  ['tools/qemu-xen', 'qemu-xen'],
  ['tools/firmware/seabios', 'seabios'],
  ['tools/firmware/ovmf', 'ovmf'],
  ['tools/firmware/etherboot', 'ipxe'],
  ['extras/mini-os', 'mini-os'],
];

function canonicalName(name: string, c: LockedComponent): string {
  if (withoutComponent(name)) return name;
  const hit = BY_PATH.find(([p]) => c.path === p || c.path.startsWith(`${p}-`) || c.path.startsWith(`${p}/`));
  if (hit) return hit[1];
  // stubdom/<lib>-<version>.tar.*: the library's name.
  const m = /^stubdom\/([a-z_]+?)-\d/.exec(c.path);
  if (!m) return name;
  return m[1] === 'grub' ? 'grub-legacy' : m[1]!;
}

export function withoutRule(name: string, c: LockedComponent): { flag: string; note: string } | undefined {
  const a = withoutComponent(canonicalName(name, c));
  return a?.flags.length ? { flag: a.flags.join(' '), note: a.note } : undefined;
}

/** The advice vendor prints for a left-out component. */
export function withoutAdvice(name: string, c: LockedComponent): string {
  const rule = withoutRule(name, c);
  return rule
    ? `${name} left out: configure Xen with ${rule.flag}: ${rule.note}`
    : `${name} left out: make sure your Xen configuration does not build it (${c.path}); the shim will refuse to fetch it`;
}
