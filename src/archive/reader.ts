import { createHash, hash as oneShotHash } from 'node:crypto';
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
  type AbsoluteLinks,
  type Finding,
  type Limits,
  type RuleCode,
} from './policy.js';
import { ByteSource } from './byte-source.js';
import { MemberReader, type Member } from './tar-members.js';
import { TYPE } from './tar-format.js';
import { nameFromBytes, showName } from '../tree/name-bytes.js';

/**
 * A safe streaming tar reader. It never writes anything. byte-source.ts cuts the stream,
 * tar-members.ts decodes headers as GNU tar does (pax, GNU long names, sparse files), and
 * this module applies the entry policy of policy.ts to every entry BEFORE handing it to the
 * caller, streaming file content through sha256 (and to the caller's sink, if any). The
 * contract: the entries and tree hash are those of the tree GNU tar extracts, or the archive
 * is refused naming the entry and the rule. Memory: one small record per entry.
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
  /** Absolute symlink targets: refused (default), or accepted as inert (see policy.ts). */
  absoluteSymlinks?: AbsoluteLinks;
  /**
   * true (default): a link nested under a top directory must stay inside it. false for an
   * archive of a tree's own root (`git archive`), where staying inside the root is enough.
   */
  topDirRule?: boolean;
  /**
   * A directory header with a size (Solaris tar writes one): GNU tar and bsdtar ignore the
   * size and read what follows as headers; so does xenrel unless this is false.
   */
  solarisDirSize?: boolean;
  /** Called with the length of each chunk of the (compressed) input as it is read (progress). */
  onBytes?: (n: number) => void;
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

const ARCHIVE = '<archive>';
const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as { then?: unknown } | undefined)?.then === 'function';
const sha256Hex = (b: Uint8Array) => oneShotHash('sha256', b, 'hex');
const truncated = () =>
  new FatalFinding(finding('E_TAR_TRUNCATED', ARCHIVE, 'the archive ends in the middle of an entry'));
const fatal = (code: RuleCode, path: string, detail?: string) => new FatalFinding(finding(code, path, detail));

function toInput(input: string | AsyncIterable<Uint8Array>, onBytes?: (n: number) => void): AsyncIterable<Uint8Array> {
  const src = typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input;
  if (!onBytes) return src;
  return (async function* () {
    for await (const c of src as AsyncIterable<Uint8Array>) {
      onBytes(c.length);
      yield c;
    }
  })();
}

/** Reads a (compressed) tar archive once, applying the entry policy. */
export async function readTar(
  input: string | AsyncIterable<Uint8Array>,
  opts: ReadTarOptions = {},
): Promise<ReadTarResult> {
  const limits = resolveLimits(opts.limits);
  const name = opts.name ?? (typeof input === 'string' ? input : 'archive');
  const findings: Finding[] = [];
  const result: ReadTarResult = {
    compression: 'none',
    compressedBytes: 0,
    entries: 0,
    totalSize: 0,
    findings,
    complete: true,
  };
  let dec;
  try {
    dec = await decompress(toInput(input, opts.onBytes), limits);
    result.compression = dec.compression;
    const links = await parse(new ByteSource(dec.chunks, truncated), limits, opts, result);
    for (const f of checkSymlinks(links, { limits, absolute: opts.absoluteSymlinks, topDirRule: opts.topDirRule }))
      report(f);
  } catch (err) {
    if (!(err instanceof FatalFinding)) throw err;
    if (!opts.collect) throw findingError(err.finding, name);
    findings.push(err.finding);
    result.complete = false;
  } finally {
    if (dec) result.compressedBytes = dec.compressedBytes;
  }
  return result;

  function report(f: Finding) {
    if (!opts.collect) throw findingError(f, name);
    findings.push(f);
  }
}

/** A node of the archive's namespace: one per path component, so every check is linear in the path. */
interface NameNode {
  type?: EntryType;
  children?: Map<string, NameNode>;
  /** Collision key → name, among the children. */
  folded?: Map<string, string>;
  /** A file's (or hard link's) digest once read: what a later hard link to it gets. */
  sha256?: string;
  executable?: boolean;
}

async function parse(
  src: ByteSource,
  limits: Limits,
  opts: ReadTarOptions,
  result: ReadTarResult,
): Promise<Map<string, string>> {
  const root: NameNode = {};
  const links = new Map<string, string>(); // symlink → target
  const members = new MemberReader(src, limits);
  let sinceYield = 0;

  for (;;) {
    const m = members.nextNow() ?? (await members.next());
    if (!m) {
      // GNU tar: "This does not look like a tar archive". (A lone zero block is an empty archive.)
      if (src.offset === 0)
        throw fatal('E_TAR_TRUNCATED', ARCHIVE, 'the archive is empty: not even an end-of-archive block');
      // End of archive (or of input: GNU tar and bsdtar accept a missing end marker). A second
      // zero block normally follows, then zero padding up to the record size; anything else is refused.
      const rest = await src.rest();
      if (rest.nonZero)
        throw fatal('E_TAR_TRAILING_GARBAGE', ARCHIVE, `data after the end-of-archive marker (after ${members.place})`);
      break;
    }
    const rawPath = nameFromBytes(m.name);
    const rawLink = nameFromBytes(m.linkname);
    const shown = () => showName(rawPath); // only for messages
    if (++result.entries > limits.maxEntries)
      throw fatal('E_TAR_LIMIT', shown(), `more than ${limits.maxEntries} entries`);
    if (m.size > limits.maxEntrySize)
      throw fatal('E_TAR_LIMIT', shown(), `entry of ${m.size} bytes (limit ${limits.maxEntrySize})`);
    result.totalSize += m.size;
    if (result.totalSize > limits.maxTotalSize)
      throw fatal('E_TAR_LIMIT', shown(), `archive content above ${limits.maxTotalSize} bytes`);

    const t = m.typeflag;
    let type: EntryType | undefined;
    if (t === TYPE.file || t === TYPE.oldFile || t === TYPE.contiguous)
      type = 'file'; // contiguous: a regular file (POSIX)
    else if (t === TYPE.dir) type = 'dir';
    else if (t === TYPE.symlink) type = 'symlink';
    else if (t === TYPE.hardlink) type = 'hardlink';

    const problems: Finding[] = [];
    let accepted: NameNode | undefined; // the entry's place in the namespace, once accepted
    const entry = check(m);
    if (problems.length || !entry) {
      for (const f of problems) {
        if (!opts.collect) throw new FatalFinding(f);
        result.findings.push(f);
      }
      await members.content(m);
      continue;
    }
    // Callbacks and content are awaited only when they return a promise: most entries are
    // small and sit inside one decompressed chunk, and a microtask each adds up.
    let sink = opts.onEntry?.(entry);
    if (isPromise(sink)) sink = await sink;
    if (entry.type === 'file') {
      const whole = sink ? undefined : members.contentNow(m);
      if (whole) entry.sha256 = sha256Hex(whole);
      else {
        const h = createHash('sha256');
        const s = sink;
        const r = members.content(
          m,
          s
            ? (c) => {
                h.update(c);
                return s.write(c);
              }
            : (c) => void h.update(c),
        );
        if (r) await r;
        entry.sha256 = h.digest('hex');
      }
      accepted!.sha256 = entry.sha256;
      accepted!.executable = entry.executable;
    } else {
      const r = members.content(m);
      if (r) await r;
    }
    if (sink?.end) {
      const r = sink.end();
      if (r) await r;
    }
    if (opts.onEntryDone) {
      const r = opts.onEntryDone(entry);
      if (r) await r;
    }
    // Many tiny entries come from one decompressed chunk without a pause: let signals and timers run.
    if (++sinceYield >= 1024) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }

    function check(m: Member): TarEntry | undefined {
      if (t === 'slash-with-data') {
        problems.push(
          finding(
            'E_TAR_AMBIGUOUS',
            shown(),
            `a file header named with a trailing \`/\` declares ${m.declaredSize} bytes: GNU tar and bsdtar read it as a directory and those bytes as headers, other readers as its content`,
          ),
        );
        return undefined;
      }
      if (!type) {
        problems.push(finding('E_TAR_SPECIAL', shown(), `${describeType(t)} entry`));
        return undefined;
      }
      if (type !== 'file' && m.declaredSize > 0n && !(type === 'dir' && opts.solarisDirSize !== false)) {
        problems.push(
          finding(
            'E_TAR_AMBIGUOUS',
            shown(),
            `a ${type} header declares ${m.declaredSize} bytes of data: GNU tar and bsdtar read them as the next headers, other readers skip them`,
          ),
        );
        return undefined;
      }
      const c = checkPath(rawPath, limits, type === 'dir');
      if ('finding' in c) {
        problems.push(c.finding);
        return undefined;
      }
      const path = c.path;
      if (path === '') {
        if (type !== 'dir') problems.push(finding('E_TAR_ROOT_ENTRY', shown(), `${type} entry names the archive root`));
        return undefined; // `./` itself: nothing to do
      }
      const parts = c.parts;
      // Walk the namespace (extended only once the entry is accepted): parents, collisions, duplicates.
      let node = root;
      const created: [NameNode, string, NameNode][] = [];
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        let child = node.children?.get(part);
        if (!child) {
          const other = node.folded?.get(collisionKey(part));
          if (other !== undefined) {
            const p = parts.slice(0, i + 1).join('/');
            problems.push(
              finding(
                'E_TAR_COLLISION',
                path,
                `${p}: collides with ${[...parts.slice(0, i), other].join('/')} (case or Unicode form)`,
              ),
            );
            return undefined;
          }
          child = {};
          created.push([node, part, child]);
        } else if (i < parts.length - 1 && child.type && child.type !== 'dir') {
          problems.push(
            finding(
              'E_TAR_THROUGH_LINK',
              path,
              `${path}: lies beneath ${parts.slice(0, i + 1).join('/')}, which is a ${child.type}`,
            ),
          );
          return undefined;
        }
        node = child;
      }
      if (node.type) {
        problems.push(finding('E_TAR_DUPLICATE', path));
        return undefined;
      }
      if (type !== 'dir' && node.children?.size) {
        problems.push(
          finding('E_TAR_DUPLICATE', path, `${path}: a ${type} entry where the archive also has a directory`),
        );
        return undefined;
      }
      const e: TarEntry = { path, type: type!, mode: m.mode, executable: (m.mode & 0o100) !== 0, size: m.size };
      if (type === 'symlink') {
        e.linkpath = rawLink;
        const lf = checkLinkTarget(path, rawLink, limits, opts.absoluteSymlinks);
        if (lf) problems.push(lf);
      } else if (type === 'hardlink') {
        const lc = checkPath(rawLink, limits, false);
        const target = 'path' in lc ? lookup(root, lc.parts) : undefined;
        if (target?.sha256 === undefined || !('path' in lc))
          problems.push(
            finding(
              'E_TAR_HARDLINK',
              path,
              `${path}: hard link to ${JSON.stringify(showName(rawLink))}, which is not an earlier regular file of the archive`,
            ),
          );
        else {
          e.linkpath = lc.path;
          e.sha256 = target.sha256;
          e.executable = target.executable!;
        }
      }
      if (problems.length) return undefined;
      for (const [parent, part, child] of created) {
        (parent.children ??= new Map()).set(part, child);
        (parent.folded ??= new Map()).set(collisionKey(part), part);
      }
      node.type = type;
      if (type === 'symlink') links.set(path, rawLink);
      if (type === 'hardlink') {
        node.sha256 = e.sha256;
        node.executable = e.executable;
      }
      accepted = node;
      return e;
    }
  }
  return links;
}

/** The node at a path, if the archive has one there. */
function lookup(root: NameNode, parts: string[]): NameNode | undefined {
  let node: NameNode | undefined = root;
  for (const part of parts) node = node?.children?.get(part);
  return node;
}

function describeType(t: string): string {
  const names: Record<string, string> = {
    '3': 'character device',
    '4': 'block device',
    '6': 'FIFO',
    M: 'GNU multi-volume continuation',
    V: 'volume label',
    D: 'GNU dump directory',
    N: 'old GNU long-name',
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
      if (e.type === 'symlink') entries.push(symlinkEntry(e.path, e.linkpath!));
      else entries.push(fileEntry(e.path, e.executable, e.sha256!));
    },
  });
  return {
    hash: treeHash(entries),
    entries,
    topDirs: [...tops].sort(),
    findings: r.findings,
    compression: r.compression,
  };
}
