import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cache } from '../../content-cache/cache.js';
import { XenrelError, ExitCode } from '../../errors.js';
import { treeHash } from '../../tree/hash.js';
import type { ComponentSpec } from '../../model/config.js';
import type { LockedGit } from '../../model/lock.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { assertGitTransport } from '../transport-policy.js';
import { ensureCommit } from './mirror.js';
import type { GitSourceOptions } from './options.js';
import { lsRemote, refNotFound, resolveRef } from './refs.js';
import { gitTreeEntries } from './tree.js';

/**
 * The git source: a component's lock entry and its fetch. Content is hashed from raw blobs
 * (see tree.ts for why). Verified (commit, tree hash) pairs are remembered in
 * `xenrel-verified/<commit>` inside the mirror: a speed-up only, since git's object ids
 * already cover the content.
 */

const VERIFIED_DIR = 'xenrel-verified';

function markerPath(mirrorDir: string, commit: string) {
  return join(mirrorDir, VERIFIED_DIR, commit);
}

async function readMarker(mirrorDir: string, commit: string): Promise<string | undefined> {
  return (await readFile(markerPath(mirrorDir, commit), 'utf8').catch(() => undefined))?.trim();
}

/** Tree hash of `commit` from raw blobs, remembered in the mirror for later runs. */
export async function commitTreeHash(mirrorDir: string, commit: string, opts: GitSourceOptions = {}): Promise<string> {
  const tree = await gitTreeEntries(mirrorDir, commit);
  const hash = treeHash(tree.entries);
  if (tree.gitlinks.length)
    opts.progress?.info?.(
      `${opts.label ?? commit}: ${tree.gitlinks.length} submodule(s) (${tree.gitlinks.map((g) => g.path).join(', ')}) are pinned separately, not part of this tree hash`,
    );
  await writeFileAtomic(markerPath(mirrorDir, commit), `${hash}\n`).catch(() => {}); // a speed-up only
  return hash;
}

/** Resolve, fetch and hash a git component: its lockfile entry. Warnings go to `opts.progress.warn`. */
export async function lockGit(
  name: string,
  spec: Pick<ComponentSpec, 'git' | 'ref' | 'path' | 'license'>,
  cache: Cache,
  opts: GitSourceOptions = {},
): Promise<LockedGit> {
  const o = { ...opts, label: opts.label ?? name };
  const url = spec.git!;
  const ref = spec.ref!;
  assertGitTransport(name, url, ref);
  const resolved = await resolveRef(url, ref, cache, o);
  for (const w of resolved.warnings) opts.progress?.warn?.(`${name}: ${w}`);
  let mirrorDir: string;
  try {
    ({ mirrorDir } = await ensureCommit(url, resolved.commit, cache, o));
  } catch (err) {
    if (err instanceof XenrelError && err.code === 'E_COMMIT_NOT_FOUND' && resolved.refKind === 'commit')
      throw refNotFound(url, ref, await lsRemote(url, o).catch(() => new Map()), name);
    throw err;
  }
  const tree = (await readMarker(mirrorDir, resolved.commit)) ?? (await commitTreeHash(mirrorDir, resolved.commit, o));
  return {
    git: url,
    ref,
    commit: resolved.commit,
    tree,
    path: spec.path,
    ...(spec.license ? { license: spec.license } : {}),
  };
}

/**
 * Make the locked commit available in the cache and check its content against the
 * lock. No network access when the commit is already in the mirror; `cached` says so.
 */
export async function fetchGit(
  name: string,
  locked: LockedGit,
  cache: Cache,
  opts: GitSourceOptions = {},
): Promise<{ cached: boolean; mirrorDir: string; source?: string }> {
  const o = { ...opts, label: opts.label ?? name };
  const { mirrorDir, fetched, source } = await ensureCommit(locked.git, locked.commit, cache, o);
  const known = await readMarker(mirrorDir, locked.commit);
  const actual = known === locked.tree ? known : await commitTreeHash(mirrorDir, locked.commit, o);
  if (actual !== locked.tree)
    throw new XenrelError(
      'E_TREE_MISMATCH',
      `component ${name}: commit ${locked.commit} of ${locked.git} has tree hash ${actual}, the lock says ${locked.tree}`,
      {
        exitCode: ExitCode.fetch,
        hint: `the lockfile was edited or written by an incompatible xenrel; re-lock with \`xenrel lock --update ${name}\` after checking why`,
        details: { component: name, url: locked.git, commit: locked.commit, expected: locked.tree, actual },
      },
    );
  return { cached: !fetched, mirrorDir, ...(source ? { source } : {}) };
}
