import { copyFile, cp, lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import { diffEntries, treeHash, type TreeDiff, type TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import type { LockedComponent, Lockfile } from '../types.js';
import { expectedTree, storeAbs, storeKind, storeRel } from '../layout/xenrel-dir.js';
import { fileMatches } from './store.js';
import { exists, recoverSiblings, stagingPath, swapInto } from './swap.js';

export interface MaterialiseOptions {
  without?: string[];
  /** Store entries already verified by placeStore, by component. */
  entries?: Record<string, TreeEntry[]>;
}

export type MaterialiseAction = 'unchanged' | 'placed' | 'restored';

export interface MaterialiseResult {
  name: string;
  path: string;
  action: MaterialiseAction;
  diff?: TreeDiff;
}

function inUse(name: string, path: string, why: string): XenrelError {
  return new XenrelError('E_PATH_IN_USE', `component ${name}: ${path} ${why}; xenrel will not replace it`, {
    exitCode: ExitCode.usage,
    hint: `move it away (or run \`make distclean\`), then run \`xenrel vendor\` again; or leave the component out with --without ${name}`,
  });
}

async function verifiedStoreEntries(treeRoot: string, name: string, c: LockedComponent, known?: TreeEntry[]): Promise<TreeEntry[]> {
  if (known) return known;
  const entries = await walkTree(storeAbs(treeRoot, name, c), { ignoreNames: [] });
  if (treeHash(entries) !== expectedTree(c))
    throw new XenrelError('E_STORE_MISMATCH', `component ${name}: ${storeRel(name, c)} does not match the lock`, {
      exitCode: ExitCode.checkFailed,
      hint: 'run `xenrel vendor` to restore it',
    });
  return entries;
}

async function materialiseOne(treeRoot: string, name: string, c: LockedComponent, known?: TreeEntry[]): Promise<MaterialiseResult> {
  const target = join(treeRoot, c.path);
  await recoverSiblings(dirname(target), new Set([basename(target)]));
  const st = await lstat(target).catch(() => undefined);
  const src = storeAbs(treeRoot, name, c);
  if (storeKind(c) === 'tree') {
    const want = await verifiedStoreEntries(treeRoot, name, c, known);
    let current: TreeEntry[] | undefined;
    if (st) {
      if (st.isSymbolicLink()) throw inUse(name, c.path, 'is a symlink');
      if (!st.isDirectory()) throw inUse(name, c.path, 'is not a folder');
      current = await walkTree(target);
      if (treeHash(current) === treeHash(want)) return { name, path: c.path, action: 'unchanged' };
    }
    if (current) {
      // Restore like `git reset --hard`: locked files come back, files the lock does not
      // name (build outputs: SeaBIOS's .config, OVMF's Makefile) stay.
      const diff = diffEntries(want, current);
      if (!diff.modified.length && !diff.missing.length) return { name, path: c.path, action: 'unchanged' };
      // A git checkout someone made there (a build without xenrel): their work would be lost.
      if (await exists(join(target, '.git'))) throw inUse(name, c.path, 'is a git checkout that differs from the lock');
      await restoreFiles(src, target, [...diff.modified, ...diff.missing]);
      return { name, path: c.path, action: 'restored', diff: { ...diff, extra: [] } };
    }
    const staged = stagingPath(target);
    try {
      await cp(src, staged, { recursive: true, verbatimSymlinks: true, errorOnExist: true });
      await swapInto(staged, target);
    } catch (err) {
      await rm(staged, { recursive: true, force: true });
      throw wrapFsError(err, `placing ${name} at ${c.path}`);
    }
    return { name, path: c.path, action: 'placed' };
  }
  const integrity = (c as { integrity?: string }).integrity!;
  if (st) {
    if (!st.isFile()) throw inUse(name, c.path, 'is not a regular file');
    if (await fileMatches(target, integrity)) return { name, path: c.path, action: 'unchanged' };
  }
  if (!(await fileMatches(src, integrity)))
    throw new XenrelError('E_STORE_MISMATCH', `component ${name}: ${storeRel(name, c)} does not match the lock`, {
      exitCode: ExitCode.checkFailed,
      hint: 'run `xenrel vendor` to restore it',
    });
  const staged = stagingPath(target);
  try {
    await mkdir(dirname(target), { recursive: true });
    await copyFile(src, staged);
    await swapInto(staged, target);
  } catch (err) {
    await rm(staged, { force: true });
    throw wrapFsError(err, `placing ${name} at ${c.path}`);
  }
  const file = basename(c.path);
  return st ? { name, path: c.path, action: 'restored', diff: { missing: [], extra: [], modified: [file] } } : { name, path: c.path, action: 'placed' };
}

/** Put back `paths` (relative) from `src` into `dest`, each file through a temp name and a rename. */
async function restoreFiles(src: string, dest: string, paths: string[]): Promise<void> {
  for (const rel of paths) {
    const to = join(dest, rel);
    const from = join(src, rel);
    // Whatever stands in the way of a parent folder or the file itself goes.
    let parent = dirname(to);
    const blockers: string[] = [];
    while (parent.length > dest.length) {
      const st = await lstat(parent).catch(() => undefined);
      if (st && !st.isDirectory()) blockers.push(parent);
      parent = dirname(parent);
    }
    for (const b of blockers) await rm(b, { force: true });
    await mkdir(dirname(to), { recursive: true });
    const st = await lstat(to).catch(() => undefined);
    if (st?.isDirectory()) await rm(to, { recursive: true, force: true });
    const tmp = stagingPath(to);
    try {
      const sst = await lstat(from);
      if (sst.isSymbolicLink()) await symlink(await readlink(from), tmp);
      else await copyFile(from, tmp);
      await rename(tmp, to);
    } catch (err) {
      await rm(tmp, { force: true });
      throw wrapFsError(err, `restoring ${to}`);
    }
  }
}

/**
 * Copy each vendored component from the store to the path Xen's make expects (so make
 * skips its fetch). A copy, not a link: the build writes into some of these folders
 * (SeaBIOS's .config, OVMF's Makefile) and the store must stay pristine.
 */
export async function materialise(treeRoot: string, lock: Lockfile, opts: MaterialiseOptions = {}): Promise<MaterialiseResult[]> {
  const without = opts.without ?? [];
  const out: MaterialiseResult[] = [];
  for (const name of Object.keys(lock.components).sort()) {
    if (without.includes(name)) continue;
    out.push(await materialiseOne(treeRoot, name, lock.components[name]!, opts.entries?.[name]));
  }
  return out;
}
