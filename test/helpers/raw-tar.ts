/**
 * A raw tar writer for hostile fixtures: it writes exactly the header bytes it is told to
 * (absolute names, `..`, devices, setuid, base-256 sizes, bad checksums), which well-behaved
 * writers such as node-tar refuse to produce. Not used by xenrel itself.
 */

export interface RawHeader {
  name: string | Buffer;
  /** Typeflag character; default '0'. */
  type?: string;
  mode?: number;
  /** Declared size; defaults to the data length. */
  size?: number;
  /** Raw 12 bytes for the size field (base-256 tricks). */
  sizeField?: Buffer;
  linkname?: string | Buffer;
  uid?: number;
  uname?: string;
  mtime?: number;
  magic?: 'ustar' | 'gnu' | 'v7';
  prefix?: string;
  /** Adds this to the correct checksum. */
  checksumDelta?: number;
}

function put(buf: Buffer, off: number, len: number, v: string | Buffer): void {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  b.copy(buf, off, 0, Math.min(len, b.length));
}
const octal = (n: number, len: number) => `${n.toString(8).padStart(len - 1, '0')}\0`;

export function rawHeader(h: RawHeader, dataLength = 0): Buffer {
  const b = Buffer.alloc(512);
  put(b, 0, 100, h.name);
  put(b, 100, 8, octal(h.mode ?? 0o644, 8));
  put(b, 108, 8, octal(h.uid ?? 0, 8));
  put(b, 116, 8, octal(0, 8));
  if (h.sizeField) h.sizeField.copy(b, 124, 0, 12);
  else put(b, 124, 12, octal(h.size ?? dataLength, 12));
  put(b, 136, 12, octal(h.mtime ?? 1_600_000_000, 12));
  b.fill(0x20, 148, 156);
  b.write(h.type ?? '0', 156, 1, 'latin1');
  if (h.linkname !== undefined) put(b, 157, 100, h.linkname);
  const magic = h.magic ?? 'ustar';
  if (magic === 'ustar') b.write('ustar\u000000', 257, 8, 'latin1');
  else if (magic === 'gnu') b.write('ustar  \u0000', 257, 8, 'latin1');
  if (h.uname) put(b, 265, 32, h.uname);
  if (h.prefix) put(b, 345, 155, h.prefix);
  let sum = 0;
  for (const v of b) sum += v;
  sum += h.checksumDelta ?? 0;
  b.write(`${octal(sum, 7)} `, 148, 8, 'ascii');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** Header + data + padding. */
export function rawEntry(h: RawHeader, data: string | Buffer = ''): Buffer {
  const d = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([rawHeader(h, d.length), d, pad(d.length)]);
}

export const file = (name: string, data = 'x\n', extra: Partial<RawHeader> = {}) => rawEntry({ name, ...extra }, data);
export const dir = (name: string, extra: Partial<RawHeader> = {}) =>
  rawEntry({ name: name.endsWith('/') ? name : `${name}/`, type: '5', mode: 0o755, ...extra });
export const symlink = (name: string, target: string) => rawEntry({ name, type: '2', linkname: target, mode: 0o777 });
export const hardlink = (name: string, target: string) => rawEntry({ name, type: '1', linkname: target });

function paxBody(records: Record<string, string | Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const val = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    const bodyLen = Buffer.byteLength(` ${k}=`) + val.length + 1;
    let len = bodyLen + 1;
    while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
    out.push(Buffer.from(`${len} ${k}=`), val, Buffer.from('\n'));
  }
  return Buffer.concat(out);
}

export const pax = (records: Record<string, string | Buffer>, global = false) =>
  rawEntry({ name: global ? 'pax_global_header' : 'PaxHeaders/x', type: global ? 'g' : 'x' }, paxBody(records));

export const gnuLongName = (name: string) =>
  rawEntry({ name: '././@LongLink', type: 'L', magic: 'gnu' }, Buffer.from(`${name}\0`));

/** Concatenates entries and, unless `end: false`, two zero blocks padded to a 10240-byte record. */
export function rawTar(parts: Buffer[], opts: { end?: boolean } = {}): Buffer {
  const body = Buffer.concat(parts);
  if (opts.end === false) return body;
  const withEnd = body.length + 1024;
  return Buffer.concat([body, Buffer.alloc(1024 + ((10240 - (withEnd % 10240)) % 10240))]);
}
