import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { decompress } from '../archive/decompress.js';
import { resolveLimits } from '../archive/policy.js';
import { describeTarDifference, diffTarStreams, type TarDifference } from './tar-diff.js';

export interface TarballComparison {
  identical: boolean;
  /** Hex sha256 of each file. */
  sha256: [string, string];
  /** Where the uncompressed tar streams part, in stream order (empty when they are equal). */
  tar: TarDifference[];
  /** More tar differences exist than are listed. */
  more: boolean;
  /** The tar streams are equal but the files are not: the first differing compressed byte. */
  compressed?: { offset: number; region: string };
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

/** The first offset where two files differ (a shorter file differs where it ends). */
async function firstDifferentByte(a: string, b: string): Promise<number | undefined> {
  const [fa, fb] = [await open(a), await open(b)];
  try {
    const [ba, bb] = [Buffer.alloc(1 << 16), Buffer.alloc(1 << 16)];
    for (let pos = 0; ; ) {
      const [ra, rb] = [await fa.read(ba, 0, ba.length, pos), await fb.read(bb, 0, bb.length, pos)];
      const n = Math.min(ra.bytesRead, rb.bytesRead);
      for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return pos + i;
      if (ra.bytesRead !== rb.bytesRead) return pos + n;
      if (n === 0) return undefined;
      pos += n;
    }
  } finally {
    await fa.close();
    await fb.close();
  }
}

const GZIP_HEADER = [
  'the magic number',
  'the magic number',
  'the method',
  'the flags',
  'the mtime',
  'the mtime',
  'the mtime',
  'the mtime',
  'the extra flags (compression level)',
  'the OS',
];

/** What part of a compressed file an offset falls in, for the message. */
function compressedRegion(file: Buffer, offset: number): string {
  const gz = file[0] === 0x1f && file[1] === 0x8b;
  if (gz && offset < GZIP_HEADER.length) return `the gzip header: ${GZIP_HEADER[offset]}`;
  return `the compressed data${gz ? ' (a different compression level or zlib)' : ' (a different compression level or compressor version)'}`;
}

/**
 * Compares two (compressed) tarballs: equal files, else the first entry and header field
 * where their tar streams part, else (same tar, other compressed bytes) the first differing
 * compressed byte. Both are decompressed by the archive module's decompressor.
 */
export async function compareTarballs(
  a: string,
  b: string,
  opts: { labels?: [string, string]; maxDifferences?: number } = {},
): Promise<TarballComparison> {
  const sha256: [string, string] = [await fileSha256(a), await fileSha256(b)];
  if (sha256[0] === sha256[1]) return { identical: true, sha256, tar: [], more: false };
  const limits = resolveLimits();
  const streams = [a, b].map((f) => createReadStream(f, { highWaterMark: 1 << 20 }));
  let r: Awaited<ReturnType<typeof diffTarStreams>>;
  try {
    const [ta, tb] = [(await decompress(streams[0]!, limits)).chunks, (await decompress(streams[1]!, limits)).chunks];
    r = await diffTarStreams(ta, tb, { labels: opts.labels, maxDifferences: opts.maxDifferences });
  } finally {
    // The walk may stop early (out of step): let go of both files.
    for (const s of streams) s.destroy();
  }
  if (r.differences.length) return { identical: false, sha256, tar: r.differences, more: r.more };
  const offset = (await firstDifferentByte(a, b)) ?? 0;
  const head = Buffer.alloc(16);
  const fh = await open(a);
  try {
    await fh.read(head, 0, 16, 0);
  } finally {
    await fh.close();
  }
  return {
    identical: false,
    sha256,
    tar: [],
    more: false,
    compressed: { offset, region: compressedRegion(head, offset) },
  };
}

/** Lines that say where two tarballs differ, the first difference first. */
export function describeComparison(c: TarballComparison, labels: [string, string]): string[] {
  if (c.identical) return [];
  if (c.compressed)
    return [
      `the tar streams are identical; the compressed files differ first at byte ${c.compressed.offset}, in ${c.compressed.region}`,
    ];
  const lines = c.tar.map((d) => describeTarDifference(d, labels));
  if (c.more) lines.push('… and more');
  return lines;
}
