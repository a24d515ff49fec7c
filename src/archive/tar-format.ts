/**
 * The bytes of a tar archive: 512-byte ustar headers and pax records, written and parsed.
 *
 * Decision: xenrel encodes headers itself instead of using node-tar's Header/Pax classes.
 * A ustar header is a fixed 512-byte layout; writing it directly lets the writer set every
 * field (empty uname/gname, uid/gid 0, no atime/ctime, a deterministic pax header name —
 * node-tar's `portable` gives no control over several of these) and lets the reader parse
 * exactly what is on disk, strictly, without node-tar's silent sanitising.
 */

import { nameToBytes } from '../tree/name-bytes.js';

export const BLOCK = 512;

/** Typeflags xenrel knows by name; anything else is reported by its byte. */
export const TYPE = {
  file: '0',
  oldFile: '\0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  contiguous: '7',
  paxLocal: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
} as const;

const MAX_OCTAL_11 = 8 ** 11; // 8 GiB: the largest size a 12-byte octal field holds

export interface HeaderFields {
  name: string; // ASCII, ≤ 100 bytes
  mode: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname?: string; // ASCII, ≤ 100 bytes
}

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new Error(`tar header field too long: ${s}`);
  b.copy(buf, off);
}

function writeOctal(buf: Buffer, off: number, len: number, n: number): void {
  // len-1 octal digits, zero padded, then NUL — the form GNU tar and Python write.
  buf.write(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len, 'ascii');
}

/** One POSIX ustar header. uid/gid 0, empty uname/gname, device numbers 0, no prefix. */
export function encodeHeader(h: HeaderFields): Buffer {
  const buf = Buffer.alloc(BLOCK);
  writeString(buf, 0, 100, h.name);
  writeOctal(buf, 100, 8, h.mode);
  writeOctal(buf, 108, 8, 0);
  writeOctal(buf, 116, 8, 0);
  writeOctal(buf, 124, 12, h.size < MAX_OCTAL_11 ? h.size : 0); // larger sizes go in a pax `size`
  writeOctal(buf, 136, 12, h.mtime);
  buf.fill(0x20, 148, 156);
  buf.write(h.typeflag, 156, 1, 'latin1');
  if (h.linkname) writeString(buf, 157, 100, h.linkname);
  buf.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(buf, 329, 8, 0);
  writeOctal(buf, 337, 8, 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i]!;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

export const needsPaxSize = (size: number) => size >= MAX_OCTAL_11;

/** `"<len> <key>=<value>\n"` where len counts the whole record, itself included. Values are raw name bytes. */
export function paxRecord(key: string, value: string): Buffer {
  const v = nameToBytes(value);
  const bodyLen = Buffer.byteLength(` ${key}=`) + v.length + 1;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), v, Buffer.from('\n')]);
}

/** Zero bytes that pad `size` up to a whole number of blocks. */
export const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

// ---------------------------------------------------------------- parsing

export interface RawHeader {
  /** Raw bytes of name (prefix/name joined for POSIX ustar). */
  name: Buffer;
  linkname: Buffer;
  /** null when a numeric field is not parseable (GNU tar reports it and exits 2). */
  mode: number | null;
  size: bigint | null;
  mtime: bigint | null;
  uid: bigint | null;
  gid: bigint | null;
  typeflag: string;
  format: 'ustar' | 'gnu' | 'v7';
}

export const isZeroBlock = (b: Uint8Array): boolean => {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
};

/** Both checksum forms (unsigned, and the historic signed one) are accepted, as GNU tar does. */
export function checksumOk(b: Uint8Array): boolean {
  const want = parseNumeric(b, 148, 8, { octalOnly: true });
  if (want === null) return false;
  // One pass: the unsigned sum and the count of bytes above 127 (each is 256 less when signed),
  // then the checksum field itself counted as eight spaces.
  let unsigned = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = b[i]!;
    unsigned += v;
    high += v >>> 7;
  }
  for (let i = 148; i < 156; i++) {
    unsigned -= b[i]!;
    high -= b[i]! >>> 7;
  }
  unsigned += 8 * 0x20;
  const w = Number(want);
  return w === unsigned || w === unsigned - 256 * high;
}

/** The field up to its first NUL, as a view of the header (no copy: sources never reuse a chunk). */
function cstr(b: Uint8Array, off: number, len: number): Buffer {
  let n = 0;
  while (n < len && b[off + n] !== 0) n++;
  return Buffer.from(b.buffer, b.byteOffset + off, n);
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isOctal = (c: number) => c >= 0x30 && c <= 0x37;
const INT64_MAX = (1n << 63n) - 1n;

/**
 * A numeric header field read exactly as GNU tar's `from_header` reads it: one leading NUL
 * skipped, then leading blanks; octal digits up to the first non-digit, which must be NUL or
 * a blank (what follows it is ignored: `000 755` is 0); or GNU base-256 (first byte 0x80, or
 * 0xff for a negative value). null wherever GNU tar reports the field as invalid (and exits
 * 2): only blanks, another character, a value out of range — and a negative value unless
 * `signed` (time stamps). Reading these fields any other way makes a second reader of the
 * same header: `0000\0777` would be 0 here and 511 to GNU tar.
 */
export function parseNumeric(
  b: Uint8Array,
  off: number,
  len: number,
  opts: { octalOnly?: boolean; signed?: boolean } = {},
): bigint | null {
  const lim = off + len;
  let p = off;
  if (b[p] === 0) p++;
  for (;;) {
    if (p === lim) return null; // "Blanks in header where numeric value expected"
    if (!isSpace(b[p]!)) break;
    p++;
  }
  let v = 0n;
  if (isOctal(b[p]!)) {
    // 17 octal digits fit a double exactly: BigInt only for what could be longer
    let n = 0;
    const fast = Math.min(lim, p + 17);
    while (p < fast && isOctal(b[p]!)) n = n * 8 + (b[p++]! - 0x30);
    v = BigInt(n);
    while (p < lim && isOctal(b[p]!)) v = v * 8n + BigInt(b[p++]! - 0x30);
  } else if (!opts.octalOnly && p <= lim - 2 && (b[p] === 0x80 || b[p] === 0xff)) {
    const negative = b[p] === 0xff;
    v = negative ? -1n : 0n; // GNU: (first & 0x3f) - sign bit, then two's complement bytes
    for (p++; p < lim; p++) v = v * 256n + BigInt(b[p]!);
  } else if (b[p] !== 0) return null; // GNU's 1999 base-64 and any other character
  if (p !== lim && b[p] !== 0 && !isSpace(b[p]!)) return null; // "Archive contains … where numeric value expected"
  if (v < 0n && !opts.signed) return null;
  // A time stamp past 64 bits is "out of range" to GNU tar; a size that large is left to the size limits (E_TAR_LIMIT).
  if (opts.signed && (v > INT64_MAX || v < -INT64_MAX - 1n)) return null;
  return v;
}

export function parseHeader(b: Uint8Array): RawHeader {
  const ustar = b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72; // "ustar"
  const format =
    ustar && b[262] === 0 ? 'ustar' : ustar && b[262] === 0x20 && b[263] === 0x20 && b[264] === 0 ? 'gnu' : 'v7';
  let name = cstr(b, 0, 100);
  if (format === 'ustar') {
    const prefix = cstr(b, 345, 155);
    if (prefix.length) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const modeN = parseNumeric(b, 100, 8);
  return {
    name,
    linkname: cstr(b, 157, 100),
    mode: modeN === null ? null : Number(modeN & 0o7777777n),
    size: parseNumeric(b, 124, 12),
    mtime: parseNumeric(b, 136, 12, { signed: true }),
    uid: parseNumeric(b, 108, 8),
    gid: parseNumeric(b, 116, 8),
    typeflag: String.fromCharCode(b[156]!),
    format,
  };
}

/** Parses pax records in order (a key may repeat: GNU sparse 0.0); null when malformed. */
export function parsePax(data: Buffer): [string, Buffer][] | null {
  const out: [string, Buffer][] = [];
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 20) return null;
    const lenStr = data.subarray(pos, sp).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lenStr)) return null;
    const len = Number(lenStr);
    const end = pos + len;
    if (end > data.length || end <= sp || data[end - 1] !== 0x0a) return null;
    const rec = data.subarray(sp + 1, end - 1);
    const eq = rec.indexOf(0x3d);
    // GNU tar looks for `=` as in a C string: a NUL in the keyword is "missing equal sign"
    if (eq <= 0 || rec.subarray(0, eq).includes(0)) return null;
    out.push([rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1))]);
    pos = end;
  }
  return out;
}

/**
 * bsdtar (libarchive) only takes a stream for tar when the first header's numeric fields are
 * plain: optional leading spaces, octal digits, then only spaces or NULs (or a base-256 or
 * NUL first byte). GNU tar is more lenient (`000 755` is 0): such an archive is read by one
 * and refused by the other.
 */
export function bsdtarRecognises(b: Uint8Array): boolean {
  for (const [off, len] of [
    [100, 8],
    [108, 8],
    [116, 8],
    [136, 12],
    [124, 12],
    [329, 8],
    [337, 8],
  ] as const) {
    const first = b[off]!;
    if (first === 0x80 || first === 0xff || first === 0) continue;
    let i = off;
    const lim = off + len;
    while (i < lim && b[i] === 0x20) i++;
    while (i < lim && isOctal(b[i]!)) i++;
    for (; i < lim; i++) if (b[i] !== 0x20 && b[i] !== 0) return false;
  }
  return true;
}
