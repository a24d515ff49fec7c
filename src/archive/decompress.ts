import { createGunzip, type ZlibOptions } from 'node:zlib';
import { Readable, pipeline, type TransformOptions } from 'node:stream';
import { spawnFilter } from './compress.js';
import { finding, type Finding, type Limits } from './policy.js';
import { XenrelError } from '../errors.js';

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
 * pool), bzip2/xz/zstd through their programs. An optional compression-ratio limit is
 * checked as data flows; the reader's size and entry limits are what bound a bomb.
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
  // Offset just past the last non-zero compressed byte: tells zero padding after the
  // compressed stream (tape blocking, which every tar reader accepts) from garbage.
  let nonZeroEnd = 0;
  const account = (c: Uint8Array) => {
    for (let i = c.length - 1; i >= 0; i--)
      if (c[i] !== 0) {
        nonZeroEnd = compressedBytes + i + 1;
        break;
      }
    compressedBytes += c.length;
  };
  async function* raw(): AsyncGenerator<Uint8Array> {
    for (const h of head) {
      account(h);
      yield h;
    }
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      account(r.value);
      yield r.value;
    }
  }
  let out: AsyncIterable<Uint8Array>;
  if (compression === 'none') out = raw();
  else if (compression === 'gz') out = gunzip(raw(), () => nonZeroEnd);
  else out = external(compression, raw());
  const result: Decompressed = {
    compression,
    chunks: compression === 'none' ? out : ratioGuard(out, () => compressedBytes, limits),
    get compressedBytes() {
      return compressedBytes;
    },
  };
  return result;
}

async function* ratioGuard(
  src: AsyncIterable<Uint8Array>,
  compressed: () => number,
  limits: Limits,
): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const c of src) {
    n += c.length;
    if (n > limits.ratioGrace && n > limits.maxRatio * compressed())
      throw new FatalFinding(
        finding('E_TAR_LIMIT', ARCHIVE, `compression ratio above ${limits.maxRatio} (a decompression bomb?)`),
      );
    yield c;
  }
}

/**
 * bzip2, xz and zstd through their programs. A failure of the program is a finding about the
 * archive; bzip2 only warns about trailing bytes (and GNU tar then exits 0), so its warning
 * is refused here as xz and zstd refuse trailing garbage by failing.
 */
async function* external(
  compression: 'bz2' | 'xz' | 'zst',
  src: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const prog = compression === 'bz2' ? 'bzip2' : compression === 'xz' ? 'xz' : 'zstd';
  const warnings: string[] = [];
  try {
    yield* spawnFilter(prog, ['-dc'], src, `read a .${compression} archive`, (text) => warnings.push(text));
  } catch (err) {
    if (!(err instanceof XenrelError) || err.code !== 'E_FILTER_FAILED') throw err;
    throw new FatalFinding(
      finding('E_TAR_COMPRESSION', ARCHIVE, `${prog} cannot decompress it: ${err.message.replace(/^.*?: /, '')}`),
    );
  }
  if (warnings.some((w) => /trailing garbage/i.test(w)))
    throw new FatalFinding(
      finding(
        'E_TAR_TRAILING_GARBAGE',
        ARCHIVE,
        `bytes after the end of the ${prog} data (${prog}: ${warnings.join(' ').trim()})`,
      ),
    );
}

async function* gunzip(src: AsyncIterable<Uint8Array>, fed: () => number): AsyncGenerator<Uint8Array> {
  // zlib stops inflating once its readable side holds highWaterMark bytes (16 KiB by default,
  // less than one chunk), so the reader would wait for every chunk to be inflated after it asked
  // for it. A few MiB of lead lets inflate (on the thread pool) run beside the tar parsing.
  const streamOpts: TransformOptions = { readableHighWaterMark: 8 << 20 };
  const gz = createGunzip({ chunkSize: 1024 * 1024, ...streamOpts } as ZlibOptions);
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
    if (e.code?.startsWith('Z_'))
      throw new FatalFinding(finding('E_TAR_COMPRESSION', ARCHIVE, `gzip data is corrupt (${e.message})`));
    throw err;
  }
  if (srcError) throw srcError;
  // Node's gunzip stops quietly at bytes that are not another gzip member. Zeros there are
  // tape padding (gzip, GNU tar and bsdtar accept them); anything else is refused.
  if (gz.bytesWritten < fed())
    throw new FatalFinding(
      finding(
        'E_TAR_TRAILING_GARBAGE',
        ARCHIVE,
        `non-zero bytes after the end of the gzip data (at offset ${gz.bytesWritten})`,
      ),
    );
}
