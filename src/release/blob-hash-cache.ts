import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * sha256 and size of git blobs, keyed by blob id, in the xenrel cache: a blob id names
 * its bytes, so a re-release of a commit (or of one that shares most files with it) reads
 * no blob twice for hashing. One file per object-id length (SHA-1 and SHA-256
 * repositories) of fixed-size records sorted by id: id, size (64-bit), sha256. Lookups
 * are binary searches in the file's bytes, so opening costs one read however large the
 * cache has grown (a text cache of 200,000 lines took a quarter of a second to parse).
 * Rewritten atomically when a release adds entries, and capped: the entries this release
 * used stay. A file whose length is not a whole number of records is ignored.
 * The cache only speeds up the release: the read-back verify recomputes every hash from
 * the written tarball, so a wrong entry makes the release fail, never succeed wrongly.
 */

export interface BlobHash {
  size: number;
  sha256: string;
}

const MAX_ENTRIES = 200_000;
const SIZE_BYTES = 8;
const DIGEST_BYTES = 32;
const ID_LENGTHS = [20, 32] as const;
type IdLength = (typeof ID_LENGTHS)[number];
const recordBytes = (idLen: number) => idLen + SIZE_BYTES + DIGEST_BYTES;

const dirOf = (cacheRoot: string) => join(cacheRoot, 'blob-sha256');
export const blobHashCacheFile = (cacheRoot: string, idLen: IdLength = 20) =>
  join(dirOf(cacheRoot), idLen === 20 ? 'v2-sha1.bin' : 'v2-sha256.bin');
/** The text format of earlier versions: removed on the next save. */
const legacyFile = (cacheRoot: string) => join(dirOf(cacheRoot), 'v1.txt');

/** Sorted records of one id length. */
class Table {
  constructor(
    readonly idLen: IdLength,
    readonly bytes: Buffer,
  ) {}

  get count(): number {
    return this.bytes.length / recordBytes(this.idLen);
  }

  idAt(i: number): Buffer {
    const at = i * recordBytes(this.idLen);
    return this.bytes.subarray(at, at + this.idLen);
  }

  find(id: Buffer): number {
    let lo = 0;
    let hi = this.count - 1;
    const rec = recordBytes(this.idLen);
    const b = this.bytes;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = mid * rec;
      // A byte loop: Buffer#compare with offsets costs more than the comparison itself.
      let c = 0;
      for (let k = 0; k < this.idLen && c === 0; k++) c = b[at + k]! - id[k]!;
      if (c === 0) return mid;
      if (c > 0) hi = mid - 1;
      else lo = mid + 1;
    }
    return -1;
  }

  hashAt(i: number): BlobHash {
    const at = i * recordBytes(this.idLen) + this.idLen;
    return {
      size: Number(this.bytes.readBigUInt64BE(at)),
      sha256: this.bytes.toString('hex', at + SIZE_BYTES, at + SIZE_BYTES + DIGEST_BYTES),
    };
  }
}

function idLengthOf(oid: string): IdLength | undefined {
  return oid.length === 40 ? 20 : oid.length === 64 ? 32 : undefined;
}

/** `oid` as bytes in a reused buffer, or undefined when it is not all hex. */
const scratch = Buffer.alloc(32);
function idBytes(oid: string, idLen: IdLength): Buffer | undefined {
  // Buffer#write stops at the first pair that is not hex.
  return scratch.write(oid, 0, 'hex') === idLen ? scratch : undefined;
}

/**
 * The entries of one id length as records, in id order. Lower-case hex sorts as its bytes
 * do, so the ids are sorted as strings: no Buffer per entry before the records are written.
 */
function encodeById(entries: Iterable<[string, BlobHash]>, idLen: IdLength): Buffer {
  const list = [...entries].filter(([oid]) => idLengthOf(oid) === idLen && /^[0-9a-f]+$/.test(oid));
  list.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const rec = recordBytes(idLen);
  const out = Buffer.alloc(list.length * rec);
  let at = 0;
  for (const [oid, h] of list) {
    out.write(oid, at, 'hex');
    // size as 64-bit big-endian, byte by byte (the buffer calls cost more, per entry, cold)
    for (let k = 7, v = h.size; k >= 0 && v > 0; k--, v = Math.floor(v / 256)) out[at + idLen + k] = v % 256;
    out.write(h.sha256, at + idLen + SIZE_BYTES, 'hex');
    at += rec;
  }
  return out;
}

export class BlobHashCache {
  private readonly tables = new Map<IdLength, Table>();
  private readonly added = new Map<string, BlobHash>();
  /** Ids found in the tables during this run: kept when the cap drops entries. */
  private readonly used = new Set<string>();
  /** A saved entry proved wrong: the saved files are replaced by what this run hashes. */
  private distrusted = false;

  private constructor(
    private readonly root: string,
    private readonly maxEntries: number,
  ) {}

  /** `maxEntries`: the cap per id length (default 200,000, some 12 MB). */
  static async open(cacheRoot: string, opts: { maxEntries?: number } = {}): Promise<BlobHashCache> {
    const c = new BlobHashCache(cacheRoot, opts.maxEntries ?? MAX_ENTRIES);
    for (const idLen of ID_LENGTHS) {
      const bytes = await readFile(blobHashCacheFile(cacheRoot, idLen)).catch(() => undefined);
      if (bytes?.length && bytes.length % recordBytes(idLen) === 0) c.tables.set(idLen, new Table(idLen, bytes));
    }
    return c;
  }

  get(oid: string): BlobHash | undefined {
    const mine = this.added.get(oid);
    if (mine) return mine;
    const idLen = idLengthOf(oid);
    const table = idLen && this.tables.get(idLen);
    const id = table && idBytes(oid, idLen);
    if (!id) return undefined;
    const i = table.find(id);
    if (i < 0) return undefined;
    this.used.add(oid);
    return table.hashAt(i);
  }

  set(oid: string, h: BlobHash): void {
    const idLen = idLengthOf(oid);
    if (idLen && idBytes(oid, idLen) && !this.get(oid)) this.added.set(oid, h);
  }

  /** Writes what was added (a cache that cannot be written is not an error: it is only a cache). */
  async save(): Promise<void> {
    if (!this.added.size && !this.distrusted) return;
    try {
      await mkdir(dirOf(this.root), { recursive: true });
      for (const idLen of ID_LENGTHS) {
        const fresh = encodeById(this.added, idLen);
        if (!fresh.length && !this.distrusted) continue;
        const bytes = this.merged(idLen, fresh);
        const file = blobHashCacheFile(this.root, idLen);
        if (bytes.length) await writeFileAtomic(file, bytes);
        else await rm(file, { force: true });
        this.tables.set(idLen, new Table(idLen, bytes));
      }
      await rm(legacyFile(this.root), { force: true });
      this.added.clear();
      this.distrusted = false;
    } catch {
      // read-only cache, disk full: the next release hashes again
    }
  }

  /** The table's records and `fresh` (sorted records, none already in it) in id order, within the cap. */
  private merged(idLen: IdLength, fresh: Buffer): Buffer {
    const old = this.tables.get(idLen);
    const rec = recordBytes(idLen);
    const oldCount = old?.count ?? 0;
    const freshCount = fresh.length / rec;
    // Over the cap, old entries this release did not use go first, from the start.
    let drop = Math.max(0, oldCount + freshCount - this.maxEntries);
    const keepOld = (i: number) => {
      if (drop === 0 || this.used.has(old!.idAt(i).toString('hex'))) return true;
      drop--;
      return false;
    };
    const parts: Buffer[] = [];
    let f = 0;
    for (let i = 0; i < oldCount; i++) {
      const at = i * rec;
      const start = f;
      while (f < freshCount && fresh.compare(old!.bytes, at, at + idLen, f * rec, f * rec + idLen) < 0) f++;
      if (f > start) parts.push(fresh.subarray(start * rec, f * rec));
      if (keepOld(i)) parts.push(old!.bytes.subarray(at, at + rec));
    }
    if (f < freshCount) parts.push(fresh.subarray(f * rec));
    const out = Buffer.concat(parts);
    // Still over (this release alone used more than the cap): keep the first entries.
    return out.length > this.maxEntries * rec ? out.subarray(0, this.maxEntries * rec) : out;
  }

  /**
   * Stops using what was saved (an entry proved wrong): from now on every blob is hashed
   * again, and the next save replaces the files with those hashes.
   */
  distrust(): void {
    this.tables.clear();
    this.used.clear();
    this.added.clear();
    this.distrusted = true;
  }

  /** Every saved entry (for tests and inspection). */
  *saved(): Generator<[string, BlobHash]> {
    for (const t of this.tables.values())
      for (let i = 0; i < t.count; i++) yield [t.idAt(i).toString('hex'), t.hashAt(i)];
  }

  /** Lets go of what is in memory; the saved files stay. */
  clear(): void {
    this.tables.clear();
    this.added.clear();
    this.used.clear();
  }

  /** Forgets everything (after a release whose read-back failed: the cache may be the cause). */
  async drop(): Promise<void> {
    this.clear();
    for (const idLen of ID_LENGTHS) await rm(blobHashCacheFile(this.root, idLen), { force: true });
    await rm(legacyFile(this.root), { force: true });
  }
}

/** Every entry of the cache (for tests and inspection). */
export async function readBlobHashes(cacheRoot: string): Promise<Map<string, BlobHash>> {
  return new Map((await BlobHashCache.open(cacheRoot)).saved());
}

/** Replaces the cache with `entries` (for tests that plant a wrong entry). */
export async function writeBlobHashes(cacheRoot: string, entries: ReadonlyMap<string, BlobHash>): Promise<void> {
  await mkdir(dirOf(cacheRoot), { recursive: true });
  for (const idLen of ID_LENGTHS) {
    const bytes = encodeById(entries, idLen);
    const file = blobHashCacheFile(cacheRoot, idLen);
    if (bytes.length) await writeFileAtomic(file, bytes);
    else await rm(file, { force: true });
  }
}
