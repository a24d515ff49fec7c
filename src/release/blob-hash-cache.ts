import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * sha256 and size of git blobs, keyed by blob id, in the xenrel cache: a blob id names
 * its bytes, so a re-release of a commit (or of one that shares most files with it) reads
 * no blob twice for hashing. One text file, `<oid> <size> <sha256>` a line, rewritten
 * atomically with the newest entries first and capped; a damaged line is ignored.
 * The cache only speeds up the release: the read-back verify recomputes every hash from
 * the written tarball, so a wrong entry makes the release fail, never succeed wrongly.
 */

export interface BlobHash {
  size: number;
  sha256: string;
}

const LINE = /^([0-9a-f]{40}|[0-9a-f]{64}) (\d{1,15}) ([0-9a-f]{64})$/;
const MAX_ENTRIES = 200_000;

export const blobHashCacheFile = (cacheRoot: string) => join(cacheRoot, 'blob-sha256', 'v1.txt');

export class BlobHashCache {
  private readonly known = new Map<string, BlobHash>();
  private readonly added = new Map<string, BlobHash>();

  private constructor(private readonly file: string) {}

  static async open(cacheRoot: string): Promise<BlobHashCache> {
    const c = new BlobHashCache(blobHashCacheFile(cacheRoot));
    const text = await readFile(c.file, 'latin1').catch(() => '');
    for (const l of text.split('\n')) {
      const m = LINE.exec(l);
      if (m) c.known.set(m[1]!, { size: Number(m[2]), sha256: m[3]! });
    }
    return c;
  }

  get(oid: string): BlobHash | undefined {
    return this.added.get(oid) ?? this.known.get(oid);
  }

  set(oid: string, h: BlobHash): void {
    if (!this.known.has(oid)) this.added.set(oid, h);
  }

  /** Writes what was added (a cache that cannot be written is not an error: it is only a cache). */
  async save(): Promise<void> {
    if (!this.added.size) return;
    const lines: string[] = [];
    for (const [oid, h] of this.added) lines.push(`${oid} ${h.size} ${h.sha256}\n`);
    for (const [oid, h] of this.known) {
      if (lines.length >= MAX_ENTRIES) break;
      if (!this.added.has(oid)) lines.push(`${oid} ${h.size} ${h.sha256}\n`);
    }
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, lines.join(''));
    } catch {
      // read-only cache, disk full: the next release hashes again
    }
  }

  /** Lets go of what is in memory; the saved file stays. */
  clear(): void {
    this.known.clear();
    this.added.clear();
  }

  /** Forgets everything (after a release whose read-back failed: the cache may be the cause). */
  async drop(): Promise<void> {
    this.known.clear();
    this.added.clear();
    await rm(this.file, { force: true });
  }
}
