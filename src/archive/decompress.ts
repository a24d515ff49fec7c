import { createGunzip } from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { spawnFilter } from './compress.js';
import { finding, type Finding, type Limits } from './policy.js';

export type DetectedCompression = 'gz' | 'bz2' | 'xz' | 'zst' | 'none';

/** Thrown inside the read pipeline; the reader turns it into a result or an error. */
export class FatalFinding extends Error {
  constructor(readonly finding: Finding) {
    super(finding.message);
  }
}

export function detectCompression(head: Uint8Array): DetectedCompression {
  const starts = (...b: number[]) => b.every((v, i) => head[i] === v);
  if (starts(0x1f, 0x8b)) return 'gz';
  if (starts(0x42, 0x5a, 0x68)) return 'bz2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zst';
  return 'none';
}

export interface Decompressed {
  compression: DetectedCompression;
  chunks: AsyncIterable<Uint8Array>;
  /** Compressed bytes read so far. */
  readonly compressedBytes: number;
}

const ARCHIVE = '<archive>';

/**
 * Detects the format by magic bytes and decompresses: gzip in-process (zlib on the thread
 * pool), bzip2/xz/zstd through their programs. Enforces the compression-ratio limit as data
 * flows, so a bomb is stopped after `ratioGrace` bytes, not after it filled the disk.
 */
export async function decompress(input: AsyncIterable<Uint8Array>, limits: Limits): Promise<Decompressed> {
  const it = input[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headLen += r.value.length;
  }
  const compression = detectCompression(Buffer.concat(head));
  let compressedBytes = 0;
  async function* raw(): AsyncGenerator<Uint8Array> {
    for (const h of head) {
      compressedBytes += h.length;
      yield h;
    }
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      compressedBytes += r.value.length;
      yield r.value;
    }
  }
  let out: AsyncIterable<Uint8Array>;
  if (compression === 'none') out = raw();
  else if (compression === 'gz') out = gunzip(raw(), () => compressedBytes);
  else {
    const prog = compression === 'bz2' ? 'bzip2' : compression === 'xz' ? 'xz' : 'zstd';
    out = spawnFilter(prog, ['-dc'], raw(), `read a .${compression} archive`);
  }
  const result: Decompressed = {
    compression,
    chunks: compression === 'none' ? out : ratioGuard(out, () => compressedBytes, limits),
    get compressedBytes() {
      return compressedBytes;
    },
  };
  return result;
}

async function* ratioGuard(src: AsyncIterable<Uint8Array>, compressed: () => number, limits: Limits): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const c of src) {
    n += c.length;
    if (n > limits.ratioGrace && n > limits.maxRatio * compressed())
      throw new FatalFinding(finding('E_TAR_LIMIT', ARCHIVE, `compression ratio above ${limits.maxRatio} (a decompression bomb?)`));
    yield c;
  }
}

async function* gunzip(src: AsyncIterable<Uint8Array>, fed: () => number): AsyncGenerator<Uint8Array> {
  const gz = createGunzip({ chunkSize: 256 * 1024 });
  let srcError: unknown;
  pipeline(Readable.from(src, { objectMode: false }), gz, (err) => {
    if (err) srcError = err;
  });
  try {
    for await (const c of gz) yield c as Buffer;
  } catch (err) {
    if (srcError instanceof FatalFinding) throw srcError;
    if (err instanceof FatalFinding) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message))
      throw new FatalFinding(finding('E_TAR_TRUNCATED', ARCHIVE, 'the gzip stream is truncated'));
    if (e.code?.startsWith('Z_')) throw new FatalFinding(finding('E_TAR_COMPRESSION', ARCHIVE, `gzip data is corrupt (${e.message})`));
    throw err;
  }
  if (srcError) throw srcError;
  // Node's gunzip stops quietly at bytes that are not another gzip member (zeros, for one).
  if (gz.bytesWritten < fed())
    throw new FatalFinding(finding('E_TAR_TRAILING_GARBAGE', ARCHIVE, `${fed() - gz.bytesWritten} bytes after the end of the gzip data`));
}
