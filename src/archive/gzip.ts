import { availableParallelism } from 'node:os';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

/**
 * Deterministic parallel gzip, in the manner of pigz.
 *
 * The input is cut into blocks of a FIXED size (never dependent on timing or thread count).
 * Each block is raw-deflated on the libuv thread pool with the previous 32 KiB of input as
 * its dictionary and ends with a sync flush (byte-aligned, not final); the last block is
 * finished. The blocks are concatenated in order under one gzip header and trailer; the CRC32
 * is computed on the main thread as blocks are cut. So the bytes depend only on the input,
 * the level, the block size and the zlib version — the same for 1 or 16 threads.
 *
 * Header: no file name, mtime 0, XFL as zlib sets it for the level, OS byte 3 (Unix) always,
 * like `gzip -n` on Linux.
 */

export interface GzipOptions {
  /** 1..9, default 9. */
  level?: number;
  /** Uncompressed bytes per block (default 1 MiB). Part of the output's identity: keep it fixed. */
  blockSize?: number;
  /**
   * Blocks deflated at once (default: cores + 2, so the cores stay busy while the main
   * thread makes the tar stream; each holds some 2.5 MiB, and twice as many were measured
   * to add RSS and no speed). Does not change the output.
   */
  concurrency?: number;
}

export const GZIP_BLOCK_SIZE = 1 << 20;
const WINDOW = 32 * 1024;

function deflateBlock(
  data: Uint8Array,
  dictionary: Uint8Array | undefined,
  level: number,
  last: boolean,
): Promise<Buffer> {
  const opts: ZlibOptions = {
    level,
    memLevel: 8,
    windowBits: 15,
    strategy: constants.Z_DEFAULT_STRATEGY,
    finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
    // Room for the whole output (deflate grows incompressible data by a few bytes per 16 KiB):
    // one buffer per block, of the same size each time, not 64 pieces of 16 KiB and their
    // concatenation, which left the allocator's heap fragmented and RSS growing.
    chunkSize: data.length + (16 << 10),
  };
  if (dictionary) opts.dictionary = dictionary;
  return new Promise((resolve, reject) => deflateRaw(data, opts, (err, out) => (err ? reject(err) : resolve(out))));
}

export function gzipHeader(level: number): Buffer {
  const xfl = level >= 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

export async function* gzipChunks(source: AsyncIterable<Uint8Array>, opts: GzipOptions = {}): AsyncGenerator<Buffer> {
  const level = opts.level ?? 9;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzip level must be 1..9, got ${level}`);
  const blockSize = opts.blockSize ?? GZIP_BLOCK_SIZE;
  if (blockSize < WINDOW) throw new RangeError(`gzip block size must be at least ${WINDOW}`);
  const concurrency = Math.max(1, opts.concurrency ?? availableParallelism() + 2);

  yield gzipHeader(level);
  // Input blocks are recycled once their deflate is done: a fresh 1 MiB buffer per block
  // would leave garbage that V8 frees only at its next full GC, and RSS would carry it.
  const queue: { job: Promise<Buffer>; block: Buffer }[] = [];
  const free: Buffer[] = [];
  let crc = 0;
  let isize = 0;
  let dict: Buffer | undefined; // the last 32 KiB of the previous block (copied: its block is recycled)
  let block: Buffer = Buffer.allocUnsafe(blockSize);
  let fill = 0;

  const submit = (data: Buffer, last: boolean) => {
    crc = crc32(data, crc);
    isize = (isize + data.length) >>> 0;
    const job = deflateBlock(data, dict, level, last);
    job.catch(() => {}); // awaited in order below
    queue.push({ job, block });
    dict = data.length >= WINDOW ? Buffer.from(data.subarray(data.length - WINDOW)) : undefined;
  };
  const take = async () => {
    const q = queue.shift()!;
    const out = await q.job;
    free.push(q.block);
    return out;
  };

  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(blockSize - fill, chunk.length - off);
      block.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === blockSize) {
        submit(block, false);
        while (queue.length >= concurrency) yield await take();
        block = free.pop() ?? Buffer.allocUnsafe(blockSize);
        fill = 0;
      }
    }
  }
  submit(block.subarray(0, fill), true);
  while (queue.length) yield await take();
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(isize, 4);
  yield trailer;
}
