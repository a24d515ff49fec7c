import { cp, lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import { safeExtract } from '../archive/extract.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { exportTree } from '../sources/git/tree.js';
import { openVerifiedContent } from '../sources/tarball.js';
import { opsFor } from '../components/dispatch.js';
import { storeKind } from '../layout/xenrel-dir.js';
import { compareBytewise, treeHash, type TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import { isLockedGit } from '../model/kind.js';
import type { LockedChild, LockedComponent } from '../model/lock.js';
import { applyPatches, runPatch } from './patches.js';
import { wrapFileEntries } from './children.js';
import { treeMismatch } from '../components/tree-mismatch.js';

/**
 * The folder vendor places for a component with children or patches, built in `dest` (a
 * new or empty staging folder) from the cache alone (never the network):
 *   1. the component's own content (git export, or a copy of the local directory);
 *   2. each child at its path, parents before their nested children: git children
 *      exported from their mirrors, wrap-file archives extracted (top folder stripped);
 *      then, as meson does after a download, `patch_directory` copied over the child and
 *      `diff_files` applied;
 *   3. the component's `patches:`, in order.
 * No `.git` anywhere: OVMF's makefile then skips `git submodule update`, and QEMU's meson
 * finds every subproject folder in place (with --disable-download nothing else is tried).
 * The lock's `vendoredTree` is the tree hash of this folder; `lock` builds it the same way.
 */

export const hasNested = (c: LockedComponent): boolean =>
  Boolean(('children' in c && c.children && Object.keys(c.children).length) || ('patches' in c && c.patches?.length));

/** No folder on the way from `root` to `rel` may be a symlink (a child must not be written through one). */
async function assertNoSymlinkOnPath(name: string, root: string, rel: string): Promise<void> {
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const st = await lstat(join(root, ...parts.slice(0, i))).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink() || (i < parts.length && !st.isDirectory()) || (i === parts.length && !st.isDirectory()))
      throw new XenrelError(
        'E_CHILD_PATH',
        `component ${name}: cannot place a nested source at ${rel}: ${parts.slice(0, i).join('/')} is ${st.isSymbolicLink() ? 'a symlink' : 'a file'} in the component`,
        {
          exitCode: ExitCode.usage,
          hint: 'the upstream tree and its .gitmodules/wrap files disagree; pin another revision or patch it',
        },
      );
  }
}

async function placeChild(name: string, path: string, c: LockedChild, cache: Cache, dest: string): Promise<void> {
  const abs = join(dest, path);
  await assertNoSymlinkOnPath(name, dest, path);
  // A gitlink exports as nothing; anything already there is content the child would hide.
  const existing = await readdir(abs).catch(() => undefined);
  if (existing?.length)
    throw new XenrelError(
      'E_CHILD_PATH',
      `component ${name}: ${path} is not empty in the component, but a nested source goes there`,
      { exitCode: ExitCode.usage },
    );
  if (c.kind === 'wrap-file') {
    const tmp = `${abs}.xenrel-extract`;
    await mkdir(dirname(abs), { recursive: true });
    const r = await safeExtract(openVerifiedContent(cache, c.integrity), tmp, { name: `${name}/${path} (${c.url})` });
    const directory = path.split('/').pop()!;
    // Same rule as at lock time (throws for a layout meson would not use).
    wrapFileEntries(`${name}/${path}`, r.entries, r.topDirs, directory, Boolean(c.leadDirectoryMissing));
    if (existing) await rm(abs, { recursive: true });
    await rename(c.leadDirectoryMissing ? tmp : join(tmp, directory), abs);
    await rm(tmp, { recursive: true, force: true });
  } else {
    const { mirrorDir } = await ensureCommit(c.git, c.commit, cache, { offline: true, label: `${name}/${path}` });
    await exportTree(mirrorDir, c.commit, abs);
  }
  // Check the child's own content before anything is laid over it.
  const got = treeHash(await walkTree(abs, { ignoreNames: [] }));
  if (got !== c.tree) throw treeMismatch(name, `nested source ${path}`, got, c.tree);
}

async function applyWrapExtras(name: string, path: string, c: LockedChild, dest: string): Promise<void> {
  const abs = join(dest, path);
  if (c.overlay) {
    await assertNoSymlinkOnPath(name, dest, c.overlay);
    const src = join(dest, c.overlay);
    if (!(await lstat(src).catch(() => undefined))?.isDirectory())
      throw new XenrelError(
        'E_WRAP',
        `component ${name}: ${c.wrap} names patch_directory ${c.overlay}, which is not a folder in the component`,
        {
          exitCode: ExitCode.usage,
          hint: 'meson would fail the same way; fix the wrap or the packagefiles folder',
        },
      );
    await cp(src, abs, { recursive: true, force: true, verbatimSymlinks: true });
  }
  for (const d of c.diffFiles ?? []) {
    const r = await runPatch(abs, join(dest, d));
    if (r.code !== 0)
      throw new XenrelError(
        'E_PATCH_FAILED',
        `component ${name}: ${d} (diff_files of ${c.wrap}) does not apply to ${path}:\n${r.output.trim()}`,
        { exitCode: ExitCode.usage },
      );
  }
}

/**
 * Steps 2 and 3 on a staging folder that already holds the component's own content (the
 * vendor store's hook): children, their overlays, then the patches. Returns the entries.
 */
export async function finishComponentTree(
  name: string,
  c: LockedComponent,
  cache: Cache,
  dest: string,
  configRoot: string,
): Promise<TreeEntry[]> {
  try {
    if (isLockedGit(c)) {
      const children = Object.entries(c.children ?? {}).sort(([a], [b]) => compareBytewise(a, b));
      for (const [path, child] of children) await placeChild(name, path, child, cache, dest);
      // Overlays after every child is in place (a packagefiles folder may itself be a child).
      for (const [path, child] of children) await applyWrapExtras(name, path, child, dest);
    }
    const patches = ('patches' in c && c.patches) || [];
    if (patches.length) await applyPatches(name, dest, patches, configRoot);
    return await walkTree(dest, { ignoreNames: [] });
  } catch (err) {
    throw wrapFsError(err, `building ${name}`);
  }
}

/** Build the vendored folder of `c` in `dest` (new or empty); returns its entries (sorted). */
export async function buildComponentTree(
  name: string,
  c: LockedComponent,
  cache: Cache,
  dest: string,
  configRoot: string,
): Promise<TreeEntry[]> {
  try {
    if (storeKind(c) !== 'tree')
      throw new XenrelError(
        'E_LOCK',
        `component ${name}: only git components and local directories can have nested sources or patches`,
        { exitCode: ExitCode.usage },
      );
    await opsFor(c).placeTree(name, c, cache, dest, configRoot, true);
  } catch (err) {
    throw wrapFsError(err, `building ${name}`);
  }
  return finishComponentTree(name, c, cache, dest, configRoot);
}

/** `vendoredTree` for the lock: build the folder in a temporary place, hash it, remove it. */
export async function computeVendoredTree(
  name: string,
  c: LockedComponent,
  cache: Cache,
  configRoot: string,
): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), 'xenrel-build-'));
  try {
    return treeHash(await buildComponentTree(name, c, cache, join(tmp, 'tree'), configRoot));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
