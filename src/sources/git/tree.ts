import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { writeAll, writeAllSync } from '../../util/atomic.js';
import { mkdir, open, symlink, readdir, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { XenrelError, ExitCode, wrapFsError } from '../../errors.js';
import { sortEntries, type TreeEntry, type TreeMode } from '../../tree/hash.js';
import { LinkTree } from '../../archive/link-resolve.js';
import { gitArgs, gitEnv, gitFailure, lastLines, parseLsTree, runGit } from './run.js';

/**
 * Reading a commit's content straight from git objects.
 *
 * Decision: a git component's tree hash is the hash of the RAW git content at the commit
 * (blob bytes exactly as committed), never of a work tree or of `git archive`. So
 * `.gitattributes` (eol/text/ident/filters, export-subst, export-ignore), `core.autocrlf`
 * and LFS smudge filters cannot change it, and anyone can recompute it from a clone:
 * the same bytes a plain `git checkout` writes for a repository without attributes.
 * Attributes that `git archive` would apply are reported (`attributes`) so callers can
 * warn, but they are not applied.
 */

export interface Gitlink {
  path: string;
  commit: string;
}

export interface GitTreeAttributes {
  /** Patterns carrying `export-subst`, as `<dir of .gitattributes>/<pattern>`. */
  exportSubst: string[];
  /** Patterns carrying `export-ignore`, as `<dir of .gitattributes>/<pattern>`. */
  exportIgnore: string[];
}

export interface GitTree {
  /** Files and symlinks, bytewise path order. */
  entries: TreeEntry[];
  /** Submodules (mode 160000): not part of the tree hash; each is pinned on its own. */
  gitlinks: Gitlink[];
  attributes: GitTreeAttributes;
}

interface LsEntry {
  mode: TreeMode;
  oid: string;
  path: string;
}

/** Linux refuses a longer symlink target (PATH_MAX less the NUL). */
const MAX_SYMLINK_TARGET = 4095;

function badTree(mirrorDir: string, commit: string, what: string): XenrelError {
  return new XenrelError('E_GIT_TREE', `commit ${commit} in ${mirrorDir}: ${what}`, {
    exitCode: ExitCode.checkFailed,
    hint: 'this commit cannot be used as a source; pin another commit or report it upstream',
  });
}

/** `git ls-tree -r -z --full-tree`: `<mode> SP <type> SP <oid> TAB <path> NUL`. */
async function lsTree(mirrorDir: string, commit: string): Promise<{ blobs: LsEntry[]; gitlinks: Gitlink[] }> {
  const args = ['ls-tree', '-r', '-z', '--full-tree', `${commit}^{tree}`];
  const r = await runGit(args, { gitDir: mirrorDir });
  if (r.code !== 0) throw gitFailure(args, r, `listing the tree of ${commit}`);
  const blobs: LsEntry[] = [];
  const gitlinks: Gitlink[] = [];
  for (const { mode, type, oid, path } of parseLsTree(r.stdout, (shown) =>
    badTree(mirrorDir, commit, `path ${shown} is not valid UTF-8`),
  )) {
    if (type === 'commit' && mode === '160000') gitlinks.push({ path, commit: oid });
    else if (type === 'blob') {
      // Very old repositories have 100664 (group-writable) entries: git treats them as 100644.
      const m: TreeMode | undefined =
        mode === '100755'
          ? '100755'
          : mode === '120000'
            ? '120000'
            : mode === '100644' || mode === '100664'
              ? '100644'
              : undefined;
      if (!m) throw badTree(mirrorDir, commit, `unsupported mode ${mode} for ${path}`);
      blobs.push({ mode: m, oid, path });
    } else throw badTree(mirrorDir, commit, `unexpected ${type} entry ${path}`);
  }
  return { blobs, gitlinks };
}

/** The submodules (mode 160000 entries) of `commit`, without reading any blob. */
export async function listGitlinks(mirrorDir: string, commit: string): Promise<Gitlink[]> {
  return (await lsTree(mirrorDir, commit)).gitlinks;
}

/** Receives each blob's bytes as `git cat-file --batch` streams them. */
interface BlobSink {
  begin(entry: LsEntry, size: number): Promise<void> | void;
  data(chunk: Buffer): Promise<void> | void;
  end(): Promise<void> | void;
}

/**
 * One `git cat-file --batch` process for the whole tree: object ids go in, `<oid> <type>
 * <size>\n<content>\n` comes out, in order. Content is handed to the sink chunk by chunk
 * (the `for await` loop gives back-pressure), so memory stays flat whatever the size.
 */
async function streamBlobs(mirrorDir: string, blobs: LsEntry[], sink: BlobSink): Promise<void> {
  const child = spawn('git', gitArgs(['cat-file', '--batch'], mirrorDir), {
    env: gitEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  child.stdin.on('error', () => {});
  child.stdin.end(blobs.map((b) => `${b.oid}\n`).join(''));

  let i = 0;
  let header: Buffer[] = [];
  let remaining = -1; // bytes of content still to come; -1 = reading a header; -2 = expecting the trailing LF
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        if (remaining === -2) {
          off++; // the LF after the content
          remaining = -1;
          continue;
        }
        if (remaining === -1) {
          const nl = chunk.indexOf(0x0a, off);
          if (nl < 0) {
            header.push(chunk.subarray(off));
            break;
          }
          header.push(chunk.subarray(off, nl));
          off = nl + 1;
          const line = Buffer.concat(header).toString('utf8');
          header = [];
          const entry = blobs[i];
          const m = /^([0-9a-f]+) (\S+) (\d+)$/.exec(line);
          if (!entry || !m || m[1] !== entry.oid || m[2] !== 'blob')
            throw new XenrelError(
              'E_GIT_TREE',
              `git cat-file in ${mirrorDir}: unexpected answer "${line}" for ${entry?.path ?? '(nothing)'}`,
              {
                exitCode: ExitCode.fetch,
                hint: 'the mirror may be damaged; delete it from the cache and fetch again',
              },
            );
          remaining = Number(m[3]);
          await sink.begin(entry, remaining);
          if (remaining === 0) {
            await sink.end();
            i++;
            remaining = -2;
          }
          continue;
        }
        const take = Math.min(remaining, chunk.length - off);
        await sink.data(chunk.subarray(off, off + take));
        off += take;
        remaining -= take;
        if (remaining === 0) {
          await sink.end();
          i++;
          remaining = -2;
        }
      }
    }
  } catch (err) {
    child.kill('SIGKILL');
    await exited.catch(() => {});
    throw err;
  }
  const code = await exited;
  if (code !== 0 || i !== blobs.length)
    throw new XenrelError(
      'E_GIT',
      `git cat-file in ${mirrorDir} stopped after ${i} of ${blobs.length} objects: ${lastLines(stderr, 4) || `exit code ${code}`}`,
      {
        exitCode: ExitCode.fetch,
        hint: 'the mirror may be damaged; delete it from the cache and fetch again',
      },
    );
}

/** Patterns from one `.gitattributes` file that `git archive` would act on. */
export function parseExportAttributes(dir: string, text: string, into: GitTreeAttributes): void {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [pattern, ...attrs] = line.split(/\s+/);
    const full = dir ? `${dir}/${pattern}` : pattern!;
    if (attrs.includes('export-subst')) into.exportSubst.push(full);
    if (attrs.includes('export-ignore')) into.exportIgnore.push(full);
  }
}

/** Collects a small blob whole (symlink targets, .gitattributes). */
class SmallBlob {
  parts: Buffer[] = [];
  size = 0;
  push(c: Buffer, limit: number, what: string) {
    this.size += c.length;
    if (this.size > limit) throw new Error(`${what} is larger than ${limit} bytes`);
    this.parts.push(c);
  }
  get bytes() {
    return Buffer.concat(this.parts);
  }
}

const hex = (h: Hash) => h.digest('hex');

/**
 * The files, symlinks and gitlinks of `commit`, hashed from raw blobs (see the decision at
 * the top of this file). One `ls-tree` and one streaming `cat-file` process.
 */
export async function gitTreeEntries(mirrorDir: string, commit: string): Promise<GitTree> {
  return walkCommit(mirrorDir, commit, undefined);
}

/**
 * Write the files and symlinks of `commit` into `dest` (an empty or new directory) from
 * raw blobs, hashing as it writes, and return the entries so the caller can check the
 * tree hash before using the result. Callers pass a staging directory and rename it into
 * place only after the hash matched: a crash or a mismatch then never leaves a partial
 * tree under the final name. Paths with `.`/`..`/`.git` components, absolute paths and
 * symlinks that resolve outside the tree (or to its root) are refused before anything
 * is written for them; symlinks are created last, so no file is ever written through one.
 */
export async function exportTree(mirrorDir: string, commit: string, dest: string): Promise<TreeEntry[]> {
  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0)
    throw new XenrelError('E_DEST_NOT_EMPTY', `cannot export ${commit} into ${dest}: the folder is not empty`, {
      exitCode: ExitCode.usage,
    });
  return (await walkCommit(mirrorDir, commit, dest)).entries;
}

/**
 * What a commit must satisfy to be placed as a folder, checked before any byte of it is
 * used: safe paths, symlink targets Linux accepts, none leading out of the tree.
 */
export function checkPlaceable(
  mirrorDir: string,
  commit: string,
  paths: Iterable<string>,
  links: readonly { path: string; target: string }[],
): void {
  for (const p of paths) checkPath(mirrorDir, commit, p);
  for (const l of links) {
    checkPath(mirrorDir, commit, l.path);
    if (Buffer.byteLength(l.target) > MAX_SYMLINK_TARGET)
      throw badTree(mirrorDir, commit, `symlink ${l.path} has a ${Buffer.byteLength(l.target)}-byte target`);
    if (l.target.includes('\0')) throw badTree(mirrorDir, commit, `symlink ${l.path} has a NUL byte in its target`);
  }
  checkLinks(mirrorDir, commit, links);
}

function checkLinks(mirrorDir: string, commit: string, links: readonly { path: string; target: string }[]): void {
  const tree = new LinkTree();
  for (const l of links) tree.addSymlink(l.path, l.target);
  for (const l of links)
    if (symlinkVerdict(l.path, tree, l.target) === 'escapes')
      throw badTree(
        mirrorDir,
        commit,
        `refusing symlink ${l.path} -> ${l.target}: it points outside the tree or at its root`,
      );
}

function checkPath(mirrorDir: string, commit: string, path: string): void {
  const parts = path.split('/');
  if (
    path.startsWith('/') ||
    path.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..' || p.toLowerCase() === '.git')
  )
    throw badTree(mirrorDir, commit, `refusing unsafe path ${JSON.stringify(path)}`);
}

/**
 * Where the symlink at `path` leads, following the tree's other symlinks as the kernel
 * would (linear time: see archive/link-resolve.ts). A lexical check is not enough:
 * `a/b/l -> ..` then `a/b/m -> l/../..` stays inside on paper and escapes on disk.
 * 'inert': an absolute target (edk2 has some), harmless because xenrel creates it last and
 * nothing is ever written or resolved through it.
 */
export function symlinkVerdict(
  path: string,
  links: ReadonlyMap<string, string> | LinkTree,
  own?: string,
): 'inside' | 'inert' | 'escapes' {
  const target = own ?? (links instanceof LinkTree ? undefined : links.get(path));
  if (target === undefined || target === '') return 'escapes';
  if (target.startsWith('/')) return 'inert';
  let tree: LinkTree;
  if (links instanceof LinkTree) tree = links;
  else {
    tree = new LinkTree();
    for (const [p, t] of links) tree.addSymlink(p, t);
  }
  const r = tree.resolve(path);
  return typeof r === 'string' || r.isRoot ? 'escapes' : 'inside';
}

/** True when the link leaves the tree, resolves to its root, or is absolute. */
export const symlinkEscapes = (path: string, links: ReadonlyMap<string, string>): boolean =>
  symlinkVerdict(path, links) !== 'inside';

const SMALL_FILE = 1 << 20;

/**
 * Small files are written with synchronous calls: each async fs call costs a thread-pool
 * round trip, and for a tree of 10k small files that made export 7x slower than
 * `git checkout`. A write of at most SMALL_FILE bytes blocks the loop for about a millisecond.
 */
function writeNewFileSync(abs: string, data: Buffer, mode: number): void {
  // 'wx' = O_CREAT|O_EXCL: never follows or overwrites an existing entry.
  const fd = openSync(abs, 'wx', mode);
  try {
    writeAllSync(fd, data);
    // The umask must not decide the exec bit.
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

async function walkCommit(mirrorDir: string, commit: string, dest: string | undefined): Promise<GitTree> {
  const { blobs, gitlinks } = await lsTree(mirrorDir, commit);
  const attributes: GitTreeAttributes = { exportSubst: [], exportIgnore: [] };
  const entries: TreeEntry[] = [];
  const links: { path: string; target: string }[] = [];
  const madeDirs = new Set<string>(['']);
  if (dest) for (const b of blobs) checkPath(mirrorDir, commit, b.path);

  let cur: LsEntry | undefined;
  let hash: Hash | undefined;
  let small: SmallBlob | undefined;
  let content: Buffer[] | undefined; // a small file to write whole
  let fh: FileHandle | undefined; // a large file, written as it streams

  const ensureDir = async (path: string) => {
    const dir = posix.dirname(path);
    const d = dir === '.' ? '' : dir;
    if (!madeDirs.has(d)) {
      await mkdir(join(dest!, d), { recursive: true });
      madeDirs.add(d);
    }
  };
  const fileMode = (e: LsEntry) => (e.mode === '100755' ? 0o755 : 0o644);

  const sink: BlobSink = {
    async begin(entry, size) {
      cur = entry;
      hash = createHash('sha256');
      const isAttr = entry.path === '.gitattributes' || entry.path.endsWith('/.gitattributes');
      small = entry.mode === '120000' || (isAttr && size <= 1 << 20) ? new SmallBlob() : undefined;
      if (entry.mode === '120000' && size > MAX_SYMLINK_TARGET)
        throw badTree(mirrorDir, commit, `symlink ${entry.path} has a ${size}-byte target`);
      if (dest && entry.mode !== '120000') {
        await ensureDir(entry.path);
        if (size <= SMALL_FILE) content = [];
        else fh = await open(join(dest, entry.path), 'wx', fileMode(entry));
      }
    },
    async data(chunk) {
      hash!.update(chunk);
      small?.push(chunk, MAX_SYMLINK_TARGET * 16, cur!.path);
      content?.push(chunk);
      if (fh) await writeAll(fh, chunk);
    },
    async end() {
      const e = cur!;
      entries.push({ path: e.path, mode: e.mode, sha256: hex(hash!) });
      if (content) {
        writeNewFileSync(join(dest!, e.path), Buffer.concat(content), fileMode(e));
        content = undefined;
      }
      if (fh) {
        await fh.chmod(fileMode(e));
        await fh.close();
        fh = undefined;
      }
      if (small && e.mode === '120000') {
        const target = small.bytes.toString('utf8');
        if (target.includes('\0')) throw badTree(mirrorDir, commit, `symlink ${e.path} has a NUL byte in its target`);
        links.push({ path: e.path, target });
      } else if (small) {
        const dir = posix.dirname(e.path);
        parseExportAttributes(dir === '.' ? '' : dir, small.bytes.toString('utf8'), attributes);
      }
      small = undefined;
    },
  };

  try {
    await streamBlobs(mirrorDir, blobs, sink);
    if (dest) {
      checkLinks(mirrorDir, commit, links);
      // Symlinks last: no file above was ever written through one.
      for (const l of links) {
        await ensureDir(l.path);
        await symlink(l.target, join(dest, l.path));
      }
    }
  } catch (err) {
    await fh?.close().catch(() => {});
    throw wrapFsError(err, dest ? `writing ${dest}` : `reading ${mirrorDir}`);
  }
  return { entries: sortEntries(entries), gitlinks, attributes };
}
