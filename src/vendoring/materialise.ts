import { copyFile, cp, link, lstat, mkdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import { diffEntries, treeHash, type TreeDiff, type TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { storeAbs, storeKind, storeRel } from '../layout/xenrel-dir.js';
import { lockedIntegrity, vendoredTreeOf } from '../model/kind.js';
import { fileMatches } from '../sources/local.js';
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

async function verifiedStoreEntries(
  treeRoot: string,
  name: string,
  c: LockedComponent,
  known?: TreeEntry[],
): Promise<TreeEntry[]> {
  if (known) return known;
  const entries = await walkTree(storeAbs(treeRoot, name, c), { ignoreNames: [] });
  if (treeHash(entries) !== vendoredTreeOf(c))
    throw new XenrelError('E_STORE_MISMATCH', `component ${name}: ${storeRel(name, c)} does not match the lock`, {
      exitCode: ExitCode.checkFailed,
      hint: 'run `xenrel vendor` to restore it',
    });
  return entries;
}

async function materialiseOne(
  treeRoot: string,
  name: string,
  c: LockedComponent,
  known?: TreeEntry[],
): Promise<MaterialiseResult> {
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
      // The folder is rebuilt beside the old one and swapped in, so a kill leaves it entirely
      // old or entirely restored. Unchanged files and build outputs are hard-linked from the
      // old folder: their inodes and time stamps stay, and make rebuilds nothing for them.
      const staged = stagingPath(target);
      try {
        await restoreInto(staged, src, target, want, new Set([...diff.modified, ...diff.missing]), current);
        await swapInto(staged, target);
      } catch (err) {
        await rm(staged, { recursive: true, force: true });
        throw wrapFsError(err, `restoring ${name} at ${c.path}`);
      }
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
  const integrity = lockedIntegrity(c)!;
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
  return st
    ? { name, path: c.path, action: 'restored', diff: { missing: [], extra: [], modified: [file] } }
    : { name, path: c.path, action: 'placed' };
}

/**
 * `staged` as the locked tree: `fresh` paths copied from the store `src`, every other locked
 * file and every file the lock does not name (build outputs) linked from `old`.
 */
async function restoreInto(
  staged: string,
  src: string,
  old: string,
  want: TreeEntry[],
  fresh: Set<string>,
  current: TreeEntry[],
): Promise<void> {
  const locked = new Set(want.map((e) => e.path));
  const place = async (rel: string, from: string, linkIt: boolean) => {
    const to = join(staged, rel);
    await mkdir(dirname(to), { recursive: true });
    const st = await lstat(from);
    if (st.isSymbolicLink()) return symlink(await readlink(from), to);
    if (linkIt) {
      try {
        return await link(from, to);
      } catch {
        // a filesystem without hard links: a copy with the old time stamps
        await copyFile(from, to);
        return utimes(to, st.atime, st.mtime);
      }
    }
    await copyFile(from, to);
  };
  await mkdir(staged);
  for (const e of want)
    await place(e.path, fresh.has(e.path) ? join(src, e.path) : join(old, e.path), !fresh.has(e.path));
  // A build output where the lock now has a file (or a folder) of that name goes, as a restore would remove it
  const underLocked = (rel: string) => {
    for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) if (locked.has(rel.slice(0, i))) return true;
    return false;
  };
  for (const e of current) {
    if (locked.has(e.path) || underLocked(e.path) || (await lstat(join(staged, e.path)).catch(() => undefined)))
      continue;
    await place(e.path, join(old, e.path), true);
  }
}

/**
 * Copy each vendored component from the store to the path Xen's make expects (so make
 * skips its fetch). A copy, not a link: the build writes into some of these folders
 * (SeaBIOS's .config, OVMF's Makefile) and the store must stay pristine.
 */
export async function materialise(
  treeRoot: string,
  lock: Lockfile,
  opts: MaterialiseOptions = {},
): Promise<MaterialiseResult[]> {
  const without = opts.without ?? [];
  const out: MaterialiseResult[] = [];
  for (const name of Object.keys(lock.components).sort()) {
    if (without.includes(name)) continue;
    out.push(await materialiseOne(treeRoot, name, lock.components[name]!, opts.entries?.[name]));
  }
  return out;
}
