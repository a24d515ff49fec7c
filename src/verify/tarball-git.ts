import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Cache } from '../content-cache/cache.js';
import { ExitCode, XenrelError } from '../errors.js';
import { readTar, type TarEntry } from '../archive/reader.js';
import type { Limits } from '../archive/policy.js';
import type { UpstreamGit } from '../model/config.js';
import { openVerifiedContent } from '../sources/tarball.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { resolveRef } from '../sources/git/refs.js';
import { gitArgs, gitEnv } from '../sources/git/run.js';
import { compareBytewise } from '../tree/hash.js';

/**
 * A tarball component against the git tag it was made from (the xz-utils lesson: a release
 * tarball can hold files that are not in git, or differ from it). Every file is compared by
 * content sha256 and mode; files only in the tarball or different are findings unless the
 * config lists them as generated (a dist tarball adds `configure` and the like); files only
 * in git are for information (a dist tarball leaves out `.gitignore` and CI files).
 */

export interface TarballGitDifference {
  path: string;
  /** What differs, e.g. `content` or `mode 100644 in the tarball, 100755 in git`. */
  what: string;
}

export interface TarballGitComparison {
  component: string;
  git: { url: string; ref: string; commit: string };
  onlyInTarball: string[];
  differs: TarballGitDifference[];
  onlyInGit: string[];
  /** Only in the tarball or different, but listed in `generated`: not findings. */
  generated: string[];
  /** The tarball's top directory, taken off before comparing (when every entry is under one). */
  topDir?: string;
  files: number;
  ok: boolean;
}

type Item = { kind: 'file'; mode: '100644' | '100755'; sha256: string } | { kind: 'symlink'; target: string };

const itemOf = (e: TarEntry): Item | undefined =>
  e.type === 'symlink'
    ? { kind: 'symlink', target: e.linkpath! }
    : e.type === 'dir'
      ? undefined
      : { kind: 'file', mode: e.executable ? '100755' : '100644', sha256: e.sha256! };

/** `*` matches within one name, a trailing `/` a whole folder, anything else the exact path. */
export function generatedMatcher(patterns: readonly string[]): (path: string) => boolean {
  const res = patterns.map((p) => {
    if (p.endsWith('/')) return (path: string) => path.startsWith(p);
    const re = new RegExp(
      `^${p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}$`,
    );
    return (path: string) => re.test(path);
  });
  return (path) => res.some((m) => m(path));
}

async function gitArchiveItems(mirrorDir: string, commit: string, label: string): Promise<Map<string, Item>> {
  const child = spawn('git', gitArgs(['archive', '--format=tar', commit], mirrorDir), {
    env: gitEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A consumer at once: Node drains an unread stdout when the child exits.
  const stdout = child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const items = new Map<string, Item>();
  await readTar(stdout, {
    name: label,
    topDirRule: false,
    onEntryDone: (e) => {
      const item = itemOf(e);
      if (item) items.set(e.path, item);
    },
  });
  if ((await exited) !== 0)
    throw new XenrelError('E_GIT', `${label} failed: ${stderr.trim()}`, { exitCode: ExitCode.fetch });
  return items;
}

async function tarballItems(
  cache: Cache,
  integrity: string,
  label: string,
  limits?: Partial<Limits>,
): Promise<{ items: Map<string, Item>; topDir?: string }> {
  const all: [string, Item][] = [];
  const tops = new Set<string>();
  let flat = false;
  await readTar(openVerifiedContent(cache, integrity), {
    name: label,
    limits,
    onEntryDone: (e) => {
      const slash = e.path.indexOf('/');
      if (slash < 0 && e.type !== 'dir') flat = true;
      tops.add(slash < 0 ? e.path : e.path.slice(0, slash));
      const item = itemOf(e);
      if (item) all.push([e.path, item]);
    },
  });
  const topDir = !flat && tops.size === 1 ? [...tops][0] : undefined;
  const strip = topDir === undefined ? 0 : topDir.length + 1;
  return { items: new Map(all.map(([p, i]) => [p.slice(strip), i])), topDir };
}

function difference(t: Item, g: Item): string | undefined {
  if (t.kind !== g.kind) return `a ${t.kind} in the tarball, a ${g.kind} in git`;
  if (t.kind === 'symlink')
    return t.target === (g as typeof t).target
      ? undefined
      : `link target ${JSON.stringify(t.target)} in the tarball, ${JSON.stringify((g as typeof t).target)} in git`;
  const gf = g as typeof t;
  if (t.sha256 !== gf.sha256)
    return t.mode === gf.mode ? 'content' : `content, and mode ${t.mode} in the tarball, ${gf.mode} in git`;
  return t.mode === gf.mode ? undefined : `mode ${t.mode} in the tarball, ${gf.mode} in git`;
}

export interface TarballGitOptions {
  component: string;
  /** The tarball's integrity: its bytes are read from `cache`, where fetch verified them. */
  integrity: string;
  upstreamGit: UpstreamGit;
  /** The tag is resolved and the commit fetched into this cache's git mirror. */
  cache: Cache;
  limits?: Partial<Limits>;
  offline?: boolean;
}

/** Compares a cached tarball with the git tree at its `upstreamGit` tag or commit, file by file. */
export async function compareTarballWithGit(o: TarballGitOptions): Promise<TarballGitComparison> {
  const { url } = o.upstreamGit;
  const ref = o.upstreamGit.tag ?? o.upstreamGit.commit!;
  const label = `component ${o.component}`;
  const { commit } = await resolveRef(url, ref, o.cache, { label, offline: o.offline });
  const { mirrorDir } = await ensureCommit(url, commit, o.cache, { label, offline: o.offline });
  const git = await gitArchiveItems(mirrorDir, commit, `git archive ${commit} of ${url}`);
  const { items: tar, topDir } = await tarballItems(o.cache, o.integrity, `${o.component} tarball`, o.limits);
  const isGenerated = generatedMatcher(o.upstreamGit.generated ?? []);
  const onlyInTarball: string[] = [];
  const differs: TarballGitDifference[] = [];
  const generated: string[] = [];
  for (const path of [...tar.keys()].sort(compareBytewise)) {
    const g = git.get(path);
    const what = g ? difference(tar.get(path)!, g) : undefined;
    if (g && !what) continue;
    if (isGenerated(path)) generated.push(path);
    else if (!g) onlyInTarball.push(path);
    else differs.push({ path, what: what! });
  }
  const onlyInGit = [...git.keys()].filter((p) => !tar.has(p)).sort(compareBytewise);
  return {
    component: o.component,
    git: { url, ref, commit },
    onlyInTarball,
    differs,
    onlyInGit,
    generated,
    ...(topDir !== undefined ? { topDir } : {}),
    files: tar.size,
    ok: onlyInTarball.length === 0 && differs.length === 0,
  };
}
