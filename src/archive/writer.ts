import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { readSmall } from './read-small.js';
import { Readable } from 'node:stream';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import { fileEntry, sortByName, symlinkEntry, type TreeEntry } from '../tree/hash.js';
import type { EntrySource, FileSource } from './entries.js';
import { BLOCK, TYPE, encodeHeader, needsPaxSize, padding, paxRecord } from './tar-format.js';
import { checkPath, checkSymlinks, collisionKey, findingError, resolveLimits, type Limits } from './policy.js';

/**
 * The deterministic tar writer (DESIGN "Deterministic tarballs"):
 * - one top directory; every parent directory written explicitly (0755);
 * - entries in GNU `tar --sort=name` order: depth-first, names compared bytewise per directory;
 * - files 0644 or 0755 (owner exec bit only), symlinks 0777, uid/gid 0, empty uname/gname,
 *   every mtime = `opts.mtime`, no atime/ctime;
 * - POSIX ustar, with a pax `x` header only when a path or link target does not fit in
 *   100 ASCII bytes or a size does not fit in 11 octal digits. The pax header's own name is
 *   derived from the entry (`<top>/PaxHeaders/<basename>`), never from a PID;
 * - the entry policy of policy.ts is applied to what is written, so xenrel can always read
 *   back what it wrote; symlinks that leave the tree are refused.
 * Memory: one metadata record per entry, plus a bounded read-ahead window of file content.
 */

export interface TarOptions {
  /** The top directory, e.g. `xen-4.22.0`. */
  topDir: string;
  /** Seconds since the epoch for every entry (SOURCE_DATE_EPOCH, or the commit time). */
  mtime: number;
  limits?: Partial<Limits>;
  /** Bytes of file content read ahead of the tar stream (default 16 MiB). */
  readAheadBytes?: number;
  /** sha256 each file's content into `TarResult.entries` (default true; off when the caller knows them). */
  hashFiles?: boolean;
  /**
   * Called with the length of each piece of file content as it goes into the archive
   * (progress: a total of the files' sizes is reached exactly, headers and padding aside).
   */
  onContentBytes?: (n: number) => void;
}

/** Filled in while the stream is consumed; complete once it has ended. */
export interface TarResult {
  /** Files and symlinks with paths relative to the top directory, in tar order. */
  entries: TreeEntry[];
  tarSize: number;
}

interface Planned {
  /**
   * Path relative to the top directory ("" for the top directory itself), in the form the
   * archive holds. The full path is made when the header is written: a string per entry
   * held through the whole write was measured at some 100 bytes a file.
   */
  rel: string;
  src: EntrySource;
}

const SMALL_FILE = 4 << 20;
const LARGE_CHUNK = 4 << 20;
const RECORD = 10240; // GNU tar pads the archive to 20 blocks; readers expect nothing less
/** Shared, never written to: consumers copy or hash it. */
const ZEROS = Buffer.alloc(BLOCK);

/** Sorts `items` in place into the order the writer packs them: GNU `tar --sort=name` order of `pathOf(item)`. */
export const sortArchiveOrder = <T>(items: T[], pathOf: (item: T) => string): T[] =>
  sortByName(items, pathOf, { slashLowest: true });

function usage(code: string, message: string): XenrelError {
  return new XenrelError(code, message, { exitCode: ExitCode.usage });
}

/** An entry's full path in the archive. */
const inTop = (topDir: string, rel: string) => (rel ? `${topDir}/${rel}` : topDir);

/**
 * Validates, adds parent directories and sorts. Throws before a single byte is produced.
 * `topDir` is the top directory as the archive names it.
 */
export function planEntries(sources: Iterable<EntrySource>, opts: TarOptions): { topDir: string; plan: Planned[] } {
  const limits = resolveLimits(opts.limits);
  const top = checkPath(opts.topDir, limits, true);
  if ('finding' in top || top.path === '' || top.path.includes('/'))
    throw usage(
      'E_ARCHIVE_TOP_DIR',
      `archive top directory ${JSON.stringify(opts.topDir)} must be one plain path component`,
    );
  if (!Number.isInteger(opts.mtime) || opts.mtime < 0 || opts.mtime >= 8 ** 11)
    throw usage('E_ARCHIVE_MTIME', `archive mtime ${opts.mtime} must be whole seconds since 1970`);
  // Keyed by the path below the top directory: all entries share the top, so order and
  // collisions are the same as for the full paths, which only messages show.
  const byPath = new Map<string, Planned>();
  const keys = new Map<string, string>();
  const links = new Map<string, string>();
  const full = (rel: string) => inTop(top.path, rel);
  const addDir = (rel: string) => {
    if (!byPath.has(rel)) byPath.set(rel, { rel, src: { kind: 'dir', path: rel } });
  };
  addDir('');
  for (const src of sources) {
    const raw = src.path.replace(/\/+$/, '');
    const checked = checkPath(`${top.path}/${raw}`, limits, src.kind === 'dir');
    if ('finding' in checked) throw findingError(checked.finding);
    if (raw === '' || raw.startsWith('./') || raw.startsWith('/'))
      throw usage('E_ARCHIVE_PATH', `bad entry path ${JSON.stringify(src.path)}`);
    // checkPath only drops empty and `.` components: the same length is the same path.
    const rel =
      checked.path.length === top.path.length + 1 + raw.length ? raw : checked.path.slice(top.path.length + 1);
    const prev = byPath.get(rel);
    if (prev && !(prev.src.kind === 'dir' && src.kind === 'dir'))
      throw usage(
        'E_ARCHIVE_DUPLICATE',
        `${full(rel)}: given twice to the archive writer (or as a file and a directory)`,
      );
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const p = byPath.get(dir);
      if (p && p.src.kind !== 'dir')
        throw usage('E_ARCHIVE_DUPLICATE', `${full(rel)}: its parent ${full(dir)} is not a directory`);
      addDir(dir);
    }
    byPath.set(rel, { rel, src });
    if (src.kind === 'symlink') links.set(full(rel), src.target);
  }
  for (const p of byPath.keys()) {
    const k = collisionKey(p);
    const other = keys.get(k);
    if (other !== undefined)
      throw findingError({
        code: 'E_TAR_COLLISION',
        path: full(p),
        message: `${full(p)}: collides with ${full(other)} (case or Unicode form)`,
      });
    keys.set(k, p);
  }
  // Absolute links come from pinned git components (edk2 has some): inert, see policy.ts.
  const bad = checkSymlinks(links, { limits, absolute: 'inert' });
  if (bad.length) throw findingError(bad[0]!);
  return { topDir: top.path, plan: sortArchiveOrder([...byPath.values()], (p) => p.rel) };
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const fitsUstar = (s: string, max = 100) => PRINTABLE_ASCII.test(s) && s.length <= max;
const asciiFallback = (s: string, max: number) => s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);

function headers(p: Planned, topDir: string, mtime: number): Buffer[] {
  const s = p.src;
  const path = inTop(topDir, p.rel);
  const name = s.kind === 'dir' ? `${path}/` : path;
  const link = s.kind === 'symlink' ? s.target : '';
  const size = s.kind === 'file' ? s.size : 0;
  const pax: Buffer[] = [];
  if (!fitsUstar(name)) pax.push(paxRecord('path', name));
  if (link && !fitsUstar(link)) pax.push(paxRecord('linkpath', link));
  if (needsPaxSize(size)) pax.push(paxRecord('size', String(size)));
  const out: Buffer[] = [];
  if (pax.length) {
    const body = Buffer.concat(pax);
    const room = 100 - topDir.length - 12;
    const base = room > 0 ? asciiFallback(path.slice(path.lastIndexOf('/') + 1), room) : '';
    // Readers ignore a pax header's own name: with a top directory of 89+ bytes it is cut to the field.
    const paxName = asciiFallback(`${topDir}/PaxHeaders/${base}`, 100);
    out.push(encodeHeader({ name: paxName, mode: 0o644, size: body.length, mtime, typeflag: TYPE.paxLocal }));
    out.push(body, ZEROS.subarray(0, padding(body.length)));
  }
  const mode = s.kind === 'dir' ? 0o755 : s.kind === 'symlink' ? 0o777 : s.executable ? 0o755 : 0o644;
  const typeflag = s.kind === 'dir' ? TYPE.dir : s.kind === 'symlink' ? TYPE.symlink : TYPE.file;
  out.push(
    encodeHeader({
      name: fitsUstar(name) ? name : asciiFallback(name, 100),
      mode,
      size,
      mtime,
      typeflag,
      linkname: link ? (fitsUstar(link) ? link : asciiFallback(link, 100)) : undefined,
    }),
  );
  return out;
}

/**
 * Reads file contents ahead of the tar stream: small files whole, several at once, within
 * a byte budget, so that open/read/close latency overlaps with compression.
 */
class ReadAhead {
  private next = 0;
  private inFlight = 0;
  private readonly pending = new Map<number, Promise<Buffer>>();
  constructor(
    private readonly plan: Planned[],
    private readonly budget: number,
  ) {}

  private fill(from: number): void {
    if (this.next < from) this.next = from;
    while (this.next < this.plan.length && this.inFlight < this.budget && this.pending.size < 256) {
      const s = this.plan[this.next]!.src;
      if (s.kind === 'file' && s.content.type === 'path' && s.size <= SMALL_FILE) {
        const abs = s.content.abs;
        const pr = readSmall(abs, s.size);
        pr.catch(() => {}); // surfaced when taken
        this.pending.set(this.next, pr);
        this.inFlight += s.size;
      } else if (s.kind === 'file' && s.size > SMALL_FILE) {
        this.next++;
        break; // a large file streams by itself; resume read-ahead after it
      }
      this.next++;
    }
  }

  async *take(i: number): AsyncGenerator<Uint8Array> {
    const s = this.plan[i]!.src as FileSource;
    this.fill(i);
    const pr = this.pending.get(i);
    if (pr) {
      this.pending.delete(i);
      const b = await pr.catch((err) => {
        throw wrapFsError(err, `reading ${(s.content as { abs: string }).abs}`);
      });
      this.inFlight -= s.size;
      this.fill(i + 1);
      yield b;
      return;
    }
    const c = s.content;
    if (c.type === 'buffer') yield c.data;
    else if (c.type === 'reader') {
      const src = c.open();
      yield* (src instanceof Readable ? src : src) as AsyncIterable<Uint8Array>;
    } else yield* readLarge(c.abs, s.size);
    this.fill(i + 1);
  }
}

/** Streams a large file in 4 MiB chunks with one read always in flight. */
async function* readLarge(abs: string, size: number): AsyncGenerator<Uint8Array> {
  const fh = await open(abs, 'r').catch((err) => {
    throw wrapFsError(err, `reading ${abs}`);
  });
  try {
    let pos = 0;
    const readAt = (p: number) => {
      const b = Buffer.allocUnsafe(LARGE_CHUNK);
      return fh.read(b, 0, LARGE_CHUNK, p).then((r) => b.subarray(0, r.bytesRead));
    };
    let cur = readAt(0);
    for (;;) {
      const b = await cur;
      if (b.length === 0) break;
      pos += b.length;
      cur = readAt(pos);
      yield b;
      if (pos > size) break;
    }
    await cur.catch(() => {});
  } finally {
    await fh.close();
  }
}

function changed(p: Planned, topDir: string, got: number, want: number): XenrelError {
  const where = p.src.kind === 'file' && p.src.content.type === 'path' ? p.src.content.abs : inTop(topDir, p.rel);
  return new XenrelError(
    'E_FILE_CHANGED',
    `${where}: expected ${want} bytes but read ${got} (did it change while packing?)`,
    {
      exitCode: ExitCode.checkFailed,
      hint: 'make sure nothing writes to the tree while the archive is written, then run the command again',
    },
  );
}

/**
 * The tar stream as chunks. `result` is filled while the stream is consumed.
 * Content of each file is sha256-hashed on the way (for the release's tree hashes).
 */
export async function* tarChunks(
  sources: Iterable<EntrySource>,
  opts: TarOptions,
  result: TarResult,
): AsyncGenerator<Uint8Array> {
  const { topDir, plan } = planEntries(sources, opts);
  const ra = new ReadAhead(plan, opts.readAheadBytes ?? 16 << 20);
  let total = 0;
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i]!;
    for (const h of headers(p, topDir, opts.mtime)) {
      total += h.length;
      yield h;
    }
    const s = p.src;
    if (s.kind === 'symlink') {
      result.entries.push(symlinkEntry(p.rel, s.target));
    } else if (s.kind === 'file') {
      const hash = opts.hashFiles === false ? undefined : createHash('sha256');
      let n = 0;
      for await (const chunk of ra.take(i)) {
        n += chunk.length;
        if (n > s.size) throw changed(p, topDir, n, s.size);
        hash?.update(chunk);
        opts.onContentBytes?.(chunk.length);
        yield chunk;
      }
      if (n !== s.size) throw changed(p, topDir, n, s.size);
      const pad = padding(n);
      if (pad) yield ZEROS.subarray(0, pad);
      total += n + pad;
      if (hash) result.entries.push(fileEntry(p.rel, s.executable, hash.digest('hex')));
    }
  }
  // End of archive: two zero blocks, then zeros up to a whole record.
  total += 2 * BLOCK;
  const end = 2 * BLOCK + ((RECORD - (total % RECORD)) % RECORD);
  result.tarSize = total - 2 * BLOCK + end;
  yield Buffer.alloc(end);
}
