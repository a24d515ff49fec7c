import { distance } from '../../util/did-you-mean.js';
import type { Cache } from '../../content-cache/cache.js';
import { XenrelError, ExitCode } from '../../errors.js';
import { assertTlsVerification } from '../transport-policy.js';
import {
  ensureCommit,
  ensureMirror,
  fetchAllRefs,
  fetchFailed,
  isDir,
  offlineMissing,
  withMirrorLock,
} from './mirror.js';
import type { GitSourceOptions } from './options.js';
import { FULL_SHA, SHORT_SHA, git, runGit, runGitRemote } from './run.js';

/** What a ref of a git URL names: resolved with `ls-remote`, or from the mirror when offline. */

export type RefKind = 'tag' | 'branch' | 'commit';

export interface ResolvedRef {
  commit: string;
  refKind: RefKind;
  /** The annotated tag object's id, when the ref is an annotated tag. */
  tagObject?: string;
  warnings: string[];
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

export function refNotFound(url: string, ref: string, refs: Map<string, RemoteRef>, label?: string): XenrelError {
  const tags = [...refs.keys()].filter((k) => k.startsWith('refs/tags/')).map((k) => k.slice('refs/tags/'.length));
  const branches = [...refs.keys()]
    .filter((k) => k.startsWith('refs/heads/'))
    .map((k) => k.slice('refs/heads/'.length));
  const close = closeNames(ref, [...tags, ...branches]);
  return new XenrelError(
    'E_REF_NOT_FOUND',
    `${label ? `component ${label}: ` : ''}ref "${ref}" not found in ${url}${close.length ? ` (close: ${close.join(', ')})` : ''}`,
    {
      exitCode: ExitCode.fetch,
      hint: close.length
        ? `did you mean "${close[0]}"? Fix "ref:" in the config`
        : 'use a tag, a branch or a commit id that exists upstream (`git ls-remote URL` lists them)',
      details: { url, ref, close },
    },
  );
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
      if ((await git(['cat-file', '-t', oid], { gitDir: mirrorDir })).trim() === 'commit' && !found.includes(c))
        found.push(c);
    }
  return found;
}

async function resolveShortSha(
  url: string,
  ref: string,
  cache: Cache,
  opts: GitSourceOptions,
): Promise<ResolvedRef | undefined> {
  let mirrorDir = cache.gitMirrorDir(url);
  if (!(await isDir(mirrorDir))) {
    if (opts.offline) throw offlineMissing(url, `the git mirror (needed to expand ${ref})`, opts.label);
    mirrorDir = await ensureMirror(url, cache, opts);
  }
  let found = await commitsWithPrefix(mirrorDir, ref);
  if (found.length === 0 && !opts.offline) {
    // The mirror may be behind upstream.
    await withMirrorLock(cache, url, mirrorDir, () => fetchAllRefs(mirrorDir, url, opts), opts.lockStaleMs);
    found = await commitsWithPrefix(mirrorDir, ref);
  }
  if (found.length > 1)
    throw new XenrelError(
      'E_REF_AMBIGUOUS',
      `${opts.label ? `component ${opts.label}: ` : ''}abbreviated commit "${ref}" is ambiguous in ${url}: ${found.join(', ')}`,
      {
        exitCode: ExitCode.usage,
        hint: 'pin the full 40-hex commit id',
        details: { url, ref, candidates: found },
      },
    );
  if (found.length === 1)
    return {
      commit: found[0]!,
      refKind: 'commit',
      warnings: [`ref "${ref}" is an abbreviated commit id; locked as ${found[0]}`],
    };
  return undefined;
}

/**
 * What `ref` (tag, branch, full or abbreviated commit) of `url` means now. Tags and
 * branches come from `git ls-remote` (from the mirror when offline); a tag wins over a
 * branch of the same name. An abbreviated commit must resolve to exactly one commit in
 * the mirror. A full commit id is taken as given (`ensureCommit` proves it exists).
 */
export async function resolveRef(
  url: string,
  ref: string,
  cache: Cache,
  opts: GitSourceOptions = {},
): Promise<ResolvedRef> {
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
    warnings.push(
      `ref "${ref}" of ${url} is a branch: branches float, so the lock pins its current commit ${br.oid}; pin a tag or a commit for a reproducible release`,
    );
    return { commit: br.oid, refKind: 'branch', warnings };
  }
  if (SHORT_SHA.test(ref)) {
    const r = await resolveShortSha(url, ref, cache, opts);
    if (r) return { ...r, warnings: [...warnings, ...r.warnings] };
  }
  throw refNotFound(url, ref, refs, opts.label);
}

export interface RefCheck {
  moved: boolean;
  newCommit?: string;
  /** Whether the old and new commits have the same content (undefined when it could not be told). */
  treesEqual?: boolean;
}

/** Does `ref` still point at `lockedCommit` upstream? For `lock --check` and E_REF_MOVED. */
export async function checkRef(
  url: string,
  ref: string,
  lockedCommit: string,
  cache: Cache,
  opts: GitSourceOptions = {},
): Promise<RefCheck> {
  const now = await resolveRef(url, ref, cache, opts);
  if (now.commit === lockedCommit) return { moved: false };
  let treesEqual: boolean | undefined;
  try {
    const { mirrorDir } = await ensureCommit(url, lockedCommit, cache, opts);
    await ensureCommit(url, now.commit, cache, opts);
    const [a, b] = await Promise.all(
      [lockedCommit, now.commit].map(async (c) =>
        (await git(['rev-parse', `${c}^{tree}`], { gitDir: mirrorDir })).trim(),
      ),
    );
    treesEqual = a === b;
  } catch {
    treesEqual = undefined;
  }
  return { moved: true, newCommit: now.commit, ...(treesEqual === undefined ? {} : { treesEqual }) };
}

/** The error for a tag or branch that no longer points at the locked commit. */
export function refMovedError(
  name: string,
  url: string,
  ref: string,
  lockedCommit: string,
  check: RefCheck,
): XenrelError {
  const content =
    check.treesEqual === true
      ? 'same content (only the commit changed)'
      : check.treesEqual === false
        ? 'different content'
        : 'content not compared';
  return new XenrelError(
    'E_REF_MOVED',
    `component ${name}: "${ref}" of ${url} moved from the locked commit ${lockedCommit} to ${check.newCommit} (${content})`,
    {
      exitCode: ExitCode.checkFailed,
      hint: `if the move is legitimate, review it and run \`xenrel lock --update ${name}\`; the lock keeps building the old commit until then`,
      details: { component: name, url, ref, lockedCommit, newCommit: check.newCommit, treesEqual: check.treesEqual },
    },
  );
}
