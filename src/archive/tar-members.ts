import { isUtf8 } from 'node:buffer';
import type { ByteSource } from './byte-source.js';
import { FatalFinding } from './decompress.js';
import { finding, type Limits, type RuleCode } from './policy.js';
import {
  BLOCK,
  TYPE,
  bsdtarRecognises,
  checksumOk,
  isZeroBlock,
  padding,
  parseHeader,
  parseNumeric,
  parsePax,
  type RawHeader,
} from './tar-format.js';

/**
 * Header decoding: turns the blocks of a tar stream into members, the way GNU tar reads
 * them. Pax `x`/`g` (and Solaris `X`) records, GNU `L`/`K` long names and GNU sparse files
 * (old GNU `S` headers, pax 0.0, 0.1 and 1.0) are folded into the member they describe.
 * Sizes follow GNU tar and bsdtar: a directory's, symlink's or hard link's size field
 * announces no data (what follows is the next header); `declaredSize` keeps it for the policy.
 * No policy here: names are raw bytes, the reader decides what is acceptable.
 */

export interface SparseSegment {
  offset: number;
  length: number;
}

export interface Member {
  /** 1-based count of real entries (meta headers not counted). */
  index: number;
  typeflag: string;
  /** Raw name bytes after pax `path`, GNU long name or `GNU.sparse.name`. */
  name: Buffer;
  linkname: Buffer;
  mode: number;
  /** Bytes of the content once reconstructed (a sparse file's real size). */
  size: number;
  /** The size the headers declared (for a directory or link: data readers disagree about). */
  declaredSize: bigint;
  /** Bytes that follow the header in the archive (before padding). */
  stored: number;
  /** For sparse files: where the stored data goes; holes are zeros. */
  sparse?: SparseSegment[];
  /** Sparse 1.0 keeps its map at the start of the data. */
  sparseMapInData?: boolean;
  /** Pax records that applied (for the policy: global overrides were refused here). */
  pax: ReadonlyMap<string, Buffer>;
}

const ARCHIVE = '<archive>';
const fatal = (code: RuleCode, path: string, detail?: string) => new FatalFinding(finding(code, path, detail));

const EMPTY = new Uint8Array(0);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NO_PAX: ReadonlyMap<string, Buffer> = new Map();
const NO_DATA_TYPES = new Set<string>([TYPE.dir, TYPE.symlink, TYPE.hardlink, TYPE.char, TYPE.block, TYPE.fifo]);
const isFileType = (t: string) => t === TYPE.file || t === TYPE.oldFile || t === TYPE.contiguous;

const cstr = (b: Buffer) => {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
};

const DECIMAL = /^[0-9]{1,18}$/;
const describeMeta = (t: string) =>
  t === 'x' ? 'a pax header' : t === 'g' ? 'a global pax header' : t === 'L' ? 'a GNU long name' : 'a GNU long link';
const PAX_TIME = new Set(['atime', 'ctime', 'mtime']);
const PAX_TIME_VALUE = /^-?[0-9]{1,18}(\.[0-9]+)?$/;
const PAX_NUMBER = new Set([
  'uid',
  'gid',
  'size',
  'devmajor',
  'devminor',
  'GNU.sparse.size',
  'GNU.sparse.realsize',
  'GNU.sparse.numblocks',
  'GNU.sparse.offset',
  'GNU.sparse.numbytes',
]);
function decimal(v: Buffer | undefined, what: string, at: string): number | undefined {
  if (v === undefined) return undefined;
  const s = v.toString('latin1');
  if (!DECIMAL.test(s)) throw fatal('E_TAR_BAD_HEADER', at, `invalid pax ${what} ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw fatal('E_TAR_LIMIT', at, `pax ${what} ${s} is too large`);
  return n;
}

export class MemberReader {
  private index = 0;
  /** Global pax records (harmless keys only: overrides are refused). */
  private readonly globals = new Map<string, Buffer>();
  /** Entry name after which the last member ended: names the place of a later structural error. */
  private lastName: Buffer | undefined;
  /** `globals` as handed to members (they may keep it): copied once per change, not per member. */
  private globalsView: ReadonlyMap<string, Buffer> | undefined;

  constructor(
    private readonly src: ByteSource,
    private readonly limits: Limits,
  ) {}

  /** Where a structural error is: after the last member read. */
  get place(): string {
    return this.last;
  }

  private get last(): string {
    return this.lastName ? this.lastName.toString('latin1') : ARCHIVE;
  }

  /** The header being read, for messages. */
  private at(): string {
    return this.lastName ? `the entry after ${this.last}` : 'the first entry';
  }

  private async readMeta(size: bigint, what: string, pad?: (p: Buffer) => void): Promise<Buffer> {
    if (size > BigInt(this.limits.maxMetaSize))
      throw fatal(
        'E_TAR_META_TOO_LARGE',
        this.last,
        `${what} of ${size} bytes after this entry (limit ${this.limits.maxMetaSize})`,
      );
    const n = Number(size);
    const data = await this.src.readExactly(n);
    if (pad) pad(await this.src.readExactly(padding(n)));
    else await this.src.stream(padding(n));
    return data;
  }

  /** The next member, or null at the end of the archive (zero block or clean end of input). */
  async next(): Promise<Member | null> {
    // Nearly every member is one plain header: what only meta headers need is made on first use.
    let local: Map<string, Buffer> | undefined;
    let sparseOffsets: number[] | undefined;
    let sparseLengths: number[] | undefined;
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    let metaSeen = false;
    let metaKinds: Set<string> | undefined;
    for (;;) {
      const block = this.src.readNow(BLOCK) ?? (await this.src.read(BLOCK));
      if (block === null) {
        if (metaSeen)
          throw fatal(
            'E_TAR_TRUNCATED',
            this.last,
            'the archive ends after a pax or long-name header, before its entry',
          );
        return null; // no end-of-archive blocks: GNU tar and bsdtar accept that
      }
      if (block.length < BLOCK)
        throw fatal(
          'E_TAR_TRUNCATED',
          this.last,
          this.src.offset === block.length
            ? `not a tar archive: ${block.length} bytes, less than one tar header`
            : 'the archive ends inside a header',
        );
      if (isZeroBlock(block)) {
        if (metaSeen)
          throw fatal('E_TAR_TRUNCATED', this.last, 'end of archive after a pax or long-name header, before its entry');
        return null;
      }
      const at = this.at();
      const h = this.decode(block);
      const t = h.typeflag;
      if (t === 'X')
        throw fatal(
          'E_TAR_AMBIGUOUS',
          this.last,
          `Solaris extended header (type X) at ${at}: GNU tar reads it as pax, bsdtar does not read every record alike`,
        );
      // One pax header, or one GNU long name and one long link, before an entry: that is all any
      // writer makes. A second, or the two kinds mixed, GNU tar merges and bsdtar refuses.
      if (t === TYPE.paxLocal || t === TYPE.paxGlobal || t === TYPE.gnuLongName || t === TYPE.gnuLongLink) {
        const kinds = (metaKinds ??= new Set());
        const clash =
          t === TYPE.paxGlobal
            ? metaSeen
            : t === TYPE.paxLocal
              ? kinds.size > 0
              : kinds.has(t) || kinds.has(TYPE.paxLocal);
        if (clash)
          throw fatal(
            'E_TAR_AMBIGUOUS',
            this.last,
            `${describeMeta(t)} at ${at} follows ${[...kinds].map(describeMeta).join(' and ')} before their entry: GNU tar merges them, bsdtar refuses them`,
          );
        if (t !== TYPE.paxGlobal) kinds.add(t);
      }
      if (t === TYPE.paxLocal || t === TYPE.paxGlobal) {
        const recs = parsePax(await this.readMeta(h.size, 'pax header'));
        if (!recs) throw fatal('E_TAR_BAD_HEADER', this.last, `malformed pax header at ${at}`);
        for (const [k, v] of recs) {
          // GNU tar decodes these and exits 2 on a malformed one, even where nothing uses it
          const rule = PAX_TIME.has(k) ? PAX_TIME_VALUE : PAX_NUMBER.has(k) ? DECIMAL : undefined;
          if (rule && !rule.test(v.toString('latin1')))
            throw fatal(
              'E_TAR_BAD_HEADER',
              this.last,
              `invalid pax ${k}=${JSON.stringify(v.toString('latin1'))} at ${at}`,
            );
        }
        metaSeen ||= t !== TYPE.paxGlobal;
        for (const [k, v] of recs) {
          if (t === TYPE.paxGlobal) {
            // git archive writes a global `comment` with the commit id: harmless. Overrides are not.
            if (k === 'path' || k === 'linkpath' || k === 'size' || k.startsWith('GNU.sparse.'))
              throw fatal(
                'E_TAR_GLOBAL_PAX',
                this.last,
                `global pax header at ${at} sets ${k}=${JSON.stringify(v.toString('latin1'))}`,
              );
            if (v.length) this.globals.set(k, v);
            else this.globals.delete(k);
            this.globalsView = undefined;
            continue;
          }
          // Sparse 0.0 repeats offset/numbytes: keep every one, in order.
          if (k === 'GNU.sparse.offset') (sparseOffsets ??= []).push(decimal(v, k, at)!);
          else if (k === 'GNU.sparse.numbytes') (sparseLengths ??= []).push(decimal(v, k, at)!);
          else (local ??= new Map()).set(k, v); // GNU tar takes an empty `path=` as an empty name, not the header's
        }
        continue;
      }
      if (t === TYPE.gnuLongName || t === TYPE.gnuLongLink) {
        let pad: Buffer = Buffer.alloc(0);
        const raw = await this.readMeta(h.size, 'GNU long name', (p) => (pad = p));
        const data = cstr(raw);
        // GNU tar reads the name as a C string over whole blocks, bsdtar stops at the size:
        // a name without its NUL inside the size, and bytes in the padding, reads apart.
        if (data.length === raw.length && cstr(Buffer.concat([raw, pad])).length !== raw.length)
          throw fatal(
            'E_TAR_AMBIGUOUS',
            this.last,
            `GNU long name at ${at} has no NUL within its ${raw.length} bytes and goes on in the padding: GNU tar and bsdtar read different names`,
          );
        if (t === TYPE.gnuLongName) longName = data;
        else longLink = data;
        metaSeen = true;
        continue;
      }

      const m = this.member(h, metaSeen, local, longName, longLink);
      if (t === 'S') await this.oldGnuSparse(block, m, at);
      else if (isFileType(t) && (m.pax.size || sparseOffsets || sparseLengths))
        this.paxSparse(m, m.pax, sparseOffsets ?? [], sparseLengths ?? []);
      this.lastName = m.name;
      return m;
    }
  }

  /**
   * The next member without waiting, when it is a single plain header (no pax, long name or
   * sparse map before it) already buffered; undefined when `next()` must read it. Tens of
   * thousands of small entries otherwise cost a promise each.
   */
  nextNow(): Member | undefined {
    if (this.src.offset === 0) return undefined; // the first header has checks of its own
    const block = this.src.peekNow(BLOCK);
    if (!block) return undefined;
    const t = block[156];
    // x g L K X S: meta and sparse headers take the reading path
    if (t === 0x78 || t === 0x67 || t === 0x4c || t === 0x4b || t === 0x58 || t === 0x53 || isZeroBlock(block))
      return undefined;
    this.src.readNow(BLOCK);
    const h = this.decode(block);
    const m = this.member(h, false, undefined, undefined, undefined);
    if (isFileType(h.typeflag) && m.pax.size) this.paxSparse(m, m.pax, [], []);
    this.lastName = m.name;
    return m;
  }

  /** The header just read (`block`), checked as GNU tar and bsdtar check it. */
  private decode(block: Uint8Array): RawHeader & { size: bigint } {
    if (!checksumOk(block))
      throw fatal(
        'E_TAR_CHECKSUM',
        this.last,
        this.src.offset === BLOCK
          ? 'not a tar archive (nor gzip, xz or zstd around one): its first 512 bytes are no tar header'
          : `header checksum mismatch at ${this.at()} (offset ${this.src.offset - BLOCK})`,
      );
    if (this.src.offset === BLOCK && !bsdtarRecognises(block))
      throw fatal(
        'E_TAR_BAD_HEADER',
        ARCHIVE,
        'the first header has a numeric field with stray characters: GNU tar reads it, bsdtar does not take the file for a tar archive',
      );
    const h = parseHeader(block);
    if (h.size === null) throw fatal('E_TAR_BAD_HEADER', this.last, `invalid size field at ${this.at()}`);
    return h as RawHeader & { size: bigint };
  }

  /** A real entry's member from its header and the meta headers before it. */
  private member(
    h: RawHeader & { size: bigint },
    metaSeen: boolean,
    local: Map<string, Buffer> | undefined,
    longName: Buffer | undefined,
    longLink: Buffer | undefined,
  ): Member {
    const t = h.typeflag;
    // Pax and GNU long-name headers come before ustar or GNU headers; GNU tar and bsdtar
    // read a pre-POSIX (v7) header after one differently (GNU tar loses its place).
    if (metaSeen && h.format === 'v7')
      throw fatal(
        'E_TAR_AMBIGUOUS',
        this.last,
        `a pax or long-name header is followed by a header without the ustar magic at ${this.at()}: GNU tar and bsdtar read it differently`,
      );
    // A real entry: GNU tar decodes its mode, time stamp and owner fields, and exits 2 on a bad one.
    if (h.mode === null || h.mtime === null || h.uid === null || h.gid === null) {
      const field = h.mode === null ? 'mode' : h.mtime === null ? 'mtime' : h.uid === null ? 'uid' : 'gid';
      throw fatal('E_TAR_BAD_HEADER', this.last, `invalid ${field} field at ${this.at()}`);
    }
    this.index++;
    const pax = local?.size ? new Map([...this.globals, ...local]) : this.globalsOnly();
    // A pax name is UTF-8 unless hdrcharset says BINARY: bsdtar refuses raw bytes there, GNU tar takes them.
    if (pax.size && pax.get('hdrcharset')?.toString('latin1') !== 'BINARY')
      for (const k of ['path', 'linkpath', 'GNU.sparse.name']) {
        const v = pax.get(k);
        if (v && !isUtf8(v))
          throw fatal(
            'E_TAR_AMBIGUOUS',
            v.toString('latin1'),
            `pax ${k} is not UTF-8 and hdrcharset is not BINARY: GNU tar and bsdtar read it differently`,
          );
      }
    const sparseName = pax.get('GNU.sparse.name');
    const name = sparseName ?? pax.get('path') ?? longName ?? h.name;
    const linkname = pax.get('linkpath') ?? longLink ?? h.linkname;
    const paxSize = pax.size ? decimal(pax.get('size'), 'size', name.toString('latin1')) : undefined;
    const declaredSize = paxSize !== undefined ? BigInt(paxSize) : h.size;
    const trailingSlashDir = (t === TYPE.file || t === TYPE.oldFile || t === TYPE.contiguous) && name.at(-1) === 0x2f;
    const stored = NO_DATA_TYPES.has(t) || trailingSlashDir ? 0n : declaredSize;
    if (stored > MAX_SAFE) throw fatal('E_TAR_LIMIT', name.toString('latin1'), `entry of ${stored} bytes`);
    const m: Member = {
      index: this.index,
      typeflag: trailingSlashDir ? TYPE.dir : t,
      name,
      linkname,
      mode: h.mode,
      size: Number(stored),
      declaredSize,
      stored: Number(stored),
      pax,
    };
    if (trailingSlashDir && declaredSize > 0n) m.typeflag = 'slash-with-data';
    return m;
  }

  /** The global pax records as one map, made again only when they change. */
  private globalsOnly(): ReadonlyMap<string, Buffer> {
    if (this.globals.size === 0) return NO_PAX;
    return (this.globalsView ??= new Map(this.globals));
  }

  /** Old GNU sparse: a map of 4 segments in the header, then extension blocks of 21. */
  private async oldGnuSparse(header: Uint8Array, m: Member, at: string): Promise<void> {
    const segs: SparseSegment[] = [];
    const num = (b: Uint8Array, off: number) => {
      const v = parseNumeric(b, off, 12);
      if (v === null || v > BigInt(Number.MAX_SAFE_INTEGER))
        throw fatal('E_TAR_BAD_HEADER', m.name.toString('latin1'), `invalid sparse map in the old GNU header at ${at}`);
      return Number(v);
    };
    const take = (b: Uint8Array, off: number, count: number) => {
      for (let i = 0; i < count; i++) {
        const o = off + i * 24;
        if (b[o] === 0 && b[o + 12] === 0) continue; // unused slot
        segs.push({ offset: num(b, o), length: num(b, o + 12) });
      }
    };
    take(header, 386, 4);
    let extended = header[482] !== 0;
    while (extended) {
      if (segs.length > this.limits.maxMetaSize / 24)
        throw fatal('E_TAR_META_TOO_LARGE', m.name.toString('latin1'), 'sparse map larger than the meta limit');
      const ext = await this.src.readExactly(BLOCK);
      take(ext, 0, 21);
      extended = ext[504] !== 0;
    }
    m.typeflag = TYPE.file;
    m.sparse = segs;
    m.size = num(header, 483);
  }

  /** GNU sparse in pax form: 0.0 (repeated records), 0.1 (`GNU.sparse.map`), 1.0 (map in the data). */
  private paxSparse(m: Member, pax: ReadonlyMap<string, Buffer>, offsets: number[], lengths: number[]): void {
    const shown = m.name.toString('latin1');
    const major = pax.get('GNU.sparse.major')?.toString('latin1');
    const real = decimal(pax.get('GNU.sparse.realsize') ?? pax.get('GNU.sparse.size'), 'GNU.sparse size', shown);
    if (major !== undefined) {
      if (major !== '1' || pax.get('GNU.sparse.minor')?.toString('latin1') !== '0')
        throw fatal(
          'E_TAR_BAD_HEADER',
          shown,
          `unknown GNU sparse format ${major}.${pax.get('GNU.sparse.minor')?.toString('latin1')}`,
        );
      if (real === undefined) throw fatal('E_TAR_BAD_HEADER', shown, 'GNU sparse 1.0 without GNU.sparse.realsize');
      m.size = real;
      m.sparseMapInData = true;
      m.sparse = [];
      return;
    }
    const map = pax.get('GNU.sparse.map');
    if (map === undefined && offsets.length === 0 && lengths.length === 0) {
      if (real !== undefined) throw fatal('E_TAR_BAD_HEADER', shown, 'GNU sparse size without a sparse map');
      return;
    }
    if (real === undefined) throw fatal('E_TAR_BAD_HEADER', shown, 'GNU sparse map without GNU.sparse.size');
    let nums: number[];
    if (map !== undefined) {
      const s = map.toString('latin1');
      if (!/^[0-9]+(,[0-9]+)*$/.test(s)) throw fatal('E_TAR_BAD_HEADER', shown, 'malformed GNU.sparse.map');
      nums = s.split(',').map(Number);
    } else {
      if (offsets.length !== lengths.length)
        throw fatal('E_TAR_BAD_HEADER', shown, 'GNU sparse offsets and sizes do not pair up');
      nums = offsets.flatMap((o, i) => [o, lengths[i]!]);
    }
    if (nums.length % 2 || nums.some((n) => !Number.isSafeInteger(n)))
      throw fatal('E_TAR_BAD_HEADER', shown, 'malformed GNU sparse map');
    m.sparse = [];
    for (let i = 0; i < nums.length; i += 2) m.sparse.push({ offset: nums[i]!, length: nums[i + 1]! });
    m.size = real;
  }

  /**
   * Streams the member's content (sparse files reconstructed, holes as zeros) to `fn`, then
   * skips the padding. Calls `fn` with nothing for members without content.
   */
  /** The whole content when it is already buffered (not sparse), consumed with its padding; else undefined. */
  contentNow(m: Member): Uint8Array | undefined {
    const pad = padding(m.stored);
    if (m.sparse || this.src.buffered < m.stored + pad) return undefined;
    const data = m.stored ? this.src.readNow(m.stored)! : EMPTY;
    if (pad) this.src.readNow(pad);
    return data;
  }

  content(m: Member, fn?: (c: Uint8Array) => void | Promise<void>): void | Promise<void> {
    if (m.sparse) return this.sparseContent(m, fn);
    const r = this.src.stream(m.stored, fn);
    if (r) return r.then(() => this.src.stream(padding(m.stored)));
    return this.src.stream(padding(m.stored));
  }

  private async sparseContent(m: Member, fn?: (c: Uint8Array) => void | Promise<void>): Promise<void> {
    let storedLeft = m.stored;
    let segs = m.sparse!;
    if (m.sparseMapInData) {
      const { map, used } = await this.readSparseMap(m);
      segs = map;
      storedLeft -= used;
    }
    let pos = 0;
    let dataSum = 0;
    for (const s of segs) {
      if (s.offset < pos || s.offset + s.length > m.size)
        throw fatal(
          'E_TAR_BAD_HEADER',
          m.name.toString('latin1'),
          'GNU sparse map is out of order or beyond the real size',
        );
      dataSum += s.length;
      if (dataSum > storedLeft)
        throw fatal(
          'E_TAR_BAD_HEADER',
          m.name.toString('latin1'),
          'GNU sparse map describes more data than the archive holds',
        );
      await zeros(s.offset - pos, fn);
      await this.src.stream(s.length, fn);
      pos = s.offset + s.length;
    }
    if (dataSum !== storedLeft)
      throw fatal('E_TAR_BAD_HEADER', m.name.toString('latin1'), 'GNU sparse map does not cover the stored data');
    await zeros(m.size - pos, fn);
    await this.src.stream(padding(m.stored));
  }

  /** Sparse 1.0: decimal lines (count, then offset/size pairs) padded to a block. */
  private async readSparseMap(m: Member): Promise<{ map: SparseSegment[]; used: number }> {
    const shown = m.name.toString('latin1');
    const lines: number[] = [];
    let used = 0;
    let partial = '';
    let count = -1;
    while (count < 0 || lines.length < 1 + 2 * count) {
      if (used + BLOCK > m.stored || used > this.limits.maxMetaSize)
        throw fatal('E_TAR_BAD_HEADER', shown, 'GNU sparse 1.0 map is larger than its data');
      const b = (await this.src.readExactly(BLOCK)).toString('latin1');
      used += BLOCK;
      const parts = (partial + b).split('\n');
      partial = parts.pop()!;
      for (const p of parts) {
        if (count >= 0 && lines.length >= 1 + 2 * count) break;
        if (!/^[0-9]{1,18}$/.test(p)) throw fatal('E_TAR_BAD_HEADER', shown, 'malformed GNU sparse 1.0 map');
        lines.push(Number(p));
        if (lines.length === 1) count = lines[0]!;
      }
    }
    const map: SparseSegment[] = [];
    for (let i = 0; i < count; i++) map.push({ offset: lines[1 + 2 * i]!, length: lines[2 + 2 * i]! });
    return { map, used };
  }
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);
async function zeros(n: number, fn?: (c: Uint8Array) => void | Promise<void>): Promise<void> {
  if (!fn) return;
  for (let left = n; left > 0; left -= ZERO_CHUNK.length) {
    const r = fn(left >= ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left));
    if (r) await r;
  }
}
