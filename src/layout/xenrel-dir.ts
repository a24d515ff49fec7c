import { basename, join } from 'node:path';
import { kindOf } from '../model/kind.js';
import type { LockedComponent } from '../model/lock.js';

/**
 * The `.xenrel/` folder, relative to the tree root. Vendor writes it, the shim reads it,
 * release packs it and verify regenerates it, so its layout lives here, below all four.
 * The store of record holds each component once; the paths make expects are copies made
 * from it (by vendor, or by the shim when make asks after `make distclean` or in a release
 * tarball).
 *
 *   .xenrel/sources/<name>/            tree content (git, local dir), no .git
 *   .xenrel/sources/<name>/<file>      the file itself (tarball, local file), named as at its path
 *   .xenrel/bin/git, .xenrel/bin/fetch the shim (POSIX sh)
 *   .xenrel/shim.tsv                   the shim's index (see scripts/shim/common.sh)
 *   .xenrel/manifests/<name>.tree      expected tree-hash lines, for the shim's diagnostics
 *   .xenrel/xenrel.lock                the lock that was vendored
 *   .xenrel/WITHOUT                    components left out, and the configure flag for each
 *   .xenrel/release.json               written by release inside the tarball (./release-info.ts)
 *   .xenrel/state/                     the shim's run-time records (not part of a release)
 *   .xenrel/Makefile                   `make -C .xenrel pvgrub2` (src/vendoring/pvgrub2.ts), when grub2 is locked
 *   .xenrel/build/                     pvgrub2 build folders and images (not part of a release)
 */
/** The lockfile, beside the config. */
export const LOCKFILE_NAME = 'xenrel.lock';
export const XENREL_DIR = '.xenrel';
export const SOURCES_DIR = `${XENREL_DIR}/sources`;
export const BIN_DIR = `${XENREL_DIR}/bin`;
export const MANIFESTS_DIR = `${XENREL_DIR}/manifests`;
export const STATE_DIR = `${XENREL_DIR}/state`;
export const SHIM_INDEX = `${XENREL_DIR}/shim.tsv`;
export const LOCK_COPY = `${XENREL_DIR}/xenrel.lock`;
export const WITHOUT_FILE = `${XENREL_DIR}/WITHOUT`;
export const SHIM_TOOLS = ['git', 'fetch'] as const;

/** What vendor writes under .xenrel/ (clean removes exactly these, then .xenrel if empty). */
export const OWNED_ENTRIES = [
  'sources',
  'bin',
  'manifests',
  'state',
  'shim.tsv',
  'xenrel.lock',
  'WITHOUT',
  'Makefile',
  'build',
];

export type StoreKind = 'tree' | 'file';

/** A component is a folder unless it is a tarball or a local file (locked by integrity). */
export function storeKind(c: LockedComponent): StoreKind {
  const kind = kindOf(c);
  return kind === 'git' || (kind === 'local' && c.tree) ? 'tree' : 'file';
}

/** Store location relative to the tree root. */
export function storeRel(name: string, c: LockedComponent): string {
  return storeKind(c) === 'tree' ? `${SOURCES_DIR}/${name}` : `${SOURCES_DIR}/${name}/${basename(c.path)}`;
}

export function storeAbs(treeRoot: string, name: string, c: LockedComponent): string {
  return join(treeRoot, storeRel(name, c));
}

/** The folder a component owns in the store (for a file: the folder holding it). */
export function storeDirAbs(treeRoot: string, name: string): string {
  return join(treeRoot, SOURCES_DIR, name);
}
