import { basename } from 'node:path';
import { isLockedGit, isLockedLocal, isLockedTarball } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import { knownComponents, stubdomLibOf, varWithSuffix } from './knowledge.js';

/**
 * The make assignments that make Xen's build ask for exactly the locked pins, derived from
 * the lock alone (component name → Xen's variables for it), so a release tarball without
 * the `.config`, environment or command line the lock was taken with still asks the shim
 * for what it holds, and anyone can regenerate them from the lock.
 */

export interface PinAssignment {
  component: string;
  variable: string;
  /** The value as make must see it (not yet escaped). */
  value: string;
}

export interface LockedPins {
  assignments: PinAssignment[];
  /** Locked components no assignment can pin, with the reason. */
  unpinned: { component: string; reason: string }[];
}

/**
 * Set on the command line when xenrel reads a tree's own pins (`init`, `init --check`):
 * the block's assignments would otherwise hide what the tree itself says.
 */
export const TREE_PINS_VAR = 'XENREL_TREE_PINS';

export function lockedPins(lock: Lockfile, without: string[] = []): LockedPins {
  const known = knownComponents();
  const assignments: PinAssignment[] = [];
  const unpinned: LockedPins['unpinned'] = [];
  for (const name of Object.keys(lock.components).sort()) {
    if (without.includes(name)) continue;
    const c = lock.components[name]!;
    // By name, else by the path Xen's make fetches into (a config may name it differently).
    const spec = known[name] ?? Object.values(known).find((k) => k.path === c.path);
    const add = (variable: string, value: string) => assignments.push({ component: name, variable, value });
    const before = assignments.length;
    if (!spec?.vars?.length) {
      if (!isLockedLocal(c))
        unpinned.push({ component: name, reason: 'xenrel knows no make variable of Xen that names it' });
      continue;
    }
    if (isLockedGit(c) && spec.git) {
      const urlVar = varWithSuffix(spec, '_URL');
      const revVar = varWithSuffix(spec, '_REVISION');
      if (urlVar && revVar) {
        add(urlVar, c.git);
        add(revVar, c.ref);
      }
    } else if (isLockedTarball(c) && spec.vars.includes('IPXE_TARBALL_URL')) {
      add('IPXE_TARBALL_URL', c.url);
    } else if (isLockedTarball(c) && stubdomLibOf(spec)) {
      // stubdom/Makefile fetches `$(<LIB>_URL)/<file>`: only a URL ending in that file name fits.
      const file = basename(c.path);
      if (c.url.endsWith(`/${file}`)) add(`${stubdomLibOf(spec)}_URL`, c.url.slice(0, -file.length - 1));
      else
        unpinned.push({
          component: name,
          reason: `stubdom/Makefile fetches $(${stubdomLibOf(spec)}_URL)/${file}, and the locked URL ${c.url} does not end in ${file}`,
        });
      continue;
    }
    if (assignments.length === before && !isLockedLocal(c))
      unpinned.push({ component: name, reason: 'xenrel knows no make variable of Xen that names it' });
  }
  // A value make cannot hold on one line is better left out (and reported) than mangled.
  const ok = assignments.filter((a) => !/[\s]/.test(a.value));
  for (const a of assignments)
    if (!ok.includes(a))
      unpinned.push({
        component: a.component,
        reason: `${a.variable} would be ${JSON.stringify(a.value)}, which make cannot hold (white space)`,
      });
  return { assignments: ok, unpinned };
}

/** `$` and `#` are special on the right of a make assignment. */
export function makeValue(v: string): string {
  return v.replace(/\$/g, '$$$$').replace(/#/g, '\\#');
}
