import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Cache } from '../../content-cache/cache.js';
import { urlKey } from '../../content-cache/cache.js';
import { XenrelError, ExitCode, wrapFsError } from '../../errors.js';
import { fsyncDir, tempName } from '../../util/atomic.js';
import { removeOnInterrupt } from '../../util/interrupt-cleanup.js';
import { gitMirrorCandidates } from '../../layout/mirror.js';
import { assertTlsVerification } from '../transport-policy.js';
import type { GitSourceOptions } from './options.js';
import { git, gitFailure, lastLines, runGit, runGitRemote } from './run.js';
import { gitProgressFeed } from './progress.js';

/**
 * The git source's mirrors: one bare mirror per URL in the cache (`cache.gitMirrorDir(url)`),
 * objects fetched only when the wanted commit is missing.
 *
 * Mirror layout: `remote.origin.fetch` takes branches and tags (`+refs/heads/*`,
 * `+refs/tags/*`; not GitHub's `refs/pull/*`). Every commit xenrel has locked or fetched
 * gets a ref `refs/xenrel/pins/<commit>`, so a moved tag or a force-pushed branch
 * upstream can never let `git gc` drop a commit a lockfile still names.
 */

const FETCH_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
const PIN_PREFIX = 'refs/xenrel/pins/';

export const mirrorLockName = (url: string) => `git-${urlKey(url)}`;

export async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

export function offlineMissing(url: string, what: string, label?: string): XenrelError {
  return new XenrelError(
    'E_OFFLINE_MISSING',
    `${label ? `component ${label}: ` : ''}${what} for ${url} is not in the cache, and --offline forbids fetching it`,
    {
      exitCode: ExitCode.fetch,
      hint: 'run `xenrel fetch` once with network access (or copy a cache that has it), then retry offline',
      details: { url },
    },
  );
}

export function fetchFailed(url: string, r: { stderr: string; code: number }, label?: string): XenrelError {
  return new XenrelError(
    'E_FETCH_FAILED',
    `${label ? `component ${label}: ` : ''}cannot fetch from ${url}: ${lastLines(r.stderr, 4) || `git exit code ${r.code}`}`,
    {
      exitCode: ExitCode.fetch,
      hint: 'check the URL and your network access, then run the command again; what was already fetched is kept',
      details: { url, stderr: r.stderr },
    },
  );
}

/** Leftovers of a killed `ensureMirror` (temp dirs next to the final name). Call under the mirror lock. */
async function removeStaleMirrorTemps(mirrorDir: string): Promise<void> {
  const parent = dirname(mirrorDir);
  const prefix = `.${basename(mirrorDir)}.xenrel-tmp-`;
  for (const name of await readdir(parent).catch(() => [] as string[]))
    if (name.startsWith(prefix)) await rm(join(parent, name), { recursive: true, force: true });
}

/** `git fetch origin` into the mirror: every branch and tag, with git's progress. */
export async function fetchAllRefs(gitDir: string, url: string, opts: GitSourceOptions): Promise<void> {
  assertTlsVerification(opts.label ? `component ${opts.label}` : url);
  // git's own counts (objects, bytes received) drive the bar; see progress.ts and runGitRemote.
  const r = await runGitRemote(['fetch', '--no-write-fetch-head', 'origin'], {
    gitDir,
    url,
    label: opts.label,
    onStderr: gitProgressFeed(opts.label ?? url, opts.progress),
  });
  if (r.code !== 0) throw fetchFailed(url, r, opts.label);
}

/**
 * The bare mirror of `url`, created if missing (init + fetch of branches and tags). The
 * mirror is built under a temporary name and renamed into place, so a killed first
 * clone leaves nothing under the final name; the next run removes the leftovers. An
 * existing mirror is returned as is, without network access.
 */
export async function ensureMirror(url: string, cache: Cache, opts: GitSourceOptions = {}): Promise<string> {
  return (await createMirror(url, cache, opts, true)).dir;
}

/** `populate: false` makes an empty mirror (remote configured, nothing fetched) for objects that come from a premirror. */
async function createMirror(
  url: string,
  cache: Cache,
  opts: GitSourceOptions,
  populate: boolean,
): Promise<{ dir: string; created: boolean }> {
  const dir = cache.gitMirrorDir(url);
  if (await isDir(dir)) return { dir, created: false };
  let created = false;
  if (opts.offline) throw offlineMissing(url, 'the git mirror', opts.label);
  await cache.withLock(
    mirrorLockName(url),
    async () => {
      if (await isDir(dir)) return;
      await mkdir(dirname(dir), { recursive: true });
      await removeStaleMirrorTemps(dir);
      const tmp = tempName(dir);
      const forget = removeOnInterrupt(tmp);
      const label = opts.label ?? url;
      opts.progress?.start?.(label);
      try {
        await git(['init', '--quiet', '--bare', tmp], { what: `creating a mirror for ${url}` });
        await git(['config', 'remote.origin.url', url], { gitDir: tmp });
        for (const spec of FETCH_REFSPECS) await git(['config', '--add', 'remote.origin.fetch', spec], { gitDir: tmp });
        if (populate) await fetchAllRefs(tmp, url, opts);
        await rename(tmp, dir);
        created = true;
        await fsyncDir(dirname(dir));
        if (populate) opts.progress?.done?.(label, 'cloned');
      } catch (err) {
        await rm(tmp, { recursive: true, force: true }).catch(() => {});
        throw wrapFsError(err, `creating the git mirror ${dir}`);
      } finally {
        forget();
      }
    },
    { staleMs: opts.lockStaleMs },
  );
  return { dir, created };
}

export async function hasCommit(mirrorDir: string, commit: string): Promise<boolean> {
  return (await runGit(['cat-file', '-e', `${commit}^{commit}`], { gitDir: mirrorDir })).code === 0;
}

/**
 * Runs `fn` holding the cache lock of the mirror of `url`. Every git that writes to a cache
 * mirror runs under that lock, so a git `*.lock` file found while holding it was left by a
 * git that was killed: it would make every later ref update fail ("cannot lock ref"), so it
 * is removed first.
 */
export async function withMirrorLock<T>(
  cache: Cache,
  url: string,
  mirrorDir: string,
  fn: () => Promise<T>,
  staleMs?: number,
): Promise<T> {
  return cache.withLock(
    mirrorLockName(url),
    async () => {
      await removeGitLocks(mirrorDir);
      return fn();
    },
    { staleMs },
  );
}

async function removeGitLocks(gitDir: string): Promise<void> {
  const top = await readdir(gitDir).catch(() => [] as string[]);
  const found = top.filter((n) => n.endsWith('.lock')).map((n) => join(gitDir, n));
  const refs = await readdir(join(gitDir, 'refs'), { recursive: true }).catch(() => [] as string[]);
  for (const r of refs) if (r.endsWith('.lock')) found.push(join(gitDir, 'refs', r));
  for (const f of found) await rm(f, { force: true });
}

async function isPinned(mirrorDir: string, commit: string): Promise<boolean> {
  return (await runGit(['show-ref', '--verify', '--quiet', PIN_PREFIX + commit], { gitDir: mirrorDir })).code === 0;
}

/**
 * The pin ref exists, names `commit`, and the commit object is there: peeling to
 * `^{commit}` reads the object, which a ref alone does not prove.
 */
async function isPinnedCommit(mirrorDir: string, commit: string): Promise<boolean> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) return false;
  const r = await runGit(['rev-parse', '--verify', '--quiet', `${PIN_PREFIX}${commit}^{commit}`], {
    gitDir: mirrorDir,
  }).catch(() => undefined);
  return r?.code === 0 && r.stdout.toString('latin1').trim() === commit;
}

async function pinCommit(mirrorDir: string, commit: string): Promise<void> {
  const ref = PIN_PREFIX + commit;
  if (await isPinned(mirrorDir, commit)) return;
  const r = await runGit(['update-ref', ref, commit], { gitDir: mirrorDir });
  // Another process may have pinned it at the same moment; only a missing pin is an error.
  if (r.code !== 0 && !(await isPinned(mirrorDir, commit)))
    throw gitFailure(['update-ref', ref, commit], r, `pinning ${commit} in ${mirrorDir}`);
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
async function fetchFromMirrors(
  mirrorDir: string,
  url: string,
  commit: string,
  opts: GitSourceOptions,
  tried: string[],
): Promise<string | undefined> {
  mirrors: for (const m of opts.mirrors ?? [])
    for (const candidate of gitMirrorCandidates(m, url)) {
      for (const want of [PIN_PREFIX + commit, commit]) {
        const r = await runGitRemote(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', candidate, want], {
          gitDir: mirrorDir,
          url: candidate,
          label: opts.label,
        }).catch((e: unknown) => {
          // A stalled mirror is one that does not have it: try the next one, then upstream.
          if (e instanceof XenrelError && e.code === 'E_GIT_STALLED')
            return { code: -1, stdout: Buffer.alloc(0), stderr: e.message, stalled: true };
          throw e;
        });
        if (r.stalled) {
          // The host is not answering: its other layouts would stall as long. Next mirror.
          tried.push(`${candidate}: ${r.stderr}`);
          continue mirrors;
        }
        if (r.code === 0 && (await hasCommit(mirrorDir, commit))) return candidate;
        if (
          r.code !== 0 &&
          /not found|does not appear to be a git repository|repository .* not found/i.test(r.stderr)
        ) {
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
export async function ensureCommit(
  url: string,
  commit: string,
  cache: Cache,
  opts: GitSourceOptions = {},
): Promise<{ mirrorDir: string; fetched: boolean; source?: string }> {
  let fetched = false;
  let source: string | undefined;
  let mirrorDir = cache.gitMirrorDir(url);
  const viaMirrors = Boolean(opts.mirrors?.length) || opts.premirrorOnly === true;
  // The usual case, a commit fetched and pinned before: one git process, not two.
  if (await isPinnedCommit(mirrorDir, commit)) return { mirrorDir, fetched };
  if (!(await isDir(mirrorDir))) {
    if (opts.offline) throw offlineMissing(url, `commit ${commit} (no git mirror)`, opts.label);
    // With mirrors, start empty: the objects should come from a mirror, not a full upstream clone.
    // Another process may have made it while this one waited for the lock: not fetched here.
    const made = await createMirror(url, cache, opts, !viaMirrors);
    mirrorDir = made.dir;
    fetched = made.created && !viaMirrors;
    if (fetched) source = url;
  }
  if (!(await hasCommit(mirrorDir, commit))) {
    if (opts.offline) throw offlineMissing(url, `commit ${commit}`, opts.label);
    await withMirrorLock(
      cache,
      url,
      mirrorDir,
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
        if (byId.code !== 0 || !(await hasCommit(mirrorDir, commit))) await fetchAllRefs(mirrorDir, url, opts);
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
      opts.lockStaleMs,
    );
  }
  if (!(await isPinned(mirrorDir, commit)))
    await withMirrorLock(cache, url, mirrorDir, () => pinCommit(mirrorDir, commit), opts.lockStaleMs);
  return { mirrorDir, fetched, ...(source ? { source } : {}) };
}
