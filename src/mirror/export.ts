import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { ExitCode, XenrelError, wrapFsError } from '../errors.js';
import { hasVerifiedContent } from '../sources/tarball.js';
import { runGit } from '../sources/git/run.js';
import { compareBytewise } from '../tree/hash.js';
import type { Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { MIRROR_INDEX } from '../layout/mirror.js';
import { exportGit, repoPathFor } from './export-git.js';
import { exportTarball } from './export-tarball.js';
import { readIndex, type MirrorIndex, type MirrorIndexComponent } from './mirror-index.js';
import { wantsFromCache, wantsFromLock, type GitWant, type TarballWant } from './wants.js';

/**
 * `xenrel mirror DIR`: the cache as a static mirror any web server can host (layout in
 * layout.ts). Every write is atomic (temp + rename; new git repositories are built under
 * a temporary name), and a second run over the same inputs changes nothing. A mirror
 * accumulates: what an earlier run published (another release's pins) is kept.
 */

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

function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => compareBytewise(a, b)));
}

/** Export the cache into `dir` as a static mirror. */
export async function exportMirror(opts: MirrorOptions): Promise<MirrorResult> {
  const dir = resolve(opts.dir);
  if (!opts.lock && !opts.all)
    throw new XenrelError('E_USAGE', 'nothing to export: give a lock or --all', { exitCode: ExitCode.usage });
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory())
    throw new XenrelError('E_USAGE', `${dir} exists and is not a folder`, {
      exitCode: ExitCode.usage,
      hint: 'give a folder for the mirror',
    });
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
  for (const t of tarballs)
    if (!(await hasVerifiedContent(opts.cache, t.integrity)))
      missing.push(`${t.who}: ${t.url} (${t.integrity.slice(0, 20)}…)`);
  for (const g of gits.values()) {
    const mdir = opts.cache.gitMirrorDir(g.url);
    for (const c of g.commits)
      if ((await runGit(['cat-file', '-e', `${c}^{commit}`], { gitDir: mdir })).code !== 0)
        missing.push(`${g.who}: commit ${c} of ${g.url}`);
  }
  if (missing.length)
    throw new XenrelError(
      'E_NOT_CACHED',
      `the cache does not hold everything the mirror should publish:\n${missing.map((m) => `  ${m}`).join('\n')}`,
      {
        exitCode: ExitCode.fetch,
        hint: 'run `xenrel fetch` first (the mirror is exported from the cache, never from upstream)',
        details: { missing },
      },
    );

  // Tarballs: by hash, then under their file name.
  const seen = new Set<string>();
  for (const t of tarballs) {
    const key = `${t.url}\n${t.integrity}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = await exportTarball(opts.cache, dir, t, index, changed, warn);
    const list = (index.tarballs[t.url] ?? []).filter((e) => e.byHash !== entry.byHash);
    index.tarballs[t.url] = [...list, entry].sort((a, b) => compareBytewise(a.byHash, b.byHash));
    for (const c of Object.values(index.components))
      if (c.kind === 'tarball' && c.url === t.url && c.integrity === t.integrity) c.path = entry.file ?? entry.byHash;
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
      const children = 'children' in c ? c.children : undefined;
      if (!children || !index.components[name]) continue;
      const out: NonNullable<MirrorIndexComponent['children']> = {};
      for (const [p, ch] of Object.entries(children)) {
        if (ch.kind !== 'wrap-file') out[p] = { url: ch.git, path: index.git[ch.git]!.repo, commit: ch.commit };
        else {
          const e = index.tarballs[ch.url]?.find((x) => x.integrity === ch.integrity);
          out[p] = { url: ch.url, path: e?.file ?? e?.byHash ?? '', integrity: ch.integrity };
        }
      }
      index.components[name]!.children = sortObject(out);
    }

  const final: MirrorIndex = {
    mirrorVersion: 1,
    components: sortObject(index.components),
    tarballs: sortObject(index.tarballs),
    git: sortObject(index.git),
  };
  const text = `${JSON.stringify(final, null, 2)}\n`;
  if ((await readFile(join(dir, MIRROR_INDEX), 'utf8').catch(() => '')) !== text) {
    await writeFileAtomic(join(dir, MIRROR_INDEX), text);
    changed.push(MIRROR_INDEX);
  }
  return { index: final, changed, warnings };
}
