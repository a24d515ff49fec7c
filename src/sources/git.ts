import { distance } from '../util/did-you-mean.js';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { urlKey } from '../content-cache/cache.js';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import { treeHash } from '../tree/hash.js';
import type { ComponentSpec, LockedGit, ProgressSink } from '../types.js';
import { fsyncDir, tempName, writeFileAtomic } from '../util/atomic.js';
import { FULL_SHA, SHORT_SHA, git, gitFailure, lastLines, runGit, runGitRemote } from './git/run.js';
import { gitProgressFeed } from './git/progress.js';
import { gitTreeEntries, listGitlinks } from './git/tree.js';
import { assertGitTransport, assertTlsVerification } from './transport-policy.js';
import { gitMirrorCandidates } from '../layout/mirror.js';

export { gitTreeEntries, exportTree, symlinkEscapes, type GitTree, type Gitlink, type GitTreeAttributes } from './git/tree.js';

/**
 * The git source: one bare mirror per URL in the cache (`cache.gitMirrorDir(url)`),
 * refs resolved with `ls-remote`, objects fetched only when the wanted commit is missing,
 * content hashed from raw blobs (see git/tree.ts for why).
 *
 * Mirror layout: `remote.origin.fetch` takes branches and tags (`+refs/heads/*`,
 * `+refs/tags/*`; not GitHub's `refs/pull/*`). Every commit xenrel has locked or fetched
 * gets a ref `refs/xenrel/pins/<commit>`, so a moved tag or a force-pushed branch
 * upstream can never let `git gc` drop a commit a lockfile still names. Verified
 * (commit, tree hash) pairs are remembered in `xenrel-verified/<commit>` inside the
 * mirror: a speed-up only, since git's object ids already cover the content.
 */

export interface GitSourceOptions {
  /** Never touch the network: fail with E_OFFLINE_MISSING when something is missing. */
  offline?: boolean;
  progress?: ProgressSink;
  /** Name shown in progress and errors (the component name). */
  label?: string;
  /** How long a dead process's mirror lock blocks others (ms, >= 2000); default 30 s. */
  lockStaleMs?: number;
  /**
   * Mirror base URLs (`mirrors:` of the config): a missing commit is first fetched from
   * `<mirror>/git/<basename>.git` (the layout `xenrel mirror` writes), then from the URL.
   * Whatever a mirror serves is checked like upstream's bytes: by commit id, then tree hash.
   */
  mirrors?: string[];
  /** Never contact the URL itself, only `mirrors` (Yocto's BB_FETCH_PREMIRRORONLY). */
  premirrorOnly?: boolean;
}

export type RefKind = 'tag' | 'branch' | 'commit';

export interface ResolvedRef {
  commit: string;
  refKind: RefKind;
  /** The annotated tag object's id, when the ref is an annotated tag. */
  tagObject?: string;
  warnings: string[];
}

const FETCH_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
const PIN_PREFIX = 'refs/xenrel/pins/';
const VERIFIED_DIR = 'xenrel-verified';

const mirrorLockName = (url: string) => `git-${urlKey(url)}`;

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

function offlineMissing(url: string, what: string, label?: string): XenrelError {
  return new XenrelError('E_OFFLINE_MISSING', `${label ? `component ${label}: ` : ''}${what} for ${url} is not in the cache, and --offline forbids fetching it`, {
    exitCode: ExitCode.fetch,
    hint: 'run `xenrel fetch` once with network access (or copy a cache that has it), then retry offline',
    details: { url },
  });
}

function fetchFailed(url: string, r: { stderr: string; code: number }, label?: string): XenrelError {
  return new XenrelError('E_FETCH_FAILED', `${label ? `component ${label}: ` : ''}cannot fetch from ${url}: ${lastLines(r.stderr, 4) || `git exit code ${r.code}`}`, {
    exitCode: ExitCode.fetch,
    hint: 'check the URL and your network access, then run the command again; what was already fetched is kept',
    details: { url, stderr: r.stderr },
  });
}

/** Leftovers of a killed `ensureMirror` (temp dirs next to the final name). Call under the mirror lock. */
async function removeStaleTemps(mirrorDir: string): Promise<void> {
  const parent = dirname(mirrorDir);
  const prefix = `.${basename(mirrorDir)}.xenrel-tmp-`;
  for (const name of await readdir(parent).catch(() => [] as string[])) if (name.startsWith(prefix)) await rm(join(parent, name), { recursive: true, force: true });
}

async function fetchAll(gitDir: string, url: string, opts: GitSourceOptions): Promise<void> {
  assertTlsVerification(opts.label ? `component ${opts.label}` : url);
  // git's own counts (objects, bytes received) drive the bar; see git/progress.ts and runGitRemote.
  const r = await runGitRemote(['fetch', '--no-write-fetch-head', 'origin'], { gitDir, url, label: opts.label, onStderr: gitProgressFeed(opts.label ?? url, opts.progress) });
  if (r.code !== 0) throw fetchFailed(url, r, opts.label);
}

/**
 * The bare mirror of `url`, created if missing (init + fetch of branches and tags). The
 * mirror is built under a temporary name and renamed into place, so a killed first
 * clone leaves nothing under the final name; the next run removes the leftovers. An
 * existing mirror is returned as is, without network access.
 */
export async function ensureMirror(url: string, cache: Cache, opts: GitSourceOptions = {}): Promise<string> {
  return createMirror(url, cache, opts, true);
}

/** `populate: false` makes an empty mirror (remote configured, nothing fetched) for objects that come from a premirror. */
async function createMirror(url: string, cache: Cache, opts: GitSourceOptions, populate: boolean): Promise<string> {
  const dir = cache.gitMirrorDir(url);
  if (await isDir(dir)) return dir;
  if (opts.offline) throw offlineMissing(url, 'the git mirror', opts.label);
  await cache.withLock(
    mirrorLockName(url),
    async () => {
      if (await isDir(dir)) return;
      await mkdir(dirname(dir), { recursive: true });
      await removeStaleTemps(dir);
      const tmp = tempName(dir);
      const label = opts.label ?? url;
      opts.progress?.start?.(label);
      try {
        await git(['init', '--quiet', '--bare', tmp], { what: `creating a mirror for ${url}` });
        await git(['config', 'remote.origin.url', url], { gitDir: tmp });
        for (const spec of FETCH_REFSPECS) await git(['config', '--add', 'remote.origin.fetch', spec], { gitDir: tmp });
        if (populate) await fetchAll(tmp, url, opts);
        await rename(tmp, dir);
        await fsyncDir(dirname(dir));
        if (populate) opts.progress?.done?.(label, 'cloned');
      } catch (err) {
        await rm(tmp, { recursive: true, force: true }).catch(() => {});
        throw wrapFsError(err, `creating the git mirror ${dir}`);
      }
    },
    { staleMs: opts.lockStaleMs },
  );
  return dir;
}

export async function hasCommit(mirrorDir: string, commit: string): Promise<boolean> {
  return (await runGit(['cat-file', '-e', `${commit}^{commit}`], { gitDir: mirrorDir })).code === 0;
}

async function isPinned(mirrorDir: string, commit: string): Promise<boolean> {
  return (await runGit(['show-ref', '--verify', '--quiet', PIN_PREFIX + commit], { gitDir: mirrorDir })).code === 0;
}

async function pinCommit(mirrorDir: string, commit: string): Promise<void> {
  const ref = PIN_PREFIX + commit;
  if (await isPinned(mirrorDir, commit)) return;
  const r = await runGit(['update-ref', ref, commit], { gitDir: mirrorDir });
  // Another process may have pinned it at the same moment; only a missing pin is an error.
  if (r.code !== 0 && !(await isPinned(mirrorDir, commit))) throw gitFailure(['update-ref', ref, commit], r, `pinning ${commit} in ${mirrorDir}`);
}

function premirrorMissing(url: string, commit: string, tried: string[], label?: string): XenrelError {
  return new XenrelError(
    'E_PREMIRROR_MISSING',
    `${label ? `component ${label}: ` : ''}commit ${commit} of ${url} is in no mirror, and --premirror-only forbids fetching from ${url}${tried.length ? `\n${tried.map((t) => `  ${t}`).join('\n')}` : ' (no mirrors: configured)'}`,
    {
      exitCode: ExitCode.fetch,
      hint: 'add it to the mirror (`xenrel mirror DIR` on a machine that has it), or fetch without --premirror-only',
      details: { url, commit, tried },
    },
  );
}

/**
 * Try each mirror for `commit`: the pin ref `xenrel mirror` publishes, then the id itself.
 * Only objects are taken, never refs (a mirror must not move our tags or pins); the
 * caller pins the commit once it is there. Returns the repository URL that had it.
 */
async function fetchFromMirrors(mirrorDir: string, url: string, commit: string, opts: GitSourceOptions, tried: string[]): Promise<string | undefined> {
  mirrors: for (const m of opts.mirrors ?? [])
    for (const candidate of gitMirrorCandidates(m, url)) {
      for (const want of [PIN_PREFIX + commit, commit]) {
        const r = await runGitRemote(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', candidate, want], { gitDir: mirrorDir, url: candidate, label: opts.label }).catch(
          (e: unknown) => {
            // A stalled mirror is one that does not have it: try the next one, then upstream.
            if (e instanceof XenrelError && e.code === 'E_GIT_STALLED') return { code: -1, stdout: Buffer.alloc(0), stderr: e.message, stalled: true };
            throw e;
          },
        );
        if (r.stalled) {
          // The host is not answering: its other layouts would stall as long. Next mirror.
          tried.push(`${candidate}: ${r.stderr}`);
          continue mirrors;
        }
        if (r.code === 0 && (await hasCommit(mirrorDir, commit))) return candidate;
        if (r.code !== 0 && /not found|does not appear to be a git repository|repository .* not found/i.test(r.stderr)) {
          tried.push(`${candidate}: not there`);
          break;
        }
        if (want === commit) tried.push(`${candidate}: ${lastLines(r.stderr, 2) || 'does not have the commit'}`);
      }
    }
  return undefined;
}

/**
 * Make sure `commit` is in the mirror of `url`. No network access when it is already
 * there. Otherwise each of `opts.mirrors`, then `git fetch origin <commit>` (servers that
 * allow fetching by id), then a fetch of all branches and tags.
 */
export async function ensureCommit(url: string, commit: string, cache: Cache, opts: GitSourceOptions = {}): Promise<{ mirrorDir: string; fetched: boolean; source?: string }> {
  let fetched = false;
  let source: string | undefined;
  let mirrorDir = cache.gitMirrorDir(url);
  const viaMirrors = Boolean(opts.mirrors?.length) || opts.premirrorOnly === true;
  if (!(await isDir(mirrorDir))) {
    if (opts.offline) throw offlineMissing(url, `commit ${commit} (no git mirror)`, opts.label);
    // With mirrors, start empty: the objects should come from a mirror, not a full upstream clone.
    mirrorDir = await createMirror(url, cache, opts, !viaMirrors);
    fetched = !viaMirrors;
    if (fetched) source = url;
  }
  if (!(await hasCommit(mirrorDir, commit))) {
    if (opts.offline) throw offlineMissing(url, `commit ${commit}`, opts.label);
    await cache.withLock(
      mirrorLockName(url),
      async () => {
        if (await hasCommit(mirrorDir, commit)) return;
        fetched = true;
        const label = opts.label ?? url;
        opts.progress?.start?.(label);
        const tried: string[] = [];
        source = await fetchFromMirrors(mirrorDir, url, commit, opts, tried);
        if (source) {
          opts.progress?.done?.(label, `fetched from ${source}`);
          return;
        }
        if (opts.premirrorOnly) throw premirrorMissing(url, commit, tried, opts.label);
        source = url;
        assertTlsVerification(opts.label ? `component ${opts.label}` : url);
        const byId = await runGitRemote(['fetch', '--no-write-fetch-head', 'origin', commit], {
          gitDir: mirrorDir,
          url,
          label: opts.label,
          onStderr: gitProgressFeed(label, opts.progress),
        });
        if (byId.code !== 0 || !(await hasCommit(mirrorDir, commit))) await fetchAll(mirrorDir, url, opts);
        if (!(await hasCommit(mirrorDir, commit)))
          throw new XenrelError(
            'E_COMMIT_NOT_FOUND',
            `${opts.label ? `component ${opts.label}: ` : ''}commit ${commit} is not in ${url} (not reachable from any branch or tag, and the server refused it by id)`,
            {
              exitCode: ExitCode.fetch,
              hint: 'check the commit id; if upstream rewrote history, pin a commit that still exists and run `xenrel lock`',
              details: { url, commit },
            },
          );
        opts.progress?.done?.(label, 'fetched');
      },
      { staleMs: opts.lockStaleMs },
    );
  }
  if (!(await isPinned(mirrorDir, commit))) await cache.withLock(mirrorLockName(url), () => pinCommit(mirrorDir, commit), { staleMs: opts.lockStaleMs });
  return { mirrorDir, fetched, ...(source ? { source } : {}) };
}

interface RemoteRef {
  oid: string;
  /** The commit an annotated tag points at (`^{}` line). */
  peeled?: string;
}

/** Tags and branches of `url` (`git ls-remote --tags --heads`), with annotated tags peeled. */
export async function lsRemote(url: string, opts: GitSourceOptions = {}): Promise<Map<string, RemoteRef>> {
  assertTlsVerification(opts.label ? `component ${opts.label}` : url);
  const r = await runGitRemote(['ls-remote', '--tags', '--heads', url], { url, label: opts.label });
  if (r.code !== 0) throw fetchFailed(url, r, opts.label);
  return parseRefList(r.stdout.toString('utf8'));
}

function parseRefList(text: string): Map<string, RemoteRef> {
  const refs = new Map<string, RemoteRef>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40,64})[\t ](\S+)$/.exec(line);
    if (!m) continue;
    const [, oid, name] = m as unknown as [string, string, string];
    if (name.endsWith('^{}')) {
      const base = name.slice(0, -3);
      refs.set(base, { oid: refs.get(base)?.oid ?? oid, peeled: oid });
    } else refs.set(name, { ...refs.get(name), oid });
  }
  return refs;
}

/** The mirror's own refs, for resolving offline. */
async function mirrorRefs(mirrorDir: string): Promise<Map<string, RemoteRef>> {
  const out = await git(['show-ref', '--tags', '--heads', '--dereference'], { gitDir: mirrorDir }).catch(() => '');
  return parseRefList(out.replace(/ /g, '\t'));
}

/** Up to `n` names that look like `want` (typos, other versions of the same series). */
export function closeNames(want: string, names: Iterable<string>, n = 5): string[] {
  const w = want.toLowerCase();
  const scored: { name: string; d: number }[] = [];
  for (const name of names) {
    const d = distance(w, name.toLowerCase());
    const shared = name.toLowerCase().includes(w) || w.includes(name.toLowerCase());
    if (d <= Math.max(3, Math.floor(want.length / 2)) || shared) scored.push({ name, d: shared ? Math.min(d, 1) : d });
  }
  return scored
    .sort((x, y) => x.d - y.d || (x.name < y.name ? -1 : 1))
    .slice(0, n)
    .map((s) => s.name);
}

function refNotFound(url: string, ref: string, refs: Map<string, RemoteRef>, label?: string): XenrelError {
  const tags = [...refs.keys()].filter((k) => k.startsWith('refs/tags/')).map((k) => k.slice('refs/tags/'.length));
  const branches = [...refs.keys()].filter((k) => k.startsWith('refs/heads/')).map((k) => k.slice('refs/heads/'.length));
  const close = closeNames(ref, [...tags, ...branches]);
  return new XenrelError('E_REF_NOT_FOUND', `${label ? `component ${label}: ` : ''}ref "${ref}" not found in ${url}${close.length ? ` (close: ${close.join(', ')})` : ''}`, {
    exitCode: ExitCode.fetch,
    hint: close.length ? `did you mean "${close[0]}"? Fix "ref:" in the config` : 'use a tag, a branch or a commit id that exists upstream (`git ls-remote URL` lists them)',
    details: { url, ref, close },
  });
}

/** Commits in the mirror whose id starts with `prefix`. */
async function commitsWithPrefix(mirrorDir: string, prefix: string): Promise<string[]> {
  const r = await runGit(['rev-parse', `--disambiguate=${prefix}`], { gitDir: mirrorDir });
  if (r.code !== 0) return [];
  const found: string[] = [];
  for (const oid of r.stdout.toString('utf8').split('\n').filter(Boolean))
    if ((await runGit(['cat-file', '-e', `${oid}^{commit}`], { gitDir: mirrorDir })).code === 0) {
      // A tag object peels to a commit too; report the commit itself.
      const c = (await git(['rev-parse', `${oid}^{commit}`], { gitDir: mirrorDir })).trim();
      if ((await git(['cat-file', '-t', oid], { gitDir: mirrorDir })).trim() === 'commit' && !found.includes(c)) found.push(c);
    }
  return found;
}

async function resolveShortSha(url: string, ref: string, cache: Cache, opts: GitSourceOptions): Promise<ResolvedRef | undefined> {
  let mirrorDir = cache.gitMirrorDir(url);
  if (!(await isDir(mirrorDir))) {
    if (opts.offline) throw offlineMissing(url, `the git mirror (needed to expand ${ref})`, opts.label);
    mirrorDir = await ensureMirror(url, cache, opts);
  }
  let found = await commitsWithPrefix(mirrorDir, ref);
  if (found.length === 0 && !opts.offline) {
    // The mirror may be behind upstream.
    await cache.withLock(mirrorLockName(url), () => fetchAll(mirrorDir, url, opts), { staleMs: opts.lockStaleMs });
    found = await commitsWithPrefix(mirrorDir, ref);
  }
  if (found.length > 1)
    throw new XenrelError('E_REF_AMBIGUOUS', `${opts.label ? `component ${opts.label}: ` : ''}abbreviated commit "${ref}" is ambiguous in ${url}: ${found.join(', ')}`, {
      exitCode: ExitCode.usage,
      hint: 'pin the full 40-hex commit id',
      details: { url, ref, candidates: found },
    });
  if (found.length === 1) return { commit: found[0]!, refKind: 'commit', warnings: [`ref "${ref}" is an abbreviated commit id; locked as ${found[0]}`] };
  return undefined;
}

/**
 * What `ref` (tag, branch, full or abbreviated commit) of `url` means now. Tags and
 * branches come from `git ls-remote` (from the mirror when offline); a tag wins over a
 * branch of the same name. An abbreviated commit must resolve to exactly one commit in
 * the mirror. A full commit id is taken as given (`ensureCommit` proves it exists).
 */
export async function resolveRef(url: string, ref: string, cache: Cache, opts: GitSourceOptions = {}): Promise<ResolvedRef> {
  if (FULL_SHA.test(ref)) return { commit: ref, refKind: 'commit', warnings: [] };
  let refs: Map<string, RemoteRef>;
  const warnings: string[] = [];
  if (opts.offline) {
    const mirrorDir = cache.gitMirrorDir(url);
    if (!(await isDir(mirrorDir))) throw offlineMissing(url, `the git mirror (needed to resolve "${ref}")`, opts.label);
    refs = await mirrorRefs(mirrorDir);
    warnings.push(`resolved "${ref}" from the cached mirror of ${url} (offline): upstream may have moved since`);
  } else refs = await lsRemote(url, opts);

  const full = ref.startsWith('refs/');
  const tag = refs.get(full ? ref : `refs/tags/${ref}`);
  const branch = full ? undefined : refs.get(`refs/heads/${ref}`);
  if (tag && (!full || ref.startsWith('refs/tags/'))) {
    if (branch) warnings.push(`"${ref}" is both a tag and a branch in ${url}; using the tag`);
    return { commit: tag.peeled ?? tag.oid, refKind: 'tag', ...(tag.peeled ? { tagObject: tag.oid } : {}), warnings };
  }
  const br = branch ?? (full && ref.startsWith('refs/heads/') ? tag : undefined);
  if (br) {
    warnings.push(`ref "${ref}" of ${url} is a branch: branches float, so the lock pins its current commit ${br.oid}; pin a tag or a commit for a reproducible release`);
    return { commit: br.oid, refKind: 'branch', warnings };
  }
  if (SHORT_SHA.test(ref)) {
    const r = await resolveShortSha(url, ref, cache, opts);
    if (r) return { ...r, warnings: [...warnings, ...r.warnings] };
  }
  throw refNotFound(url, ref, refs, opts.label);
}

function markerPath(mirrorDir: string, commit: string) {
  return join(mirrorDir, VERIFIED_DIR, commit);
}

async function readMarker(mirrorDir: string, commit: string): Promise<string | undefined> {
  return (await readFile(markerPath(mirrorDir, commit), 'utf8').catch(() => undefined))?.trim();
}

/** Tree hash of `commit` from raw blobs, remembered in the mirror for later runs. */
export async function commitTreeHash(mirrorDir: string, commit: string, opts: GitSourceOptions = {}): Promise<string> {
  const tree = await gitTreeEntries(mirrorDir, commit);
  const hash = treeHash(tree.entries);
  if (tree.gitlinks.length)
    opts.progress?.info?.(
      `${opts.label ?? commit}: ${tree.gitlinks.length} submodule(s) (${tree.gitlinks.map((g) => g.path).join(', ')}) are pinned separately, not part of this tree hash`,
    );
  await writeFileAtomic(markerPath(mirrorDir, commit), `${hash}\n`).catch(() => {}); // a speed-up only
  return hash;
}

/** Resolve, fetch and hash a git component: its lockfile entry. Warnings go to `opts.progress.warn`. */
export async function lockGit(name: string, spec: Pick<ComponentSpec, 'git' | 'ref' | 'path' | 'license'>, cache: Cache, opts: GitSourceOptions = {}): Promise<LockedGit> {
  const o = { ...opts, label: opts.label ?? name };
  const url = spec.git!;
  const ref = spec.ref!;
  assertGitTransport(name, url, ref);
  const resolved = await resolveRef(url, ref, cache, o);
  for (const w of resolved.warnings) opts.progress?.warn?.(`${name}: ${w}`);
  let mirrorDir: string;
  try {
    ({ mirrorDir } = await ensureCommit(url, resolved.commit, cache, o));
  } catch (err) {
    if (err instanceof XenrelError && err.code === 'E_COMMIT_NOT_FOUND' && resolved.refKind === 'commit')
      throw refNotFound(url, ref, await lsRemote(url, o).catch(() => new Map()), name);
    throw err;
  }
  const tree = (await readMarker(mirrorDir, resolved.commit)) ?? (await commitTreeHash(mirrorDir, resolved.commit, o));
  return { git: url, ref, commit: resolved.commit, tree, path: spec.path, ...(spec.license ? { license: spec.license } : {}) };
}

/**
 * Make the locked commit available in the cache and check its content against the
 * lock. No network access when the commit is already in the mirror; `cached` says so.
 */
export async function fetchGit(name: string, locked: LockedGit, cache: Cache, opts: GitSourceOptions = {}): Promise<{ cached: boolean; mirrorDir: string; source?: string }> {
  const o = { ...opts, label: opts.label ?? name };
  const { mirrorDir, fetched, source } = await ensureCommit(locked.git, locked.commit, cache, o);
  const known = await readMarker(mirrorDir, locked.commit);
  const actual = known === locked.tree ? known : await commitTreeHash(mirrorDir, locked.commit, o);
  if (actual !== locked.tree)
    throw new XenrelError('E_TREE_MISMATCH', `component ${name}: commit ${locked.commit} of ${locked.git} has tree hash ${actual}, the lock says ${locked.tree}`, {
      exitCode: ExitCode.fetch,
      hint: `the lockfile was edited or written by an incompatible xenrel; re-lock with \`xenrel lock --update ${name}\` after checking why`,
      details: { component: name, url: locked.git, commit: locked.commit, expected: locked.tree, actual },
    });
  return { cached: !fetched, mirrorDir, ...(source ? { source } : {}) };
}

export interface RefCheck {
  moved: boolean;
  newCommit?: string;
  /** Whether the old and new commits have the same content (undefined when it could not be told). */
  treesEqual?: boolean;
}

/** Does `ref` still point at `lockedCommit` upstream? For `lock --check` and E_REF_MOVED. */
export async function checkRef(url: string, ref: string, lockedCommit: string, cache: Cache, opts: GitSourceOptions = {}): Promise<RefCheck> {
  const now = await resolveRef(url, ref, cache, opts);
  if (now.commit === lockedCommit) return { moved: false };
  let treesEqual: boolean | undefined;
  try {
    const { mirrorDir } = await ensureCommit(url, lockedCommit, cache, opts);
    await ensureCommit(url, now.commit, cache, opts);
    const [a, b] = await Promise.all([lockedCommit, now.commit].map(async (c) => (await git(['rev-parse', `${c}^{tree}`], { gitDir: mirrorDir })).trim()));
    treesEqual = a === b;
  } catch {
    treesEqual = undefined;
  }
  return { moved: true, newCommit: now.commit, ...(treesEqual === undefined ? {} : { treesEqual }) };
}

/** The error for a tag or branch that no longer points at the locked commit. */
export function refMovedError(name: string, url: string, ref: string, lockedCommit: string, check: RefCheck): XenrelError {
  const content = check.treesEqual === true ? 'same content (only the commit changed)' : check.treesEqual === false ? 'different content' : 'content not compared';
  return new XenrelError('E_REF_MOVED', `component ${name}: "${ref}" of ${url} moved from the locked commit ${lockedCommit} to ${check.newCommit} (${content})`, {
    exitCode: ExitCode.checkFailed,
    hint: `if the move is legitimate, review it and run \`xenrel lock --update ${name}\`; the lock keeps building the old commit until then`,
    details: { component: name, url, ref, lockedCommit, newCommit: check.newCommit, treesEqual: check.treesEqual },
  });
}

export interface Submodule {
  name: string;
  path: string;
  /** Absolute URL: relative ones (`./x`, `../x`) resolved against the parent's URL. */
  url: string;
  /** URL as written in .gitmodules. */
  rawUrl: string;
  /** The gitlink's commit at that path, when the tree has one. */
  commit?: string;
  branch?: string;
}

/** Git's rule for relative submodule URLs: each `../` drops one path component of the parent URL. */
export function resolveSubmoduleUrl(parentUrl: string, url: string): string {
  if (!url.startsWith('./') && !url.startsWith('../')) return url;
  let prefix = '';
  let path = parentUrl.replace(/\/+$/, '');
  const scheme = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)(.*)$/i.exec(path);
  const scp = scheme ? undefined : /^([^/:]+:)(.*)$/.exec(path);
  if (scheme) [, prefix, path] = scheme as unknown as [string, string, string];
  else if (scp) [, prefix, path] = scp as unknown as [string, string, string];
  const parts = path.split('/');
  const floor = parts[0] === '' ? 1 : 0;
  let rest = url;
  for (;;) {
    if (rest.startsWith('./')) rest = rest.slice(2);
    else if (rest.startsWith('../')) {
      rest = rest.slice(3);
      if (parts.length > floor) parts.pop();
    } else break;
  }
  return prefix + [...parts, rest].join('/');
}

/** `.gitmodules` at `commit`, with each submodule's gitlink commit. Empty when there is none. */
export async function readGitmodules(mirrorDir: string, commit: string, parentUrl: string): Promise<Submodule[]> {
  if ((await runGit(['cat-file', '-e', `${commit}:.gitmodules`], { gitDir: mirrorDir })).code !== 0) return [];
  const out = await git(['config', '-z', '--blob', `${commit}:.gitmodules`, '--list'], {
    gitDir: mirrorDir,
    what: `reading .gitmodules at ${commit}`,
  });
  const byName = new Map<string, Partial<Submodule>>();
  for (const rec of out.split('\0')) {
    const nl = rec.indexOf('\n');
    if (nl < 0) continue;
    const key = rec.slice(0, nl);
    const value = rec.slice(nl + 1);
    const m = /^submodule\.(.+)\.([^.]+)$/.exec(key);
    if (!m) continue;
    const [, name, field] = m as unknown as [string, string, string];
    const s = byName.get(name) ?? { name };
    if (field === 'path') s.path = value;
    else if (field === 'url') s.rawUrl = value;
    else if (field === 'branch') s.branch = value;
    byName.set(name, s);
  }
  const links = new Map((await listGitlinks(mirrorDir, commit)).map((g) => [g.path, g.commit]));
  const subs: Submodule[] = [];
  for (const s of byName.values()) {
    if (!s.path || !s.rawUrl) continue;
    const c = links.get(s.path);
    subs.push({
      name: s.name!,
      path: s.path,
      url: resolveSubmoduleUrl(parentUrl, s.rawUrl),
      rawUrl: s.rawUrl,
      ...(c ? { commit: c } : {}),
      ...(s.branch ? { branch: s.branch } : {}),
    });
  }
  return subs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
