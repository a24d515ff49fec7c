import { createHash } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsFailure, wrapFsError } from '../errors.js';
import { removeOnInterrupt } from '../util/interrupt-cleanup.js';
import { fsyncDir, tempName } from '../util/atomic.js';
import type { TreeEntry } from '../tree/hash.js';
import type { EntrySource } from './entries.js';
import { compressChunks, type Compression } from './compress.js';
import { tarChunks, type TarOptions, type TarResult } from './writer.js';

export interface WriteArchiveOptions extends TarOptions {
  /** Final file name; written to a temp name beside it, fsynced, then renamed. */
  out: string;
  format: Compression;
  /** gzip 1..9 (default 9), xz 0..9 (default 6), zstd 1..19 (default 19). */
  level?: number;
}

export interface WrittenArchive {
  file: string;
  /** Hex sha256 and size of the written (compressed) file: what SHA256SUMS lists. */
  sha256: string;
  size: number;
  /** Hex sha256 and size of the uncompressed tar: the format-independent identity. */
  tarSha256: string;
  tarSize: number;
  /** Files and symlinks, paths relative to the top directory. */
  entries: TreeEntry[];
}

/** writev until everything is written (a short write continues where it stopped). */
async function writevAll(fh: FileHandle, chunks: Uint8Array[]): Promise<void> {
  const rest = chunks.filter((c) => c.length > 0);
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress (disk full?)'), { code: 'ENOSPC' });
    let n = bytesWritten;
    while (rest.length && n >= rest[0]!.length) n -= rest.shift()!.length;
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

async function* tee(src: AsyncIterable<Uint8Array>, onChunk: (c: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const c of src) {
    onChunk(c);
    yield c;
  }
}

/** Writes a deterministic archive atomically: nothing appears under `out` unless complete. */
export async function writeArchive(sources: Iterable<EntrySource>, opts: WriteArchiveOptions): Promise<WrittenArchive> {
  await mkdir(dirname(opts.out), { recursive: true }).catch((err) => {
    throw fsFailure(err, `creating the folder ${dirname(opts.out)}`);
  });
  const result: TarResult = { entries: [], tarSize: 0 };
  const tarHash = createHash('sha256');
  const outHash = createHash('sha256');
  let size = 0;
  const tmp = tempName(opts.out);
  const forget = removeOnInterrupt(tmp);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
    const tar = tee(tarChunks(sources, opts, result), (c) => tarHash.update(c));
    // Keep one write in flight while the next chunk is produced; chunks go out with
    // writev, not copied into one buffer first.
    let pending: Promise<unknown> = Promise.resolve();
    let buf: Uint8Array[] = [];
    let bufLen = 0;
    const flush = async () => {
      const data = buf;
      buf = [];
      bufLen = 0;
      await pending;
      const write = writevAll(fh!, data);
      // A failed write is seen at the next await of `pending`, not as an unhandled
      // rejection while the compressor runs.
      write.catch(() => {});
      pending = write;
    };
    for await (const c of compressChunks(tar, opts.format, opts.level)) {
      outHash.update(c);
      size += c.length;
      buf.push(c);
      bufLen += c.length;
      if (bufLen >= 1 << 20) await flush();
    }
    await flush();
    await pending;
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, opts.out);
    await fsyncDir(dirname(opts.out));
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw wrapFsError(err, `writing ${opts.out}`);
  } finally {
    forget();
  }
  return {
    file: opts.out,
    sha256: outHash.digest('hex'),
    size,
    tarSha256: tarHash.digest('hex'),
    tarSize: result.tarSize,
    entries: result.entries,
  };
}
