import { isFullCommit } from '../util/patterns.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cacacheLib } from '../content-cache/cacache-lib.js';
import type cacache from 'cacache';
import type { Cache } from '../content-cache/cache.js';
import { hasVerifiedContent } from '../sources/tarball.js';
import { git, runGit } from '../sources/git/run.js';
import { compareBytewise } from '../tree/hash.js';
import { describeComponent } from '../components/dispatch.js';
import { isLockedGit, isLockedTarball } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import type { MirrorIndexComponent } from './mirror-index.js';

/** What a run publishes: the tarballs and git commits of a lock, or everything in the cache. */

export interface TarballWant {
  url: string;
  integrity: string;
  size: number;
  who: string;
}

export interface GitWant {
  url: string;
  /** refname → object id to publish. */
  refs: Map<string, string>;
  commits: Set<string>;
  who: string;
  head?: string;
}

const PIN = 'refs/xenrel/pins/';

/** What the lock needs: its tarballs and git commits, nested sources included. */
export function wantsFromLock(
  lock: Lockfile,
  tarballs: TarballWant[],
  gits: Map<string, GitWant>,
  components: Record<string, MirrorIndexComponent>,
): void {
  const addGit = (url: string, commit: string, who: string, ref?: string) => {
    const g: GitWant = gits.get(url) ?? { url, refs: new Map(), commits: new Set(), who };
    g.refs.set(PIN + commit, commit);
    g.commits.add(commit);
    g.head = commit;
    if (ref) g.refs.set(ref, ''); // resolved from the cache mirror, if it has it
    gits.set(url, g);
  };
  for (const [name, c] of Object.entries(lock.components).sort(([a], [b]) => compareBytewise(a, b))) {
    const d = describeComponent(c);
    // A local input is never downloaded: nothing to mirror.
    if (d.kind === 'local' || !d.url) continue;
    // What a mirror holds is each kind's own: a repository with the pinned commit, or the bytes.
    if (isLockedGit(c)) addGit(c.git, c.commit, name, c.ref && !isFullCommit(c.ref) ? c.ref : undefined);
    else if (isLockedTarball(c)) tarballs.push({ url: c.url, integrity: c.integrity, size: c.size, who: name });
    components[name] = {
      kind: d.kind,
      url: d.url,
      path: '',
      ...(d.commit ? { commit: d.commit } : { integrity: d.integrity }),
    };
    const children = 'children' in c ? c.children : undefined;
    for (const [path, ch] of Object.entries(children ?? {})) {
      if (ch.kind !== 'wrap-file') addGit(ch.git, ch.commit, `${name}/${path}`);
      else tarballs.push({ url: ch.url, integrity: ch.integrity, size: ch.size, who: `${name}/${path}` });
    }
  }
}

/** Everything in the cache: tarballs from the content index, every git mirror with all its refs. */
export async function wantsFromCache(cache: Cache, tarballs: TarballWant[], gits: Map<string, GitWant>): Promise<void> {
  const entries = await (await cacacheLib())
    .ls(cache.contentDir)
    .catch(() => ({}) as Record<string, cacache.CacheObject>);
  for (const e of Object.values(entries)) {
    if (!e.key.startsWith('tarball:')) continue;
    if (!(await hasVerifiedContent(cache, e.integrity))) continue;
    tarballs.push({
      url: e.key.slice('tarball:'.length),
      integrity: e.integrity,
      size: e.size ?? 0,
      who: e.key.slice('tarball:'.length),
    });
  }
  const gitRoot = join(cache.root, 'git');
  for (const name of (await readdir(gitRoot).catch(() => [] as string[])).sort(compareBytewise)) {
    if (!name.endsWith('.git') || name.startsWith('.')) continue;
    const dir = join(gitRoot, name);
    const url = (await runGit(['config', '--get', 'remote.origin.url'], { gitDir: dir })).stdout.toString().trim();
    if (!url || cache.gitMirrorDir(url) !== dir) continue;
    const refs = new Map<string, string>();
    const commits = new Set<string>();
    for (const line of (
      await git(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads', 'refs/tags', 'refs/xenrel/pins'], {
        gitDir: dir,
      })
    ).split('\n')) {
      const [oid, ref] = line.split(' ');
      if (!oid || !ref) continue;
      refs.set(ref, oid);
      if (ref.startsWith(PIN)) commits.add(ref.slice(PIN.length));
    }
    if (refs.size) gits.set(url, { url, refs, commits, who: url });
  }
}
