import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import { opsFor } from '../components/dispatch.js';
import { fileMatches } from '../sources/local.js';
import { diffEntries, treeHash, type TreeDiff, type TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import { lockedIntegrity, vendoredTreeOf } from '../model/kind.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { finishComponentTree, hasNested } from '../nested/build.js';
import { SOURCES_DIR, storeDirAbs, storeKind } from '../layout/xenrel-dir.js';
import { exists, recoverSiblings, removeAtomically, stagingPath, swapInto } from './swap.js';
import { treeMismatch } from '../components/tree-mismatch.js';

export interface PlaceOptions {
  /** Components to leave out (removed from the store if a previous run placed them). */
  without?: string[];
  /** Where `local:` paths are relative to (the config's folder); default the tree root. */
  configRoot?: string;
  progress?: ProgressSink;
  /**
   * Called with the staging folder of a folder component after its upstream content is
   * written, before the hash check: where nested children (submodules, meson wraps) and
   * patches are added, so the result is checked against the lock's `vendoredTree`.
   */
  finishTree?: (name: string, c: LockedComponent, stagingDir: string, cache: Cache) => Promise<void>;
  /**
   * Components the caller puts into an archive straight from the cache (a release): not
   * placed here. Each maps to its folder's tree entries (for the shim's manifests), or to
   * undefined for a file.
   */
  streamed?: ReadonlyMap<string, TreeEntry[] | undefined>;
}

export type PlaceAction = 'unchanged' | 'placed' | 'restored' | 'left-out' | 'removed' | 'streamed';

export interface PlaceResult {
  name: string;
  action: PlaceAction;
  /** For `restored`: what was wrong with the copy that was replaced. */
  diff?: TreeDiff;
  /** Tree entries of the placed folder (for the shim's manifests). */
  entries?: TreeEntry[];
}

function requireIntegrity(name: string, c: LockedComponent): string {
  const integrity = lockedIntegrity(c);
  if (!integrity)
    throw new XenrelError('E_LOCK', `component ${name}: the lock has no integrity for ${c.path}`, {
      exitCode: ExitCode.usage,
      hint: 'run `xenrel lock` again',
    });
  return integrity;
}

function requireTree(name: string, c: LockedComponent): string {
  const tree = vendoredTreeOf(c);
  if (!tree)
    throw new XenrelError('E_LOCK', `component ${name}: the lock has no tree hash`, {
      exitCode: ExitCode.usage,
      hint: 'run `xenrel lock` again',
    });
  return tree;
}

/** The current store copy of a folder component, or undefined when absent. */
async function currentTree(dir: string): Promise<TreeEntry[] | undefined> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return undefined;
  return walkTree(dir, { ignoreNames: [] });
}

async function placeOne(
  name: string,
  c: LockedComponent,
  cache: Cache,
  treeRoot: string,
  configRoot: string,
  opts: PlaceOptions,
): Promise<PlaceResult> {
  const dir = storeDirAbs(treeRoot, name);
  if (storeKind(c) === 'tree') {
    const want = requireTree(name, c);
    const current = await currentTree(dir);
    if (current && treeHash(current) === want) return { name, action: 'unchanged', entries: current };
    const staged = stagingPath(dir);
    try {
      let entries = await opsFor(c).placeTree(name, c, cache, staged, configRoot);
      if (opts.finishTree) {
        await opts.finishTree(name, c, staged, cache);
        entries = await walkTree(staged, { ignoreNames: [] });
      }
      // Nested sources and patches (src/nested/build.ts): the result is checked against vendoredTree.
      else if (hasNested(c)) entries = await finishComponentTree(name, c, cache, staged, configRoot);
      const got = treeHash(entries);
      if (got !== want) throw treeMismatch(name, 'the content in the cache', got, want);
      await swapInto(staged, dir);
      return current
        ? { name, action: 'restored', diff: diffEntries(entries, current), entries }
        : { name, action: 'placed', entries };
    } catch (err) {
      await rm(staged, { recursive: true, force: true });
      throw wrapFsError(err, `placing ${name} in ${SOURCES_DIR}`);
    }
  }
  // A file: the folder holds exactly that one file.
  const integrity = requireIntegrity(name, c);
  const file = basename(c.path);
  const listing = await readdir(dir).catch(() => undefined);
  if (listing && listing.length === 1 && listing[0] === file && (await fileMatches(join(dir, file), integrity)))
    return { name, action: 'unchanged' };
  const staged = stagingPath(dir);
  try {
    await mkdir(staged, { recursive: true });
    await opsFor(c).placeFile(name, c, cache, join(staged, file), configRoot);
    let diff: TreeDiff | undefined;
    if (listing) {
      diff = { missing: [], extra: listing.filter((f) => f !== file), modified: [] };
      if (listing.includes(file)) diff.modified.push(file);
      else diff.missing.push(file);
    }
    await swapInto(staged, dir);
    return { name, action: listing ? 'restored' : 'placed', diff };
  } catch (err) {
    await rm(staged, { recursive: true, force: true });
    throw wrapFsError(err, `placing ${name} in ${SOURCES_DIR}`);
  }
}

/**
 * Put each locked component into `.xenrel/sources/`, verified against the lock (tree hash
 * or integrity), each through a staging folder and a rename. Never touches the network:
 * what the cache lacks is an error telling to run `xenrel fetch`. Components the lock no
 * longer names, and those left out, are removed from the store.
 */
export async function placeStore(
  lock: Lockfile,
  cache: Cache,
  treeRoot: string,
  opts: PlaceOptions = {},
): Promise<PlaceResult[]> {
  const without = opts.without ?? [];
  const configRoot = opts.configRoot ?? treeRoot;
  const sources = join(treeRoot, SOURCES_DIR);
  await mkdir(sources, { recursive: true });
  await recoverSiblings(sources);
  const results: PlaceResult[] = [];
  for (const name of Object.keys(lock.components).sort()) {
    const c = lock.components[name]!;
    if (without.includes(name)) {
      const removed = await removeAtomically(storeDirAbs(treeRoot, name));
      results.push({ name, action: removed ? 'removed' : 'left-out' });
      continue;
    }
    if (opts.streamed?.has(name)) {
      results.push({ name, action: 'streamed', entries: opts.streamed.get(name) });
      continue;
    }
    const size = opsFor(c).downloadSize(c);
    opts.progress?.start?.(name, size);
    const r = await placeOne(name, c, cache, treeRoot, configRoot, opts);
    if (size !== undefined) opts.progress?.advance?.(name, size);
    opts.progress?.done?.(name, r.action);
    results.push(r);
  }
  for (const entry of await readdir(sources)) {
    if (entry.startsWith('.') || entry in lock.components) continue;
    if (await exists(join(sources, entry))) {
      await removeAtomically(join(sources, entry));
      results.push({ name: entry, action: 'removed' });
    }
  }
  return results;
}
