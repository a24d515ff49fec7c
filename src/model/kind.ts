import type { ComponentSpec } from './config.js';
import type { LockedComponent, LockedGit, LockedLocal, LockedTarball } from './lock.js';

/** The three kinds of component: a git repository, a downloaded file (tarball), a local input. */
export type ComponentKind = 'git' | 'tarball' | 'local';

/**
 * The kind of a config or lock component. Neither file has a kind field: the source key is
 * the kind (`git:`, `url:` or `local:`; the schemas allow exactly one), so this is the one
 * place that reads it and locks from any source (parsed, built by hand) work alike.
 */
export function kindOf(c: Pick<ComponentSpec, 'git' | 'url'> | LockedComponent): ComponentKind {
  if ('git' in c && c.git !== undefined) return 'git';
  if ('url' in c && c.url !== undefined) return 'tarball';
  return 'local';
}

export const isLockedGit = (c: LockedComponent): c is LockedGit => kindOf(c) === 'git';
export const isLockedTarball = (c: LockedComponent): c is LockedTarball => kindOf(c) === 'tarball';
export const isLockedLocal = (c: LockedComponent): c is LockedLocal => kindOf(c) === 'local';

/** The tree hash of what vendor places for `c`: `vendoredTree` when children or patches change it, else `tree`. */
export const vendoredTreeOf = (c: LockedComponent): string | undefined =>
  ('vendoredTree' in c ? c.vendoredTree : undefined) ?? c.tree;

/** The integrity of the bytes, for the kinds pinned by one (a tarball, a local file). */
export const lockedIntegrity = (c: LockedComponent): string | undefined => ('integrity' in c ? c.integrity : undefined);
