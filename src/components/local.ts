import { copyFile, cp } from 'node:fs/promises';
import { XenrelError, ExitCode } from '../errors.js';
import type { LockedLocal } from '../model/lock.js';
import { fileMatches, localSourcePath, lockLocal, verifyLocal } from '../sources/local.js';
import { treeHash, treeHashHex } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import { sriDigest } from '../util/sri.js';
import type { KindOps } from './kind.js';

const changedHint = (name: string) =>
  `restore the prebuilt input, or run \`xenrel lock --update ${name}\` if the change is intended`;

function needRoot(name: string, root: string | undefined): string {
  if (root === undefined)
    throw new XenrelError('E_CONFIG', `component ${name}: a local source needs the config to find its path`, {
      exitCode: ExitCode.usage,
    });
  return root;
}

/** A prebuilt file or directory beside the config, locked to its integrity (file) or tree hash (directory). */
export const local: KindOps<LockedLocal> = {
  kind: 'local',
  pinOf: (spec) => spec.local!,
  lockedPin: (c) => c.tree ?? c.integrity,
  downloadSize: () => undefined,
  describe: (c) => ({
    kind: 'local',
    origin: c.local,
    // A file is pinned by its integrity, a folder by its tree hash.
    ...(c.integrity
      ? { digest: sriDigest(c.integrity), integrity: c.integrity }
      : c.tree
        ? { digest: { algorithm: 'xenrelTree' as const, hex: treeHashHex(c.tree) } }
        : {}),
    path: c.path,
  }),

  lock: (name, spec, ctx) => lockLocal(name, spec, needRoot(name, ctx.configRoot)),

  // No network either way, so offline too.
  async drift(name, c, ctx) {
    try {
      await verifyLocal(name, c, needRoot(name, ctx.configRoot));
      return undefined;
    } catch (err) {
      return { fields: [], reason: (err as Error).message };
    }
  },

  async fetch(name, c, ctx) {
    await verifyLocal(name, c, needRoot(name, ctx.configRoot));
    return { status: 'verified', line: 'local, verified' };
  },

  inCache: async () => null,

  async placeTree(name, c, _cache, dest, configRoot, check) {
    if (!c.tree)
      throw new XenrelError('E_LOCK', `component ${name}: a local file cannot be placed as a folder`, {
        exitCode: ExitCode.usage,
      });
    await cp(localSourcePath(configRoot, c.local), dest, {
      recursive: true,
      verbatimSymlinks: true,
      errorOnExist: true,
    });
    // Checked (a folder with children or patches is built on it): every name counts, `.git` too.
    const entries = await walkTree(dest, check ? { ignoreNames: [] } : {});
    const own = treeHash(entries);
    if (check && own !== c.tree)
      throw new XenrelError(
        'E_LOCAL_CHANGED',
        `component ${name}: ${c.local} no longer matches the lock (${c.tree} expected, found ${own})`,
        {
          exitCode: ExitCode.checkFailed,
          hint: changedHint(name),
        },
      );
    return entries;
  },

  async placeFile(name, c, _cache, destFile, configRoot) {
    const src = localSourcePath(configRoot, c.local);
    await copyFile(src, destFile);
    if (!c.integrity || !(await fileMatches(destFile, c.integrity)))
      throw new XenrelError(
        'E_LOCAL_CHANGED',
        `component ${name}: ${src} no longer matches the lock (${c.integrity})`,
        {
          exitCode: ExitCode.checkFailed,
          hint: changedHint(name),
        },
      );
  },
};
