import { basename } from 'node:path';
import { XenrelError, ExitCode } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import type { EntrySource } from '../archive/entries.js';
import { isLockedGit, isLockedTarball, vendoredTreeOf } from '../model/kind.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { openVerifiedContent, requireCachedContent } from '../sources/http-content.js';
import { compareBytewise, fileEntry, sortEntries, treeHash, type TreeEntry } from '../tree/hash.js';
import { SOURCES_DIR } from '../layout/xenrel-dir.js';
import { sriHex } from '../util/sri.js';
import type { BlobHashCache } from './blob-hash-cache.js';
import { gitProjectFiles, type GitProjectFiles } from './git-project.js';
import { treeMismatch } from '../components/tree-mismatch.js';

/**
 * Components that go into a release straight from the cache, without a copy on disk: a git
 * component's commit read from its mirror (the same reader as the project's files), a
 * tarball's bytes from the content store. Each is checked against the lock first (tree
 * hash, integrity). A component with git children (submodules, wrap-git) is its commit and
 * theirs laid out at their paths. Those with patches, wrap-file children or overlays, and
 * local ones, are left to vendor's store, which builds them in a folder.
 */
export interface StreamedComponents {
  /** Archive entries under `.xenrel/sources/NAME/`. */
  sources: EntrySource[];
  /** Their tree-hash entries, under the same paths. */
  entries: TreeEntry[];
  /** Each streamed component: its own tree entries (a folder), or undefined (a file). */
  placed: Map<string, TreeEntry[] | undefined>;
  /** Stops the git readers; call it whatever happened. */
  close(): Promise<void>;
}

/** One git commit of a component: its own (path '') or a nested child's, at its path. */
interface GitPart {
  path: string;
  git: string;
  commit: string;
  tree: string;
}

/**
 * The commits a git component is made of, when placing it is nothing but laying them out
 * (submodules and wrap-git children without overlays, no patches); else undefined.
 */
function gitParts(c: LockedComponent): GitPart[] | undefined {
  if (!isLockedGit(c) || c.patches?.length) return undefined;
  const parts: GitPart[] = [{ path: '', git: c.git, commit: c.commit, tree: c.tree }];
  const children = Object.entries(c.children ?? {}).sort(([a], [b]) => compareBytewise(a, b));
  for (const [path, child] of children) {
    if (child.kind === 'wrap-file' || child.overlay || child.diffFiles?.length) return undefined;
    parts.push({ path, git: child.git, commit: child.commit, tree: child.tree });
  }
  return parts;
}

/** A commit's files from its mirror, checked against the tree hash the lock gives it. */
async function readPart(
  name: string,
  part: GitPart,
  cache: Cache,
  prefix: string,
  opts: { hashCache?: BlobHashCache },
): Promise<GitProjectFiles> {
  const label = part.path ? `${name}/${part.path}` : name;
  // Placing is offline: the release fetched what the cache lacked before this.
  const { mirrorDir } = await ensureCommit(part.git, part.commit, cache, { offline: true, label });
  const read = (hashCache?: BlobHashCache) =>
    gitProjectFiles(mirrorDir, part.commit, { skip: () => false, hashCache, raw: true, prefix, bare: true });
  let files = await read(opts.hashCache);
  let got = treeHash(files.entries);
  if (got !== part.tree && opts.hashCache) {
    // The blob-hash cache could be what is wrong: hash every blob again (and keep those
    // hashes instead) before blaming git.
    await files.close();
    opts.hashCache.distrust();
    files = await read(opts.hashCache);
    got = treeHash(files.entries);
  }
  if (got !== part.tree) {
    await files.close();
    const what = `${part.path ? `nested source ${part.path} at ` : ''}commit ${part.commit}`;
    throw treeMismatch(name, what, got, part.tree);
  }
  return files;
}

/** As vendor refuses it: a child under a file or symlink of what is placed, or over content. */
function assertChildPlace(name: string, path: string, placed: readonly TreeEntry[]): void {
  for (const e of placed)
    if (e.path === path || e.path.startsWith(`${path}/`) || path.startsWith(`${e.path}/`))
      throw new XenrelError(
        'E_CHILD_PATH',
        e.path.startsWith(`${path}/`)
          ? `component ${name}: ${path} is not empty in the component, but a nested source goes there`
          : `component ${name}: cannot place a nested source at ${path}: ${e.path} is ${e.mode === '120000' ? 'a symlink' : 'a file'} in the component`,
        { exitCode: ExitCode.usage },
      );
}

export async function streamedComponents(
  lock: Lockfile,
  cache: Cache,
  names: readonly string[],
  opts: { hashCache?: BlobHashCache } = {},
): Promise<StreamedComponents> {
  const sources: EntrySource[] = [];
  const entries: TreeEntry[] = [];
  const placed = new Map<string, TreeEntry[] | undefined>();
  const readers: { close(): Promise<void> }[] = [];
  const close = async () => {
    const r = await Promise.allSettled(readers.map((x) => x.close()));
    for (const x of r) if (x.status === 'rejected') throw x.reason;
  };
  try {
    for (const name of names) {
      const c = lock.components[name]!;
      const prefix = `${SOURCES_DIR}/${name}/`;
      const parts = gitParts(c);
      if (parts) {
        const own: TreeEntry[] = [];
        for (const part of parts) {
          const files = await readPart(name, part, cache, `${prefix}${part.path ? `${part.path}/` : ''}`, opts);
          readers.push(files);
          if (part.path) assertChildPlace(name, part.path, own);
          for (const e of files.entries) own.push(part.path ? { ...e, path: `${part.path}/${e.path}` } : e);
          sources.push(...files.sources);
        }
        // A commit with no files is an empty folder in vendor's store, and so in the tarball.
        for (const part of parts)
          if (!own.some((e) => part.path === '' || e.path.startsWith(`${part.path}/`)))
            sources.push({ kind: 'dir', path: `${prefix}${part.path}`.replace(/\/$/, '') });
        const got = treeHash(own);
        const want = vendoredTreeOf(c);
        if (got !== want) throw treeMismatch(name, 'the content in the cache', got, want);
        const sorted = sortEntries(own);
        placed.set(name, sorted);
        for (const e of sorted) entries.push({ ...e, path: prefix + e.path });
      } else if (isLockedTarball(c) && (sriHex(c.integrity, 'sha512') || sriHex(c.integrity, 'sha256'))) {
        // (A pin by sha384 alone: the shim index names the store copy's sha256, so it is placed.)
        const { sha256, size } = await requireCachedContent(cache, c.integrity);
        const path = prefix + basename(c.path);
        placed.set(name, undefined);
        // Checked again while the writer reads it: a byte changed since is an error, not a release.
        sources.push({
          kind: 'file',
          path,
          executable: false,
          size,
          content: { type: 'reader', open: () => openVerifiedContent(cache, c.integrity) },
        });
        entries.push(fileEntry(path, false, sha256));
      }
    }
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { sources, entries, placed, close };
}
