import type { Cache } from '../content-cache/cache.js';
import { runGit } from '../sources/git/run.js';
import { hasCommit } from '../sources/git/mirror.js';
import { isLockedGit } from '../model/kind.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { diffLocks, type ComponentChange } from './diff.js';

/** The upstream short log between two pins of one git source, when the cache has both. */
export interface ShortLog {
  /** `seabios` or `qemu-xen/roms/dtc`. */
  name: string;
  url: string;
  from: string;
  to: string;
  /** `git log --oneline from..to`, newest first (at most `limit`). */
  commits: { commit: string; subject: string }[];
  /** More commits than shown. */
  truncated: boolean;
  /** `to` is an ancestor of `from`: the pin went back. */
  downgrade: boolean;
  /** Why there is no log (a commit is not in the cache's mirror). */
  unavailable?: string;
}

export interface LockDiff {
  changes: ComponentChange[];
  logs: ShortLog[];
}

const SEP = '\x1f';

async function shortLog(
  cache: Cache,
  name: string,
  urls: string[],
  from: string,
  to: string,
  limit: number,
): Promise<ShortLog> {
  const base = { name, url: urls[urls.length - 1]!, from, to, commits: [], truncated: false, downgrade: false };
  for (const url of [...new Set(urls)].reverse()) {
    const dir = cache.gitMirrorDir(url);
    if (!(await hasCommit(dir, from).catch(() => false)) || !(await hasCommit(dir, to).catch(() => false))) continue;
    const r = await runGit(
      ['log', '--no-decorate', `--format=%H${SEP}%s`, `--max-count=${limit + 1}`, `${from}..${to}`],
      { gitDir: dir },
    );
    if (r.code !== 0) return { ...base, unavailable: `git log failed: ${r.stderr.trim()}` };
    const commits = r.stdout
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ commit: l.split(SEP)[0]!, subject: l.slice(l.indexOf(SEP) + 1) }));
    const downgrade =
      commits.length === 0 &&
      (await runGit(['merge-base', '--is-ancestor', to, from], { gitDir: dir })).code === 0 &&
      from !== to;
    return { ...base, url, commits: commits.slice(0, limit), truncated: commits.length > limit, downgrade };
  }
  return {
    ...base,
    unavailable: 'the cache does not hold both commits (run `xenrel fetch` with each lock to get them)',
  };
}

/** Git pins that moved, with their children that moved: `[name, urls, from, to]`. */
function movedPins(
  name: string,
  a: LockedComponent | undefined,
  b: LockedComponent | undefined,
): [string, string[], string, string][] {
  if (!a || !b || !isLockedGit(a) || !isLockedGit(b)) return [];
  const out: [string, string[], string, string][] = [];
  if (a.commit !== b.commit) out.push([name, [a.git, b.git], a.commit, b.commit]);
  for (const [p, cb] of Object.entries(b.children ?? {})) {
    const ca = a.children?.[p];
    if (ca && 'commit' in ca && 'commit' in cb && ca.commit !== cb.commit)
      out.push([`${name}/${p}`, [ca.git, cb.git], ca.commit, cb.commit]);
  }
  return out;
}

/** What changed between two locks, and the upstream short log of each moved git pin. */
export async function diffReleases(
  before: Lockfile,
  after: Lockfile,
  opts: { cache?: Cache; limit?: number } = {},
): Promise<LockDiff> {
  const changes = diffLocks(before, after);
  const logs: ShortLog[] = [];
  if (opts.cache)
    for (const c of changes)
      for (const [name, urls, from, to] of movedPins(c.name, before.components[c.name], after.components[c.name]))
        logs.push(await shortLog(opts.cache, name, urls, from, to, opts.limit ?? 200));
  return { changes, logs };
}

/** Release-notes text: the per-component diff, then each short log. */
export function formatShortLogs(logs: ShortLog[]): string {
  const out: string[] = [];
  for (const l of logs) {
    const range = `${l.from.slice(0, 12)}..${l.to.slice(0, 12)}`;
    if (l.unavailable) out.push(`${l.name} ${range}: no log (${l.unavailable})`);
    else if (l.downgrade) out.push(`${l.name} ${range}: the new commit is an ancestor of the old one (a downgrade)`);
    else {
      out.push(
        `${l.name} ${range} (${l.commits.length}${l.truncated ? '+' : ''} commit${l.commits.length === 1 ? '' : 's'}):`,
      );
      for (const c of l.commits) out.push(`  ${c.commit.slice(0, 12)} ${c.subject}`);
      if (l.truncated) out.push('  …');
    }
  }
  return out.join('\n');
}
