import { stat } from 'node:fs/promises';
import { XenrelError, ExitCode } from '../errors.js';
import type { LockedGit } from '../model/lock.js';
import { ensureCommit, hasCommit } from '../sources/git/mirror.js';
import { checkRef } from '../sources/git/refs.js';
import { fetchGit, lockGit } from '../sources/git/source.js';
import { exportTree } from '../sources/git/tree.js';
import { treeHash } from '../tree/hash.js';
import type { KindOps } from './kind.js';
import { treeMismatch } from './tree-mismatch.js';

/** A git repository pinned by `ref`, locked to a commit and the tree hash of its content. */
export const git: KindOps<LockedGit> = {
  kind: 'git',
  pinOf: (spec) => spec.ref!,
  lockedPin: (c) => c.commit,
  downloadSize: () => undefined,
  describe: (c) => ({
    kind: 'git',
    origin: c.git,
    url: c.git,
    version: c.ref,
    digest: { algorithm: 'gitCommit', hex: c.commit },
    commit: c.commit,
    path: c.path,
  }),

  lock: (name, spec, ctx) =>
    lockGit(name, { git: spec.git!, ref: spec.ref!, path: spec.path, license: spec.license }, ctx.cache, {
      progress: ctx.progress,
    }),

  async drift(_name, c, ctx) {
    if (ctx.offline) return undefined;
    const r = await checkRef(c.git, c.ref, c.commit, ctx.cache);
    if (!r.moved) return undefined;
    return {
      fields: [{ field: 'commit', old: c.commit, new: r.newCommit }],
      reason: `${c.ref} now points to ${r.newCommit}${r.treesEqual === undefined ? '' : r.treesEqual ? ' (same content)' : ' (different content)'}`,
    };
  },

  async fetch(name, c, ctx) {
    const r = await fetchGit(name, c, ctx.cache, {
      offline: ctx.offline,
      progress: ctx.progress,
      mirrors: ctx.mirrors,
      premirrorOnly: ctx.premirrorOnly,
    });
    return {
      status: r.cached ? 'cached' : 'fetched',
      source: r.source ?? c.git,
      line: `fetched ${c.commit.slice(0, 12)}`,
    };
  },

  async inCache(c, cache) {
    const mirror = cache.gitMirrorDir(c.git);
    return (await stat(mirror).catch(() => undefined)) ? hasCommit(mirror, c.commit) : false;
  },

  async placeTree(name, c, cache, dest, _configRoot, check) {
    // Never the network here: `vendor` fetches first; placing is offline.
    const { mirrorDir } = await ensureCommit(c.git, c.commit, cache, { offline: true, label: name });
    const own = await exportTree(mirrorDir, c.commit, dest);
    if (!check) return own;
    const tree = treeHash(own);
    if (tree !== c.tree) throw treeMismatch(name, `commit ${c.commit}`, tree, c.tree);
    return own;
  },

  async placeFile(name) {
    throw new XenrelError('E_LOCK', `component ${name}: a git component cannot be placed as a file`, {
      exitCode: ExitCode.usage,
    });
  },
};
