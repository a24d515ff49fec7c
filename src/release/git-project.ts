import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import type { EntrySource } from '../archive/entries.js';
import { readTar } from '../archive/reader.js';
import { sortArchiveOrder } from '../archive/writer.js';
import {
  boundedMemoryArgs,
  gitArgs,
  gitEnv,
  gitFailure,
  lastLines,
  parseLsTree,
  runGit,
  type LsTreeRecord,
} from '../sources/git/run.js';
import { fileEntry, symlinkEntry, type TreeEntry } from '../tree/hash.js';
import { checkPlaceable } from '../sources/git/tree.js';
import { BlobReader, type GitAt } from './blob-reader.js';
import type { BlobHashCache } from './blob-hash-cache.js';
import { hashFromWorkTree, type WantedBlob } from './worktree-hashes.js';

/**
 * A git project's commit as archive entries, read from git objects: nothing is extracted
 * to disk. The content is what `git archive` of the commit gives (Xen's mktarball): paths
 * with `export-ignore` (or below a directory with it) are left out, and files whose
 * content `git archive` converts (`export-subst`, `ident`, `filter`, `eol=crlf`,
 * `working-tree-encoding`) are taken from a `git archive` of just those paths. Every other
 * file streams from one `git cat-file --batch` while the archive is written.
 * Each file's sha256 is computed once: from the blob-hash cache, else in one hashing pass
 * before writing (the whole-tree hash goes into release.json, near the archive's start),
 * of the checked-out file where it is the blob, of git's object otherwise.
 */

type Listed = LsTreeRecord;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface GitProjectFiles {
  /** For the archive writer; file content is read from git when the writer reaches it. */
  sources: EntrySource[];
  /** Tree-hash entries of the files and symlinks in `sources` (without the prefix). */
  entries: TreeEntry[];
  /** Content of a regular file of the commit as `git archive` gives it (before `skip`). */
  read(rel: string): Promise<Buffer | undefined>;
  /** Several files' content, read by one git child (those that exist). */
  readAll(rels: readonly string[]): Promise<Map<string, Buffer>>;
  /** Stops or reaps the git children; call it whatever happened. */
  close(): Promise<void>;
}

export interface GitProjectOptions {
  /** Relative paths left out, with everything below them. */
  skip: (rel: string) => boolean;
  hashCache?: BlobHashCache;
  /**
   * The commit's raw content, as a git component is vendored: no attributes applied,
   * submodule entries left out, unsafe paths and escaping symlinks refused.
   */
  raw?: boolean;
  /** Put before every path in `sources` (not in `entries`), e.g. `.xenrel/sources/NAME/`. */
  prefix?: string;
  /**
   * `root` is a bare repository (a cache mirror): git is pointed at it with --git-dir, never
   * left to discover it (which `safe.bareRepository` and ownership checks can refuse).
   */
  bare?: boolean;
}

const ATTRS = ['export-ignore', 'export-subst', 'ident', 'filter', 'eol', 'text', 'working-tree-encoding'];
const MAX_SYMLINK_TARGET = 64 * 1024;

function badTree(root: string, what: string): XenrelError {
  return new XenrelError('E_GIT_TREE', `${root}: ${what}`, {
    exitCode: ExitCode.usage,
    hint: 'fix the tree in git (rename or remove the entry) and commit, then release again',
  });
}

async function listTree(root: string, at: GitAt, commit: string): Promise<Listed[]> {
  const args = ['ls-tree', '-r', '-z', '--full-tree', commit];
  const r = await runGit(args, at);
  if (r.code !== 0) throw gitFailure(args, r, `listing the tree of ${commit} in ${root}`);
  return parseLsTree(r.stdout, (shown) => badTree(root, `path ${shown} is not valid UTF-8`));
}

/**
 * The attributes `git archive` acts on, for every path and directory, as git itself
 * resolves them for the commit: its `.gitattributes` files (read through a temporary index
 * of the commit, so neither the work tree nor the real index matter), `info/attributes`
 * and the user's attributes file.
 */
async function attributesOf(root: string, commit: string, paths: string[]): Promise<Map<string, Map<string, string>>> {
  const tmp = await mkdtemp(join(tmpdir(), `xenrel-release-${process.pid}-`));
  try {
    const env = { GIT_INDEX_FILE: join(tmp, 'index') };
    const rt = await runGit(['read-tree', commit], { cwd: root, env });
    if (rt.code !== 0) {
      // git only says it could not write the index: a full $TMPDIR is the usual reason.
      // The index holds some 70 bytes and the path per entry.
      const needed = paths.reduce((n, p) => n + 70 + Buffer.byteLength(p), 0);
      const fs = await statfs(tmp).catch(() => undefined);
      if (fs && fs.bavail * fs.bsize < Math.max(1 << 20, needed))
        throw wrapFsError(
          Object.assign(new Error(rt.stderr.trim()), { code: 'ENOSPC' }),
          `writing a temporary index in ${tmpdir()}`,
        );
      throw gitFailure(['read-tree'], rt, `reading the attributes of ${commit} in ${root}`);
    }
    // --all prints only what is set for a path: a few lines, not one per path and attribute.
    const args = ['check-attr', '--cached', '--stdin', '-z', '--all'];
    const r = await runGit(args, { cwd: root, env, input: paths.map((p) => `${p}\0`).join('') });
    if (r.code !== 0) throw gitFailure(args, r, `reading the attributes of ${commit} in ${root}`);
    const out = new Map<string, Map<string, string>>();
    const parts = r.stdout.toString('utf8').split('\0');
    for (let i = 0; i + 2 < parts.length; i += 3) {
      const v = parts[i + 2]!;
      if (v === 'unspecified' || !ATTRS.includes(parts[i + 1]!)) continue;
      let m = out.get(parts[i]!);
      if (!m) out.set(parts[i]!, (m = new Map()));
      m.set(parts[i + 1]!, v);
    }
    return out;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Does `git archive` change this file's bytes (with xenrel's pinned core.eol=lf, core.autocrlf=false)? */
function converted(a: Map<string, string> | undefined): boolean {
  if (!a) return false;
  if (a.get('export-subst') === 'set' || a.get('ident') === 'set') return true;
  const filter = a.get('filter');
  if (filter !== undefined && filter !== 'unset') return true;
  const wte = a.get('working-tree-encoding');
  if (wte !== undefined && wte !== 'unset') return true;
  return a.get('eol') === 'crlf' && a.get('text') !== 'unset';
}

/** `git archive` of just `paths` (in batches: the command line is bounded), content kept in memory. */
async function archivedContent(root: string, commit: string, paths: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (let i = 0; i < paths.length; i += 500) {
    const batch = paths.slice(i, i + 500);
    const child = spawn(
      'git',
      gitArgs([...boundedMemoryArgs(), 'archive', '--format=tar', commit, '--', ...batch.map((p) => `:(literal)${p}`)]),
      {
        cwd: root,
        env: gitEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-8192)));
    const exited = new Promise<number>((resolve) => {
      child.on('error', () => resolve(-1));
      child.on('close', (code) => resolve(code ?? 1));
    });
    try {
      await readTar(child.stdout as AsyncIterable<Uint8Array>, {
        name: `git archive ${commit} in ${root}`,
        onEntry: (e) => {
          if (e.type !== 'file') return;
          const parts: Buffer[] = [];
          return {
            write: (c) => void parts.push(Buffer.from(c)),
            end: () => void out.set(e.path, Buffer.concat(parts)),
          };
        },
      });
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      throw err;
    }
    const code = await exited;
    if (code !== 0)
      throw new XenrelError(
        'E_GIT',
        `git archive ${commit} failed in ${root}: ${lastLines(stderr, 4) || `exit ${code}`}`,
        { exitCode: ExitCode.usage },
      );
    for (const p of batch)
      if (!out.has(p))
        throw new XenrelError('E_GIT', `git archive ${commit} in ${root} did not give ${p}`, {
          exitCode: ExitCode.usage,
        });
  }
  return out;
}

const isFileMode = (m: string) => m === '100644' || m === '100755' || m === '100664';

/**
 * A blob's content for the archive writer, read from git when the writer reaches it. A plain
 * object per file: a closure each (with its context) was measured at some 100 bytes a file,
 * held through the whole write.
 */
class BlobContent {
  readonly type = 'reader';
  constructor(
    private readonly blobs: { open(oid: string): AsyncIterable<Uint8Array> },
    private readonly oid: string,
  ) {}
  open(): AsyncIterable<Uint8Array> {
    return this.blobs.open(this.oid);
  }
}

export async function gitProjectFiles(root: string, rev: string, opts: GitProjectOptions): Promise<GitProjectFiles> {
  const at: GitAt = opts.bare ? { gitDir: root } : { cwd: root };
  const resolved = await runGit(['rev-parse', '--verify', '-q', `${rev}^{commit}`], at);
  if (resolved.code !== 0) throw gitFailure(['rev-parse'], resolved, `resolving ${rev} in ${root}`);
  const commit = resolved.stdout.toString('utf8').trim();
  const listed = await listTree(root, at, commit);

  const dirs = new Set<string>();
  for (const l of listed)
    for (let i = l.path.indexOf('/'); i >= 0; i = l.path.indexOf('/', i + 1)) dirs.add(l.path.slice(0, i));
  const attrs = opts.raw
    ? new Map<string, Map<string, string>>()
    : await attributesOf(root, commit, [...listed.map((l) => l.path), ...dirs]);
  const ignored = (p: string): boolean => {
    if (attrs.get(p)?.get('export-ignore') === 'set') return true;
    const slash = p.lastIndexOf('/');
    return slash >= 0 && ignored(p.slice(0, slash));
  };
  const kept = opts.raw
    ? listed.filter((l) => l.type !== 'commit')
    : listed.filter((l) => !ignored(l.path) && !l.path.split('/').includes('.git'));
  for (const l of kept) {
    if (l.type === 'blob' && !isFileMode(l.mode) && l.mode !== '120000')
      throw badTree(root, `unsupported mode ${l.mode} for ${l.path} in ${commit}`);
    if (l.type !== 'blob' && l.type !== 'commit')
      throw badTree(root, `unexpected ${l.type} entry ${l.path} in ${commit}`);
  }
  const files = kept.filter((l) => l.type === 'blob' && isFileMode(l.mode));
  const routedPaths = files.filter((l) => converted(attrs.get(l.path))).map((l) => l.path);
  const routed = routedPaths.length ? await archivedContent(root, commit, routedPaths) : new Map<string, Buffer>();

  // Hashing pass: symlink targets (needed to plan the archive) and files the cache lacks.
  const cache = opts.hashCache;
  const links = new Map<string, string>();
  const hashes = new Map<string, { size: number; sha256: string }>();
  const want = new Set<string>();
  for (const l of kept) {
    if (l.mode === '120000') want.add(l.oid);
    else if (l.type === 'blob' && !routed.has(l.path)) {
      const h = cache?.get(l.oid);
      if (h) hashes.set(l.oid, h);
      else want.add(l.oid);
    }
  }
  const linkOids = new Set(kept.filter((l) => l.mode === '120000').map((l) => l.oid));
  const linkTarget = (bytes: Buffer): string => {
    if (bytes.length > MAX_SYMLINK_TARGET)
      throw badTree(root, `a symlink in ${commit} has a ${bytes.length}-byte target`);
    let target: string;
    try {
      target = utf8.decode(bytes);
    } catch {
      throw badTree(root, `a symlink target in ${commit} is not valid UTF-8`);
    }
    if (target.includes('\0')) throw badTree(root, `a symlink target in ${commit} holds a NUL byte`);
    return target;
  };
  if (want.size && !opts.bare) {
    // A checked-out file whose bytes hash to its blob's id is that blob: read from the page
    // cache, not inflated from the pack. A symlink's blob is taken from a symlink.
    const checkedOut = new Map<string, WantedBlob>();
    for (const l of kept) {
      const symlink = l.mode === '120000';
      if (want.has(l.oid) && !checkedOut.has(l.oid) && symlink === linkOids.has(l.oid))
        checkedOut.set(l.oid, { oid: l.oid, path: l.path, symlink });
    }
    for (const [oid, got] of await hashFromWorkTree(root, [...checkedOut.values()])) {
      if (got.target) links.set(oid, linkTarget(got.target));
      const h = { size: got.size, sha256: got.sha256 };
      hashes.set(oid, h);
      cache?.set(oid, h);
      want.delete(oid);
    }
  }
  if (want.size) {
    // git's inflating is the cost here: one cat-file per core, each on a contiguous share.
    const oids = [...want];
    const shares = Math.max(1, Math.min(availableParallelism(), Math.ceil(oids.length / 256)));
    const per = Math.ceil(oids.length / shares);
    const passes = Array.from({ length: shares }, (_, i) => oids.slice(i * per, (i + 1) * per)).map((list) => ({
      list,
      reader: new BlobReader(at, list),
    }));
    const hashShare = async ({ list, reader }: { list: string[]; reader: BlobReader }) => {
      for (const oid of list) {
        const h = createHash('sha256');
        const parts: Buffer[] = [];
        let size = 0;
        for await (const c of reader.read(oid)) {
          h.update(c);
          size += c.length;
          if (linkOids.has(oid)) {
            if (size > MAX_SYMLINK_TARGET) throw badTree(root, `a symlink in ${commit} has a ${size}-byte target`);
            parts.push(Buffer.from(c));
          }
        }
        const got = { size, sha256: h.digest('hex') };
        hashes.set(oid, got);
        cache?.set(oid, got);
        if (linkOids.has(oid)) links.set(oid, linkTarget(Buffer.concat(parts)));
      }
    };
    const results = await Promise.allSettled(passes.map(hashShare));
    const closed = await Promise.allSettled(passes.map((p) => p.reader.close()));
    for (const r of [...results, ...closed]) if (r.status === 'rejected') throw r.reason;
  }
  if (opts.raw)
    checkPlaceable(
      root,
      commit,
      kept.filter((l) => l.mode !== '120000').map((l) => l.path),
      kept.filter((l) => l.mode === '120000').map((l) => ({ path: l.path, target: links.get(l.oid)! })),
    );
  const prefix = opts.prefix ?? '';

  const sources: EntrySource[] = [];
  const entries: TreeEntry[] = [];
  const streamed: { path: string; oid: string }[] = [];
  let reader: BlobReader | undefined;
  let readerOids: string[] = [];
  const blobs = {
    open: (oid: string) => {
      reader ??= new BlobReader(at, readerOids);
      return reader.read(oid);
    },
  };
  for (const l of kept) {
    if (opts.skip(l.path)) continue;
    if (l.type === 'commit') {
      // A submodule: `git archive` writes an empty directory.
      sources.push({ kind: 'dir', path: prefix + l.path });
    } else if (l.mode === '120000') {
      const target = links.get(l.oid)!;
      sources.push({ kind: 'symlink', path: prefix + l.path, target });
      entries.push(symlinkEntry(l.path, target));
    } else {
      const executable = l.mode === '100755';
      const data = routed.get(l.path);
      if (data) {
        sources.push({
          kind: 'file',
          path: prefix + l.path,
          executable,
          size: data.length,
          content: { type: 'buffer', data },
        });
        entries.push(fileEntry(l.path, executable, createHash('sha256').update(data).digest('hex')));
      } else {
        const h = hashes.get(l.oid)!;
        const path = prefix + l.path;
        sources.push({ kind: 'file', path, executable, size: h.size, content: new BlobContent(blobs, l.oid) });
        entries.push(fileEntry(l.path, executable, h.sha256));
        streamed.push({ path, oid: l.oid });
      }
    }
  }
  // The writer reaches files in archive order: git is asked for them in that order.
  readerOids = sortArchiveOrder(streamed, (s) => s.path).map((s) => s.oid);

  const byPath = new Map(kept.filter((l) => l.type === 'blob' && isFileMode(l.mode)).map((l) => [l.path, l.oid]));
  // One git child for a whole list: a child per file cost Xen's release 25 spawns
  const readAll = async (rels: readonly string[]): Promise<Map<string, Buffer>> => {
    const out = new Map<string, Buffer>();
    const wanted: [string, string][] = [];
    for (const rel of rels) {
      const r = routed.get(rel);
      const oid = byPath.get(rel);
      if (r) out.set(rel, r);
      else if (oid) wanted.push([rel, oid]);
    }
    if (!wanted.length) return out;
    const batch = new BlobReader(
      at,
      wanted.map(([, oid]) => oid),
    );
    try {
      for (const [rel, oid] of wanted) {
        const parts: Buffer[] = [];
        for await (const c of batch.read(oid)) parts.push(Buffer.from(c));
        out.set(rel, Buffer.concat(parts));
      }
    } finally {
      await batch.close();
    }
    return out;
  };
  // The closures above keep this scope alive as long as the caller holds the result: what
  // only the planning needed goes now, and the rest on close (a large tree's maps are MiBs).
  hashes.clear();
  links.clear();
  linkOids.clear();
  return {
    sources,
    entries,
    read: async (rel) => (await readAll([rel])).get(rel),
    readAll,
    async close() {
      await reader?.close();
      reader = undefined;
      readerOids = [];
      byPath.clear();
      routed.clear();
    },
  };
}
