import { XenrelError, ExitCode } from '../errors.js';
import { ByteSource } from '../archive/byte-source.js';
import { BLOCK, TYPE, checksumOk, isZeroBlock, padding, parseHeader, parsePax } from '../archive/tar-format.js';
import { nameFromBytes, showName } from '../tree/name-bytes.js';

/**
 * Walks two tar streams in step, header by header, and says where they part: the entry,
 * then the first header field that differs in it, or the byte offset in its content. It
 * reads headers raw (every field, pax records included) because a reproducibility proof is
 * about bytes, not about the tree a reader would extract; it never extracts anything.
 */

/** Header fields in the order they are compared (and reported). */
export const TAR_FIELDS = [
  'typeflag',
  'mode',
  'uid',
  'gid',
  'uname',
  'gname',
  'mtime',
  'size',
  'linkname',
  'pax records',
  'devmajor',
  'devminor',
  'format',
] as const;
export type TarField = (typeof TAR_FIELDS)[number];

export interface TarDifference {
  /** 1-based entry number (pax and long-name headers belong to their entry). */
  index: number;
  /** The entry's path as stored (pax `path` or GNU long name applied). */
  entry: string;
  /** `name`: the streams are out of step; `entry`: one stream has an entry the other lacks. */
  field: TarField | 'name' | 'entry' | 'header bytes' | 'content' | 'end of archive';
  /** The values in the first and the second stream, for header fields. */
  a?: string;
  b?: string;
  /** Byte offset: within the entry's content, or within its header block. */
  offset?: number;
}

export interface TarDiffResult {
  /** In stream order, at most one per entry (the first field that differs in it). */
  differences: TarDifference[];
  /** More differing entries than `maxDifferences` were found. */
  more: boolean;
  entries: number;
}

/** Pax or long-name data longer than this is refused, so a hostile header cannot cost memory. */
const MAX_META = 1 << 20;
const NO_DATA = new Set<string>([TYPE.dir, TYPE.symlink, TYPE.hardlink, TYPE.char, TYPE.block, TYPE.fifo]);

interface RawEntry {
  index: number;
  name: string;
  header: Uint8Array;
  fields: Record<TarField, string>;
  dataSize: number;
}

const cstr = (b: Uint8Array, off: number, len: number): Buffer => {
  const s = Buffer.from(b.buffer, b.byteOffset + off, len);
  const nul = s.indexOf(0);
  return Buffer.from(nul < 0 ? s : s.subarray(0, nul));
};
const num = (v: bigint | number | null) => (v === null ? '(invalid)' : String(v));

class EntryStream {
  private index = 0;
  readonly src: ByteSource;
  constructor(
    input: AsyncIterable<Uint8Array>,
    private readonly label: string,
  ) {
    this.src = new ByteSource(input, () =>
      this.error('E_TAR_TRUNCATED', 'the tar stream ends in the middle of an entry'),
    );
  }

  error(code: string, message: string): XenrelError {
    return new XenrelError(code, `${this.label}: ${message}`, { exitCode: ExitCode.checkFailed });
  }

  /** The next entry with its meta headers folded in, or null at the end of the archive. */
  async next(): Promise<RawEntry | null> {
    const pax: string[] = [];
    let path: Buffer | undefined;
    let linkpath: Buffer | undefined;
    let paxSize: number | undefined;
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    for (;;) {
      const block = await this.src.read(BLOCK);
      if (block === null || isZeroBlock(block)) return null;
      if (block.length < BLOCK) throw this.error('E_TAR_TRUNCATED', 'the tar stream ends inside a header');
      if (!checksumOk(block))
        throw this.error('E_TAR_CHECKSUM', `header checksum mismatch at offset ${this.src.offset - BLOCK}`);
      const h = parseHeader(block);
      if (h.size === null)
        throw this.error('E_TAR_BAD_HEADER', `invalid size field at offset ${this.src.offset - BLOCK}`);
      const t = h.typeflag;
      if (t === TYPE.paxLocal || t === TYPE.paxGlobal || t === TYPE.gnuLongName || t === TYPE.gnuLongLink) {
        if (h.size > BigInt(MAX_META))
          throw this.error('E_TAR_META_TOO_LARGE', `a ${h.size}-byte meta header at offset ${this.src.offset - BLOCK}`);
        const n = Number(h.size);
        const data = await this.src.readExactly(n);
        await this.src.readExactly(padding(n));
        if (t === TYPE.gnuLongName) longName = cstr(data, 0, data.length);
        else if (t === TYPE.gnuLongLink) longLink = cstr(data, 0, data.length);
        else {
          const recs = parsePax(data);
          if (!recs)
            throw this.error(
              'E_TAR_BAD_HEADER',
              `malformed pax records at offset ${this.src.offset - n - padding(n) - BLOCK}`,
            );
          for (const [k, v] of recs) {
            pax.push(`${t === TYPE.paxGlobal ? 'global ' : ''}${k}=${nameFromBytes(v)}`);
            if (t !== TYPE.paxLocal) continue;
            if (k === 'path') path = v;
            else if (k === 'linkpath') linkpath = v;
            else if (k === 'size' && /^[0-9]{1,15}$/.test(v.toString('latin1'))) paxSize = Number(v.toString('latin1'));
          }
        }
        continue;
      }
      this.index++;
      const name = nameFromBytes(path ?? longName ?? h.name);
      const size = paxSize ?? Number(h.size);
      if (!Number.isSafeInteger(size)) throw this.error('E_TAR_LIMIT', `entry ${showName(name)} of ${h.size} bytes`);
      const ustarVersion = Buffer.from(block.subarray(257, 265)).toString('latin1').replace(/\0/g, '\\0');
      return {
        index: this.index,
        name,
        header: block,
        dataSize: NO_DATA.has(t) ? 0 : size,
        fields: {
          typeflag: JSON.stringify(t),
          mode: h.mode === null ? '(invalid)' : h.mode.toString(8).padStart(4, '0'),
          uid: num(h.uid),
          gid: num(h.gid),
          uname: JSON.stringify(cstr(block, 265, 32).toString('latin1')),
          gname: JSON.stringify(cstr(block, 297, 32).toString('latin1')),
          mtime: num(h.mtime),
          size: String(size),
          linkname: JSON.stringify(nameFromBytes(linkpath ?? longLink ?? h.linkname)),
          'pax records': pax.length ? pax.map((r) => JSON.stringify(r)).join(', ') : '(none)',
          devmajor: num(parseHeaderNumber(block, 329)),
          devminor: num(parseHeaderNumber(block, 337)),
          format: JSON.stringify(ustarVersion),
        },
      };
    }
  }

  /** Skips what is left of the current entry's content and its padding. */
  async skip(n: number, size: number): Promise<void> {
    await this.src.stream(n + padding(size));
  }
}

function parseHeaderNumber(b: Uint8Array, off: number): number | null {
  const s = Buffer.from(b.subarray(off, off + 8))
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (s === '') return 0;
  return /^[0-7]+$/.test(s) ? Number.parseInt(s, 8) : null;
}

/** Offset of the first differing byte of two equal-length contents streamed from both sides. */
async function contentOffset(a: ByteSource, b: ByteSource, size: number): Promise<number | undefined> {
  let pos = 0;
  let found: number | undefined;
  while (pos < size) {
    const n = Math.min(1 << 16, size - pos);
    const [x, y] = [await a.readExactly(n), await b.readExactly(n)];
    if (found === undefined && !x.equals(y)) {
      let i = 0;
      while (x[i] === y[i]) i++;
      found = pos + i;
    }
    pos += n;
  }
  return found;
}

export interface TarDiffOptions {
  /** Names of the two streams, for errors (default "the first tar stream", "the second …"). */
  labels?: [string, string];
  /** Stop after this many differing entries (default 20). */
  maxDifferences?: number;
}

/**
 * Compares two uncompressed tar streams. Entries are matched by position; when the names
 * at one position differ the streams are out of step and the walk ends there.
 */
export async function diffTarStreams(
  a: AsyncIterable<Uint8Array>,
  b: AsyncIterable<Uint8Array>,
  opts: TarDiffOptions = {},
): Promise<TarDiffResult> {
  const [la, lb] = opts.labels ?? ['the first tar stream', 'the second tar stream'];
  const max = opts.maxDifferences ?? 20;
  const sa = new EntryStream(a, la);
  const sb = new EntryStream(b, lb);
  const differences: TarDifference[] = [];
  let entries = 0;
  const add = (d: TarDifference): boolean => {
    differences.push(d);
    return differences.length >= max;
  };
  for (;;) {
    const [ea, eb] = [await sa.next(), await sb.next()];
    if (!ea || !eb) {
      if (ea || eb) {
        const e = (ea ?? eb)!;
        differences.push({
          index: e.index,
          entry: e.name,
          field: 'entry',
          a: ea ? 'present' : 'absent',
          b: eb ? 'present' : 'absent',
        });
        return { differences, more: false, entries };
      }
      const [ra, rb] = [await sa.src.rest(), await sb.src.rest()];
      if (ra.bytes !== rb.bytes || ra.nonZero !== rb.nonZero)
        differences.push({
          index: entries + 1,
          entry: '(end of archive)',
          field: 'end of archive',
          a: `${ra.bytes + BLOCK} bytes`,
          b: `${rb.bytes + BLOCK} bytes`,
        });
      return { differences, more: false, entries };
    }
    entries++;
    if (ea.name !== eb.name) {
      differences.push({
        index: ea.index,
        entry: ea.name,
        field: 'name',
        a: JSON.stringify(ea.name),
        b: JSON.stringify(eb.name),
      });
      return { differences, more: false, entries };
    }
    const field = TAR_FIELDS.find((f) => ea.fields[f] !== eb.fields[f]);
    if (field) {
      if (add({ index: ea.index, entry: ea.name, field, a: ea.fields[field], b: eb.fields[field] }))
        return { differences, more: true, entries };
      await sa.skip(ea.dataSize, ea.dataSize);
      await sb.skip(eb.dataSize, eb.dataSize);
      continue;
    }
    if (!Buffer.from(ea.header).equals(Buffer.from(eb.header))) {
      // The checksum differs whenever another byte does: name that other byte.
      let i = 0;
      while (i < BLOCK && (ea.header[i] === eb.header[i] || (i >= 148 && i < 156))) i++;
      if (i === BLOCK) for (i = 148; ea.header[i] === eb.header[i]; ) i++;
      if (add({ index: ea.index, entry: ea.name, field: 'header bytes', offset: i }))
        return { differences, more: true, entries };
      await sa.skip(ea.dataSize, ea.dataSize);
      await sb.skip(eb.dataSize, eb.dataSize);
      continue;
    }
    const at = await contentOffset(sa.src, sb.src, ea.dataSize);
    await sa.skip(0, ea.dataSize);
    await sb.skip(0, eb.dataSize);
    if (at !== undefined && add({ index: ea.index, entry: ea.name, field: 'content', offset: at }))
      return { differences, more: true, entries };
  }
}

/** One line for a difference, e.g. `xen-4.22.0/a.c: mode differs (0644 in A, 0600 in B)`. */
export function describeTarDifference(d: TarDifference, labels: [string, string]): string {
  const [la, lb] = labels;
  const where = showName(d.entry);
  switch (d.field) {
    case 'entry':
      return `${where}: an entry only in ${d.a === 'present' ? la : lb} (entry ${d.index})`;
    case 'content':
      return `${where}: content differs at byte ${d.offset} of the entry`;
    case 'header bytes':
      return `${where}: the header block differs at byte ${d.offset} (every decoded field is equal)`;
    case 'end of archive':
      return `the end-of-archive blocks differ (${d.a} in ${la}, ${d.b} in ${lb})`;
    case 'name':
      return `entry ${d.index}: the names differ (${d.a} in ${la}, ${d.b} in ${lb}): the entries are out of step from here`;
    default:
      return `${where}: ${d.field} differ${d.field === 'pax records' ? '' : 's'} (${d.a} in ${la}, ${d.b} in ${lb})`;
  }
}

/** The first entry's name and mtime (the mtime every entry of a xenrel release shares). */
export async function firstTarEntry(
  input: AsyncIterable<Uint8Array>,
  label: string,
): Promise<{ name: string; mtime: number }> {
  const s = new EntryStream(input, label);
  const e = await s.next();
  if (!e || !/^-?[0-9]+$/.test(e.fields.mtime))
    throw s.error('E_TAR_BAD_HEADER', 'no entry with a valid mtime at the start of the archive');
  return { name: e.name, mtime: Number(e.fields.mtime) };
}
