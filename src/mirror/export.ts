import { isFullCommit } from '../util/patterns.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import cacache from 'cacache';
import type { Cache } from '../content-cache/cache.js';
import { ExitCode, XenrelError, wrapFsError } from '../errors.js';
import { copyContentTo, hasVerifiedContent } from '../sources/tarball.js';
import { git, runGit } from '../sources/git/run.js';
import { compareBytewise } from '../tree/hash.js';
import { isLockedGit, isLockedTarball, type Lockfile, type ProgressSink } from '../types.js';
import { fsyncDir, tempName, writeFileAtomic } from '../util/atomic.js';
import { byHashPath, gitMirrorAltPath, gitMirrorPath, MIRROR_INDEX, tarballFileName } from '../layout/mirror.js';

/**
 * `xenrel mirror DIR`: the cache as a static mirror any web server can host (layout in
 * layout.ts). Every write is atomic (temp + rename; new git repositories are built under
 * a temporary name), and a second run over the same inputs changes nothing. A mirror
 * accumulates: what an earlier run published (another release's pins) is kept.
 */

export interface MirrorIndexTarball {
  /** `<basename>` in the mirror, when the name is free for this URL. */
  file?: string;
  byHash: string;
  integrity: string;
  size: number;
}

export interface MirrorIndexGit {
  /** `git/<basename>.git`. */
  repo: string;
  /** Commits published with a `refs/xenrel/pins/<commit>` ref. */
  commits: string[];
}

export interface MirrorIndexComponent {
  kind: 'git' | 'tarball';
  url: string;
  /** Path in the mirror. */
  path: string;
  commit?: string;
  integrity?: string;
  /** Nested sources (submodules, wraps) by their path inside the component. */
  children?: Record<string, { url: string; path: string; commit?: string; integrity?: string }>;
}

export interface MirrorIndex {
  mirrorVersion: 1;
  /** The components of the lock of the last run (empty for `--all`). */
  components: Record<string, MirrorIndexComponent>;
  /** Every tarball the mirror holds, by upstream URL. */
  tarballs: Record<string, MirrorIndexTarball[]>;
  /** Every git repository the mirror holds, by upstream URL. */
  git: Record<string, MirrorIndexGit>;
}

export interface MirrorOptions {
  dir: string;
  cache: Cache;
  /** Export what this lock needs. */
  lock?: Lockfile;
  /** Export everything the cache holds. */
  all?: boolean;
  progress?: ProgressSink;
}

export interface MirrorResult {
  index: MirrorIndex;
  /** Paths (relative to DIR) written or updated by this run. */
  changed: string[];
  warnings: string[];
}

interface TarballWant {
  url: string;
  integrity: string;
  size: number;
  who: string;
}

interface GitWant {
  url: string;
  /** refname → object id to publish. */
  refs: Map<string, string>;
  commits: Set<string>;
  who: string;
  head?: string;
}

const PIN = 'refs/xenrel/pins/';

function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => compareBytewise(a, b)));
}

async function sha512Hex(file: string): Promise<string> {
  const h = createHash('sha512');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const hexOf = (integrity: string) => byHashPath(integrity).split('/').pop()!;

async function fileMatches(file: string, integrity: string, size: number): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile() || st.size !== size) return false;
  return (await sha512Hex(file)) === hexOf(integrity);
}

async function readIndex(dir: string): Promise<MirrorIndex> {
  const text = await readFile(join(dir, MIRROR_INDEX), 'utf8').catch(() => undefined);
  if (text === undefined) return { mirrorVersion: 1, components: {}, tarballs: {}, git: {} };
  try {
    const j = JSON.parse(text) as MirrorIndex;
    if (j.mirrorVersion !== 1 || typeof j.tarballs !== 'object' || typeof j.git !== 'object') throw new Error('unknown shape');
    return { mirrorVersion: 1, components: j.components ?? {}, tarballs: j.tarballs, git: j.git };
  } catch (err) {
    throw new XenrelError('E_MIRROR_INDEX', `${join(dir, MIRROR_INDEX)} is not a xenrel mirror index: ${(err as Error).message}`, {
      exitCode: ExitCode.usage,
      hint: 'point `xenrel mirror` at an empty folder or at one it wrote before',
    });
  }
}

/** What the lock needs: its tarballs and git commits, nested sources included. */
function wantsFromLock(lock: Lockfile, tarballs: TarballWant[], gits: Map<string, GitWant>, components: Record<string, MirrorIndexComponent>): void {
  const addGit = (url: string, commit: string, who: string, ref?: string) => {
    const g: GitWant = gits.get(url) ?? { url, refs: new Map(), commits: new Set(), who };
    g.refs.set(PIN + commit, commit);
    g.commits.add(commit);
    g.head = commit;
    if (ref) g.refs.set(ref, ''); // resolved from the cache mirror, if it has it
    gits.set(url, g);
  };
  for (const [name, c] of Object.entries(lock.components).sort(([a], [b]) => compareBytewise(a, b))) {
    if (isLockedGit(c)) {
      addGit(c.git, c.commit, name, c.ref && !isFullCommit(c.ref) ? c.ref : undefined);
      components[name] = { kind: 'git', url: c.git, path: '', commit: c.commit };
    } else if (isLockedTarball(c)) {
      tarballs.push({ url: c.url, integrity: c.integrity, size: c.size, who: name });
      components[name] = { kind: 'tarball', url: c.url, path: '', integrity: c.integrity };
    } else continue;
    const children = (c as { children?: Record<string, { git?: string; commit?: string; url?: string; integrity?: string; size?: number }> }).children;
    for (const [path, ch] of Object.entries(children ?? {})) {
      if (ch.git && ch.commit) addGit(ch.git, ch.commit, `${name}/${path}`);
      else if (ch.url && ch.integrity && ch.size !== undefined) tarballs.push({ url: ch.url, integrity: ch.integrity, size: ch.size, who: `${name}/${path}` });
    }
  }
}

/** Everything in the cache: tarballs from the content index, every git mirror with all its refs. */
async function wantsFromCache(cache: Cache, tarballs: TarballWant[], gits: Map<string, GitWant>): Promise<void> {
  const entries = await cacache.ls(cache.contentDir).catch(() => ({}) as Record<string, cacache.CacheObject>);
  for (const e of Object.values(entries)) {
    if (!e.key.startsWith('tarball:')) continue;
    if (!(await hasVerifiedContent(cache, e.integrity))) continue;
    tarballs.push({ url: e.key.slice('tarball:'.length), integrity: e.integrity, size: e.size ?? 0, who: e.key.slice('tarball:'.length) });
  }
  const gitRoot = join(cache.root, 'git');
  for (const name of (await readdir(gitRoot).catch(() => [] as string[])).sort(compareBytewise)) {
    if (!name.endsWith('.git') || name.startsWith('.')) continue;
    const dir = join(gitRoot, name);
    const url = (await runGit(['config', '--get', 'remote.origin.url'], { gitDir: dir })).stdout.toString().trim();
    if (!url || cache.gitMirrorDir(url) !== dir) continue;
    const refs = new Map<string, string>();
    const commits = new Set<string>();
    for (const line of (await git(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads', 'refs/tags', 'refs/xenrel/pins'], { gitDir: dir })).split('\n')) {
      const [oid, ref] = line.split(' ');
      if (!oid || !ref) continue;
      refs.set(ref, oid);
      if (ref.startsWith(PIN)) commits.add(ref.slice(PIN.length));
    }
    if (refs.size) gits.set(url, { url, refs, commits, who: url });
  }
}

/** Export the cache into `dir` as a static mirror. */
export async function exportMirror(opts: MirrorOptions): Promise<MirrorResult> {
  const dir = resolve(opts.dir);
  if (!opts.lock && !opts.all) throw new XenrelError('E_USAGE', 'nothing to export: give a lock or --all', { exitCode: ExitCode.usage });
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new XenrelError('E_USAGE', `${dir} exists and is not a folder`, { exitCode: ExitCode.usage, hint: 'give a folder for the mirror' });
  await mkdir(dir, { recursive: true }).catch((err) => {
    throw wrapFsError(err, `creating ${dir}`);
  });
  const old = await readIndex(dir);
  const index: MirrorIndex = { mirrorVersion: 1, components: {}, tarballs: { ...old.tarballs }, git: { ...old.git } };
  const changed: string[] = [];
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.progress?.warn?.(m);
  };

  const tarballs: TarballWant[] = [];
  const gits = new Map<string, GitWant>();
  if (opts.lock) wantsFromLock(opts.lock, tarballs, gits, index.components);
  if (opts.all) await wantsFromCache(opts.cache, tarballs, gits);

  // Everything must be in the cache first: name every missing piece at once.
  const missing: string[] = [];
  for (const t of tarballs) if (!(await hasVerifiedContent(opts.cache, t.integrity))) missing.push(`${t.who}: ${t.url} (${t.integrity.slice(0, 20)}…)`);
  for (const g of gits.values()) {
    const mdir = opts.cache.gitMirrorDir(g.url);
    for (const c of g.commits) if ((await runGit(['cat-file', '-e', `${c}^{commit}`], { gitDir: mdir })).code !== 0) missing.push(`${g.who}: commit ${c} of ${g.url}`);
  }
  if (missing.length)
    throw new XenrelError('E_NOT_CACHED', `the cache does not hold everything the mirror should publish:\n${missing.map((m) => `  ${m}`).join('\n')}`, {
      exitCode: ExitCode.fetch,
      hint: 'run `xenrel fetch` first (the mirror is exported from the cache, never from upstream)',
      details: { missing },
    });

  // Tarballs: by hash, then under their file name.
  const seen = new Set<string>();
  for (const t of tarballs) {
    const key = `${t.url}\n${t.integrity}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = await exportTarball(opts.cache, dir, t, index, changed, warn);
    const list = (index.tarballs[t.url] ?? []).filter((e) => e.byHash !== entry.byHash);
    index.tarballs[t.url] = [...list, entry].sort((a, b) => compareBytewise(a.byHash, b.byHash));
    for (const c of Object.values(index.components)) if (c.kind === 'tarball' && c.url === t.url && c.integrity === t.integrity) c.path = entry.file ?? entry.byHash;
    opts.progress?.done?.(t.who, entry.file ?? entry.byHash);
  }

  // Git: one bare repository per URL, served by the dumb HTTP protocol.
  for (const g of [...gits.values()].sort((a, b) => compareBytewise(a.url, b.url))) {
    const repo = repoPathFor(g.url, index);
    const wrote = await exportGit(opts.cache, dir, repo, g);
    if (wrote) changed.push(repo);
    const commits = [...new Set([...(index.git[g.url]?.commits ?? []), ...g.commits])].sort(compareBytewise);
    index.git[g.url] = { repo, commits };
    for (const c of Object.values(index.components)) if (c.kind === 'git' && c.url === g.url) c.path = repo;
    opts.progress?.done?.(g.who, wrote ? `${repo} updated` : `${repo} up to date`);
  }

  // Children paths, now that every URL has its place.
  if (opts.lock)
    for (const [name, c] of Object.entries(opts.lock.components)) {
      const children = (c as { children?: Record<string, { git?: string; commit?: string; url?: string; integrity?: string }> }).children;
      if (!children || !index.components[name]) continue;
      const out: NonNullable<MirrorIndexComponent['children']> = {};
      for (const [p, ch] of Object.entries(children)) {
        if (ch.git && ch.commit) out[p] = { url: ch.git, path: index.git[ch.git]!.repo, commit: ch.commit };
        else if (ch.url && ch.integrity) {
          const e = index.tarballs[ch.url]?.find((x) => x.integrity === ch.integrity);
          out[p] = { url: ch.url, path: e?.file ?? e?.byHash ?? '', integrity: ch.integrity };
        }
      }
      index.components[name]!.children = sortObject(out);
    }

  const final: MirrorIndex = { mirrorVersion: 1, components: sortObject(index.components), tarballs: sortObject(index.tarballs), git: sortObject(index.git) };
  const text = `${JSON.stringify(final, null, 2)}\n`;
  if ((await readFile(join(dir, MIRROR_INDEX), 'utf8').catch(() => '')) !== text) {
    await writeFileAtomic(join(dir, MIRROR_INDEX), text);
    changed.push(MIRROR_INDEX);
  }
  return { index: final, changed, warnings };
}

/** `git/<basename>.git` unless another URL holds it (then the unambiguous name). */
function repoPathFor(url: string, index: MirrorIndex): string {
  if (index.git[url]) return index.git[url].repo;
  const primary = gitMirrorPath(url);
  const taken = Object.entries(index.git).some(([u, g]) => u !== url && g.repo === primary);
  return taken ? gitMirrorAltPath(url) : primary;
}

async function exportTarball(cache: Cache, dir: string, t: TarballWant, index: MirrorIndex, changed: string[], warn: (m: string) => void): Promise<MirrorIndexTarball> {
  const byHash = byHashPath(t.integrity);
  const hashFile = join(dir, byHash);
  if (!(await fileMatches(hashFile, t.integrity, t.size))) {
    await copyContentTo(cache, t.integrity, hashFile);
    changed.push(byHash);
  }
  const entry: MirrorIndexTarball = { byHash, integrity: t.integrity, size: t.size };
  const name = tarballFileName(t.url);
  if (!name) {
    warn(`${t.who}: ${t.url} has no usable file name; published only as ${byHash}`);
    return entry;
  }
  // Another URL published a file under this name: keep it, this one is by hash only.
  const owner = Object.entries(index.tarballs).find(([u, list]) => u !== t.url && list.some((e) => e.file === name));
  if (owner) {
    warn(`${t.who}: ${name} in the mirror already holds ${owner[0]}; ${t.url} is published only as ${byHash}`);
    return entry;
  }
  const named = join(dir, name);
  if (!(await fileMatches(named, t.integrity, t.size))) {
    const previous = (index.tarballs[t.url] ?? []).find((e) => e.file === name);
    if (previous) warn(`${t.who}: ${name} changed upstream (was ${previous.integrity.slice(0, 20)}…); the old bytes stay at ${previous.byHash}`);
    for (const e of index.tarballs[t.url] ?? []) if (e.file === name) delete e.file;
    await publishByLink(hashFile, named);
    changed.push(name);
  }
  entry.file = name;
  return entry;
}

/** The named file as a hard link to the by-hash copy (a copy where links are refused), atomically. */
async function publishByLink(from: string, to: string): Promise<void> {
  const tmp = tempName(to);
  try {
    await link(from, tmp).catch(async () => {
      const { copyFile } = await import('node:fs/promises');
      await copyFile(from, tmp);
    });
    await rename(tmp, to);
    await fsyncDir(dirname(to));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw wrapFsError(err, `writing ${to}`);
  }
}

async function refsOf(gitDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const r = await runGit(['for-each-ref', '--format=%(objectname) %(refname)'], { gitDir });
  for (const line of r.stdout.toString().split('\n')) {
    const [oid, ref] = line.split(' ');
    if (oid && ref) out.set(ref, oid);
  }
  return out;
}

/**
 * Publish `want.refs` of the cache's mirror into DIR/<repo>. A new repository is built
 * under a temporary name and renamed into place; an existing one gets the new objects
 * first (kept as packs, as they arrive) and the new refs, and `update-server-info` last,
 * so a client reading `info/refs` never sees a ref whose objects are not there yet.
 * Returns whether anything changed.
 */
async function exportGit(cache: Cache, dir: string, repo: string, want: GitWant): Promise<boolean> {
  const src = cache.gitMirrorDir(want.url);
  // Resolve named refs (tags, branches) from the cache mirror; pins are given.
  const srcRefs = await refsOf(src);
  const refs = new Map<string, string>();
  for (const [ref, oid] of want.refs) {
    if (oid) refs.set(ref, oid);
    else {
      const full = ref.startsWith('refs/') ? ref : srcRefs.has(`refs/tags/${ref}`) ? `refs/tags/${ref}` : `refs/heads/${ref}`;
      if (srcRefs.has(full)) refs.set(full, srcRefs.get(full)!);
    }
  }
  const target = join(dir, repo);
  const exists = (await stat(join(target, 'objects')).catch(() => undefined))?.isDirectory() ?? false;
  const current = exists ? await refsOf(target) : new Map<string, string>();
  const todo = [...refs].filter(([ref, oid]) => current.get(ref) !== oid);
  const infoRefs = await readFile(join(target, 'info', 'refs'), 'utf8').catch(() => undefined);
  if (exists && !todo.length && infoRefs !== undefined) return false;

  const work = exists ? target : tempName(target);
  try {
    if (!exists) {
      await mkdir(dirname(target), { recursive: true });
      await git(['init', '--quiet', '--bare', work], { what: `creating ${repo}` });
      await git(['config', 'xenrel.url', want.url], { gitDir: work });
    }
    if (todo.length) {
      // unpackLimit=1 keeps what arrives as one pack: few files for HTTP clients to fetch.
      const specs = todo.map(([ref]) => `+${ref}:${ref}`);
      const byOid = todo.filter(([ref]) => !srcRefs.has(ref)).map(([ref, oid]) => `+${oid}:${ref}`);
      const named = specs.filter((_, i) => srcRefs.has(todo[i]![0]));
      if (named.length) await git(['-c', 'fetch.unpackLimit=1', 'fetch', '--quiet', '--no-tags', src, ...named], { gitDir: work, what: `publishing ${want.url}` });
      if (byOid.length) await git(['-c', 'fetch.unpackLimit=1', 'fetch', '--quiet', '--no-tags', src, ...byOid], { gitDir: work, what: `publishing ${want.url}` });
    }
    if (want.head && !exists) await git(['update-ref', '--no-deref', 'HEAD', want.head], { gitDir: work });
    await git(['update-server-info'], { gitDir: work });
    if (!exists) {
      await rename(work, target);
      await fsyncDir(dirname(target));
    }
  } catch (err) {
    if (!exists) await rm(work, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  return true;
}
