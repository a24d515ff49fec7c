import { basename } from 'node:path';
import { XenrelError, ExitCode } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import type { EntrySource } from '../archive/entries.js';
import { isLockedGit, isLockedTarball, vendoredTreeOf } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import { hasNested } from '../nested/build.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { openVerifiedContent, requireCachedContent } from '../sources/http-content.js';
import { fileEntry, treeHash, type TreeEntry } from '../tree/hash.js';
import { SOURCES_DIR } from '../layout/xenrel-dir.js';
import { sriHex } from '../util/sri.js';
import type { BlobHashCache } from './blob-hash-cache.js';
import { gitProjectFiles } from './git-project.js';

/**
 * Components that go into a release straight from the cache, without a copy on disk: a git
 * component's commit read from its mirror (the same reader as the project's files), a
 * tarball's bytes from the content store. Each is checked against the lock first (tree
 * hash, integrity). Components with nested sources or patches, and local ones, are left
 * to vendor's store, which builds them in a folder.
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
      if (isLockedGit(c) && !hasNested(c)) {
        // Placing is offline: the release fetched what the cache lacked before this.
        const { mirrorDir } = await ensureCommit(c.git, c.commit, cache, { offline: true, label: name });
        const read = (hashCache?: BlobHashCache) =>
          gitProjectFiles(mirrorDir, c.commit, { skip: () => false, hashCache, raw: true, prefix });
        let files = await read(opts.hashCache);
        readers.push(files);
        const want = vendoredTreeOf(c);
        let got = treeHash(files.entries);
        if (got !== want && opts.hashCache) {
          // The blob-hash cache could be what is wrong: hash every blob again before blaming git.
          files = await read();
          readers.push(files);
          got = treeHash(files.entries);
        }
        if (got !== want)
          throw new XenrelError(
            'E_TREE_MISMATCH',
            `component ${name}: commit ${c.commit} has tree hash ${got}, the lock says ${want}`,
            {
              exitCode: ExitCode.fetch,
              hint: `run \`xenrel fetch ${name}\`; if it persists, re-lock with \`xenrel lock --update ${name}\``,
            },
          );
        placed.set(name, files.entries);
        sources.push(...files.sources);
        for (const e of files.entries) entries.push({ ...e, path: prefix + e.path });
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
