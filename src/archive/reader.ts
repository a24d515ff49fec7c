import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TreeEntry } from '../tree/hash.js';
import { fileEntry, symlinkEntry, treeHash } from '../tree/hash.js';
import { decompress, FatalFinding, type DetectedCompression } from './decompress.js';
import {
  checkLinkTarget,
  checkPath,
  checkSymlinks,
  collisionKey,
  finding,
  findingError,
  resolveLimits,
  type Finding,
  type Limits,
  type RuleCode,
} from './policy.js';
import { BLOCK, TYPE, checksumOk, isZeroBlock, padding, parseHeader, parsePax } from './tar-format.js';

/**
 * A safe streaming tar reader. It never writes anything: it parses headers (ustar, pax
 * `x`/`g`, GNU `L`/`K` long names), applies the entry policy of policy.ts to every entry
 * BEFORE handing it to the caller, and streams file content through sha256 (and to the
 * caller's sink, if any). Memory is flat in the archive's size: one small record per entry.
 */

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarEntry {
  /** Canonical path: a leading `./` and a trailing `/` removed. */
  path: string;
  type: EntryType;
  /** Symlink target, or the (canonical) path a hard link names. */
  linkpath?: string;
  /** Permission bits as stored. */
  mode: number;
  executable: boolean;
  size: number;
  /** Hex sha256 of the content (files, hard links) once read. */
  sha256?: string;
}

export interface ContentSink {
  write(chunk: Uint8Array): void | Promise<void>;
  end?(): void | Promise<void>;
}

export interface ReadTarOptions {
  limits?: Partial<Limits>;
  /** Called for every accepted entry before its content; may return a sink for the content. */
  onEntry?: (e: TarEntry) => ContentSink | void | Promise<ContentSink | void>;
  /** Called after an entry's content was read and hashed (`sha256` is set). */
  onEntryDone?: (e: TarEntry) => void | Promise<void>;
  /**
   * false (default): the first finding throws an XenrelError naming the entry.
   * true: findings are collected, unsafe entries are skipped, and reading goes on
   * (structural problems — truncation, bad checksums, limits — still end the read).
   */
  collect?: boolean;
  /** Name of the archive, for messages. */
  name?: string;
}

export interface ReadTarResult {
  compression: DetectedCompression;
  compressedBytes: number;
  entries: number;
  totalSize: number;
  findings: Finding[];
  /** false when a fatal finding stopped the read (collect mode only). */
  complete: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Exact-length reads over a chunk stream, without copying when a chunk holds the bytes. */
class ByteSource {
  private cur: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  constructor(src: AsyncIterable<Uint8Array>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    for (;;) {
      const r = await this.it.next();
      if (r.done) return false;
      if (r.value.length) {
        this.cur = r.value;
        this.pos = 0;
        return true;
      }
    }
  }
  /** n bytes, or null at a clean end of input; throws when the input ends inside them. */
  async read(n: number): Promise<Uint8Array | null> {
    if (this.pos === this.cur.length && !(await this.fill())) return null;
    if (this.cur.length - this.pos >= n) {
      const out = this.cur.subarray(this.pos, this.pos + n);
      this.pos += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (this.pos === this.cur.length && !(await this.fill())) throw truncated();
      const k = Math.min(n - got, this.cur.length - this.pos);
      out.set(this.cur.subarray(this.pos, this.pos + k), got);
      got += k;
      this.pos += k;
    }
    return out;
  }
  /** Passes n bytes to `fn` in pieces. */
  async stream(n: number, fn?: (c: Uint8Array) => void | Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.pos === this.cur.length && !(await this.fill())) throw truncated();
      const k = Math.min(left, this.cur.length - this.pos);
      if (fn) {
        const r = fn(this.cur.subarray(this.pos, this.pos + k));
        if (r) await r;
      }
      this.pos += k;
      left -= k;
    }
  }
  /** Everything that is left must be zero bytes. */
  async rest(): Promise<{ bytes: number; nonZero: boolean }> {
    let bytes = 0;
    for (;;) {
      const slice = this.cur.subarray(this.pos);
      bytes += slice.length;
      if (!isZeroBlock(slice)) return { bytes, nonZero: true };
      this.pos = this.cur.length;
      if (!(await this.fill())) return { bytes, nonZero: false };
    }
  }
}

const ARCHIVE = '<archive>';
const truncated = () => new FatalFinding(finding('E_TAR_TRUNCATED', ARCHIVE, 'the archive ends in the middle of an entry'));
const fatal = (code: RuleCode, path: string, detail?: string) => new FatalFinding(finding(code, path, detail));

function toInput(input: string | AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  return typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input;
}

/** Reads a (compressed) tar archive once, applying the entry policy. */
export async function readTar(input: string | AsyncIterable<Uint8Array>, opts: ReadTarOptions = {}): Promise<ReadTarResult> {
  const limits = resolveLimits(opts.limits);
  const name = opts.name ?? (typeof input === 'string' ? input : 'archive');
  const findings: Finding[] = [];
  const result: ParseState = { compression: 'none', compressedBytes: 0, entries: 0, totalSize: 0, findings, complete: true };
  let dec;
  try {
    dec = await decompress(toInput(input), limits);
    result.compression = dec.compression;
    await parse(new ByteSource(dec.chunks), limits, opts, result);
    for (const f of result.pendingLinkFindings ?? []) report(f);
  } catch (err) {
    if (!(err instanceof FatalFinding)) throw err;
    if (!opts.collect) throw findingError(err.finding, name);
    findings.push(err.finding);
    result.complete = false;
  } finally {
    if (dec) result.compressedBytes = dec.compressedBytes;
    delete result.pendingLinkFindings;
  }
  return result;

  function report(f: Finding) {
    if (!opts.collect) throw findingError(f, name);
    findings.push(f);
  }
}

interface ParseState extends ReadTarResult {
  pendingLinkFindings?: Finding[];
}

async function parse(src: ByteSource, limits: Limits, opts: ReadTarOptions, result: ParseState): Promise<void> {
  const explicit = new Map<string, EntryType>(); // every accepted entry
  const prefixes = new Set<string>(); // every implied parent directory
  const keys = new Map<string, string>(); // collision key → path
  const files = new Map<string, { sha256: string; executable: boolean }>(); // for hard links
  const links = new Map<string, string>(); // symlink → target
  let pax = new Map<string, Buffer>();
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;

  const readMeta = async (size: number, what: string): Promise<Buffer> => {
    if (size > limits.maxMetaSize) throw fatal('E_TAR_META_TOO_LARGE', ARCHIVE, `${what} of ${size} bytes (limit ${limits.maxMetaSize})`);
    const data = Buffer.from((await src.read(size)) ?? Buffer.alloc(0));
    if (data.length !== size) throw truncated();
    await src.stream(padding(size));
    return data;
  };
  const cstr = (b: Buffer) => {
    const nul = b.indexOf(0);
    return nul < 0 ? b : b.subarray(0, nul);
  };
  const decode = (b: Buffer, where: string): string => {
    try {
      return utf8.decode(b);
    } catch {
      throw fatal('E_TAR_BAD_PATH', JSON.stringify(b.toString('latin1')).slice(1, -1), `${where} is not valid UTF-8`);
    }
  };

  for (;;) {
    const block = await src.read(BLOCK);
    if (block === null) throw fatal('E_TAR_TRUNCATED', ARCHIVE, 'the archive has no end-of-archive marker');
    if (block.length < BLOCK) throw truncated();
    if (isZeroBlock(block)) {
      // End of archive. A second zero block normally follows, then zero padding up to the
      // record size (10240 bytes for GNU tar); anything non-zero after it is refused.
      const rest = await src.rest();
      if (rest.nonZero) throw fatal('E_TAR_TRAILING_GARBAGE', ARCHIVE, 'data after the end-of-archive marker');
      result.totalSize += rest.bytes;
      if (result.totalSize > limits.maxTotalSize) throw fatal('E_TAR_LIMIT', ARCHIVE, `more than ${limits.maxTotalSize} bytes`);
      break;
    }
    if (!checksumOk(block)) throw fatal('E_TAR_CHECKSUM', ARCHIVE, `header checksum mismatch at entry ${result.entries + 1}`);
    const h = parseHeader(block);
    if (h.size === null) throw fatal('E_TAR_BAD_HEADER', ARCHIVE, `invalid size field at entry ${result.entries + 1}`);
    const headerSize = h.size;
    if (h.typeflag === TYPE.paxLocal || h.typeflag === TYPE.paxGlobal) {
      const recs = parsePax(await readMeta(Number(headerSize > BigInt(limits.maxMetaSize) ? limits.maxMetaSize + 1 : headerSize), 'pax header'));
      if (!recs) throw fatal('E_TAR_BAD_HEADER', ARCHIVE, 'malformed pax header');
      if (h.typeflag === TYPE.paxGlobal) {
        // git archive writes a global `comment` with the commit id: harmless. Overrides are not.
        for (const k of ['path', 'linkpath', 'size'])
          if (recs.has(k)) throw fatal('E_TAR_GLOBAL_PAX', ARCHIVE, `global pax header sets ${k}=${JSON.stringify(recs.get(k)!.toString('utf8'))}`);
      } else for (const [k, v] of recs) pax.set(k, v);
      continue;
    }
    if (h.typeflag === TYPE.gnuLongName || h.typeflag === TYPE.gnuLongLink) {
      const data = cstr(await readMeta(Number(headerSize > BigInt(limits.maxMetaSize) ? limits.maxMetaSize + 1 : headerSize), 'GNU long name'));
      if (h.typeflag === TYPE.gnuLongName) longName = data;
      else longLink = data;
      continue;
    }

    // A real entry: apply the overrides collected for it.
    const rawPath = decode(pax.get('path') ?? longName ?? h.name, 'path');
    const rawLink = decode(pax.get('linkpath') ?? longLink ?? h.linkname, 'link target');
    let size = headerSize;
    const paxSize = pax.get('size');
    if (paxSize) {
      const s = paxSize.toString('latin1');
      if (!/^[0-9]{1,20}$/.test(s)) throw fatal('E_TAR_BAD_HEADER', rawPath, `invalid pax size ${JSON.stringify(s)}`);
      size = BigInt(s);
    }
    const sparse = [...pax.keys()].some((k) => k.startsWith('GNU.sparse.'));
    pax = new Map();
    longName = longLink = undefined;

    if (++result.entries > limits.maxEntries) throw fatal('E_TAR_LIMIT', rawPath, `more than ${limits.maxEntries} entries`);
    if (size > BigInt(limits.maxEntrySize)) throw fatal('E_TAR_LIMIT', rawPath, `entry of ${size} bytes (limit ${limits.maxEntrySize})`);
    const n = Number(size);
    result.totalSize += n;
    if (result.totalSize > limits.maxTotalSize) throw fatal('E_TAR_LIMIT', rawPath, `archive content above ${limits.maxTotalSize} bytes`);

    let type: EntryType | undefined;
    const t = h.typeflag;
    if (t === TYPE.file || t === TYPE.oldFile) type = t === TYPE.oldFile && rawPath.endsWith('/') ? 'dir' : 'file';
    else if (t === TYPE.dir) type = 'dir';
    else if (t === TYPE.symlink) type = 'symlink';
    else if (t === TYPE.hardlink) type = 'hardlink';

    const problems: Finding[] = [];
    const entry = check();
    if (problems.length || !entry) {
      for (const f of problems) {
        if (!opts.collect) throw new FatalFinding(f);
        result.findings.push(f);
      }
      await src.stream(n + padding(n));
      continue;
    }
    const sink = opts.onEntry ? await opts.onEntry(entry) : undefined;
    if (entry.type === 'file') {
      const hash = createHash('sha256');
      await src.stream(n, sink ? (c) => (hash.update(c), sink.write(c)) : (c) => void hash.update(c));
      entry.sha256 = hash.digest('hex');
      files.set(entry.path, { sha256: entry.sha256, executable: entry.executable });
    } else await src.stream(n); // links and dirs carry no content; skip what a writer put there
    if (sink?.end) await sink.end();
    await src.stream(padding(n));
    if (opts.onEntryDone) await opts.onEntryDone(entry);

    function check(): TarEntry | undefined {
      const shown = JSON.stringify(rawPath).slice(1, -1);
      if (!type || sparse) {
        problems.push(finding('E_TAR_SPECIAL', shown, `${describeType(t)} entry`));
        return undefined;
      }
      if (h.mode & 0o7000) problems.push(finding('E_TAR_MODE_BITS', shown, `mode ${h.mode.toString(8)} has setuid, setgid or sticky bits`));
      const c = checkPath(rawPath, limits, type === 'dir');
      if ('finding' in c) {
        problems.push(c.finding);
        return undefined;
      }
      const path = c.path;
      if (path === '') {
        if (type !== 'dir') problems.push(finding('E_TAR_ROOT_ENTRY', shown, `${type} entry names the archive root`));
        return undefined; // `./` itself: nothing to do
      }
      if (explicit.has(path)) problems.push(finding('E_TAR_DUPLICATE', path));
      else if (type !== 'dir' && prefixes.has(path)) problems.push(finding('E_TAR_DUPLICATE', path, `${path}: a ${type} entry where the archive also has a directory`));
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        const pt = explicit.get(parent);
        if (pt && pt !== 'dir') problems.push(finding('E_TAR_THROUGH_LINK', path, `${path}: lies beneath ${parent}, which is a ${pt}`));
      }
      const e: TarEntry = { path, type: type!, mode: h.mode, executable: (h.mode & 0o100) !== 0, size: n };
      if (type === 'symlink') {
        e.linkpath = rawLink;
        const lf = checkLinkTarget(path, rawLink);
        if (lf) problems.push(lf);
      } else if (type === 'hardlink') {
        const lc = checkPath(rawLink, limits, false);
        const target = 'path' in lc ? files.get(lc.path) : undefined;
        if (!target || !('path' in lc))
          problems.push(finding('E_TAR_HARDLINK', path, `${path}: hard link to ${JSON.stringify(rawLink)}, which is not an earlier regular file of the archive`));
        else {
          e.linkpath = lc.path;
          e.sha256 = target.sha256;
          e.executable = target.executable;
        }
      }
      // Collisions: every new path and parent, under case folding and NFC.
      for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        const k = collisionKey(p);
        const other = keys.get(k);
        if (other !== undefined && other !== p) {
          problems.push(finding('E_TAR_COLLISION', path, `${p}: collides with ${other} (case or Unicode form)`));
          break;
        }
      }
      if (problems.length) return undefined;
      explicit.set(path, type!);
      for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        keys.set(collisionKey(p), p);
        if (i < parts.length) prefixes.add(p);
      }
      if (type === 'symlink') links.set(path, rawLink);
      if (type === 'hardlink') files.set(path, { sha256: e.sha256!, executable: e.executable });
      return e;
    }
  }
  // Symlinks can only be judged against the whole archive (chains through other links).
  result.pendingLinkFindings = checkSymlinks(links);
}

function describeType(t: string): string {
  const names: Record<string, string> = {
    '3': 'character device',
    '4': 'block device',
    '6': 'FIFO',
    '7': 'contiguous file',
    S: 'GNU sparse',
    M: 'GNU multi-volume',
    V: 'volume label',
    D: 'GNU dump directory',
  };
  return names[t] ?? `unknown type ${JSON.stringify(t)}`;
}

export interface HashTarballResult {
  /** Tree hash over every file and symlink, paths as in the archive. */
  hash: string;
  entries: TreeEntry[];
  /** First path components, sorted. */
  topDirs: string[];
  findings: Finding[];
  compression: DetectedCompression;
}

/** The tree hash of an archive's content, streamed once, without extracting. */
export async function hashTarball(
  input: string | AsyncIterable<Uint8Array>,
  opts: Omit<ReadTarOptions, 'onEntry' | 'onEntryDone'> = {},
): Promise<HashTarballResult> {
  const entries: TreeEntry[] = [];
  const tops = new Set<string>();
  const r = await readTar(input, {
    ...opts,
    onEntryDone: (e) => {
      tops.add(e.path.split('/')[0]!);
      if (e.type === 'dir') return;
      if (e.type === 'symlink')
        entries.push(symlinkEntry(e.path, e.linkpath!));
      else entries.push(fileEntry(e.path, e.executable, e.sha256!));
    },
  });
  return { hash: treeHash(entries), entries, topDirs: [...tops].sort(), findings: r.findings, compression: r.compression };
}
