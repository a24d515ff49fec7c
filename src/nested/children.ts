import { isFullCommit } from '../util/patterns.js';
import { XenrelError, ExitCode } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import { commitTreeHash, fetchGit } from '../sources/git/source.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { readGitmodules } from '../sources/git/submodules.js';
import { resolveRef } from '../sources/git/refs.js';
import { git, runGit } from '../sources/git/run.js';
import { listGitlinks } from '../sources/git/tree.js';
import { fetchTarball, openVerifiedContent } from '../sources/tarball.js';
import { hashTarball } from '../archive/reader.js';
import { compareBytewise, treeHash } from '../tree/hash.js';
import type { LockedChild, LockedChildFile, LockedChildGit } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { parseWrap, sriFromSha256Hex, type WrapFile, type WrapGit } from './wrap.js';
import { gitMirrorCandidates } from '../layout/mirror.js';

/**
 * Nested sources of a git component, found at its locked commit:
 *   - git submodules: `.gitmodules` + the gitlink (mode 160000) at each path: the gitlink's
 *     commit is the pin. Recursive, like `git submodule update --init --recursive`.
 *   - meson wraps: `subprojects/*.wrap` at the component's root (and in wrap-git children):
 *     `[wrap-git]` pinned by `revision` (a tag or branch is resolved to a commit),
 *     `[wrap-file]` by `source_hash`. A wrap whose directory the tree already holds is
 *     not a download (meson uses the folder), so it is no child.
 * The result is flat: keys are paths from the component root (`a/b` for a submodule of `a`).
 */

export interface ChildOptions {
  /** Component name, for messages. */
  name: string;
  offline?: boolean;
  progress?: ProgressSink;
  /**
   * Mirrors (the component's, then the config's), tried before each child's own URL: for
   * git children's commits and wrap-git tags, and for wrap-file archives — as fetch does.
   */
  mirrors?: string[];
  /** Children of the previous lock: reused as they are when their pin did not change. */
  known?: Record<string, LockedChild>;
  /** Re-resolve wrap-git tags and branches even when a known child has them (lock --check). */
  recheckRefs?: boolean;
}

/** A child path must stay inside the component: relative, no `.`/`..`/`.git` segments. */
function checkChildPath(name: string, path: string, what: string): void {
  const bad =
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git');
  if (bad)
    throw new XenrelError('E_CHILD_PATH', `component ${name}: ${what} has an unsafe path ${JSON.stringify(path)}`, {
      exitCode: ExitCode.usage,
      hint: 'the upstream .gitmodules or wrap file is malformed; pin another revision or patch it',
    });
}

const join2 = (prefix: string, p: string) => (prefix ? `${prefix}/${p}` : p);

async function blobText(mirrorDir: string, commit: string, path: string): Promise<string> {
  return git(['cat-file', 'blob', `${commit}:${path}`], { gitDir: mirrorDir, what: `reading ${path} at ${commit}` });
}

/** `subprojects/*.wrap` at `commit` (files only, one level). */
async function wrapFiles(mirrorDir: string, commit: string): Promise<string[]> {
  const r = await runGit(['ls-tree', '-z', '--full-tree', commit, 'subprojects/'], { gitDir: mirrorDir });
  if (r.code !== 0) return [];
  return r.stdout
    .toString('utf8')
    .split('\0')
    .filter(Boolean)
    .map((rec) => ({ type: rec.split(' ')[1], path: rec.slice(rec.indexOf('\t') + 1) }))
    .filter((e) => e.type === 'blob' && /^subprojects\/[^/]+\.wrap$/.test(e.path))
    .map((e) => e.path)
    .sort(compareBytewise);
}

/** Does `commit` hold anything at `dir` (a folder, file or gitlink)? */
async function treeHas(mirrorDir: string, commit: string, dir: string): Promise<boolean> {
  return (await runGit(['cat-file', '-e', `${commit}:${dir}`], { gitDir: mirrorDir })).code === 0;
}

/** Options for the git source: commits come from the mirrors first (checked by id and tree). */
const gitOpts = (opts: ChildOptions, label: string) => ({
  offline: opts.offline,
  progress: opts.progress,
  label,
  mirrors: opts.mirrors,
});

async function gitChildTree(
  url: string,
  commit: string,
  cache: Cache,
  opts: ChildOptions,
  label: string,
): Promise<{ mirrorDir: string; tree: string }> {
  const { mirrorDir } = await ensureCommit(url, commit, cache, gitOpts(opts, label));
  return { mirrorDir, tree: await commitTreeHash(mirrorDir, commit, { label }) };
}

/**
 * A wrap-git tag or branch: from the first mirror that has it, else from its URL. A mirror
 * is trusted for what the name means (as with Yocto's PREMIRRORS); the commit it names is
 * still fetched and hashed like any other.
 */
async function resolveWrapRef(url: string, ref: string, cache: Cache, opts: ChildOptions, label: string) {
  if (!opts.offline && !/^[0-9a-f]{4,40}$/.test(ref))
    for (const m of opts.mirrors ?? [])
      for (const candidate of gitMirrorCandidates(m, url)) {
        const r = await resolveRef(candidate, ref, cache, { label }).catch(() => undefined);
        if (r) return { ...r, warnings: [...r.warnings, `"${ref}" of ${url} resolved from the mirror ${candidate}`] };
      }
  return resolveRef(url, ref, cache, { offline: opts.offline, progress: opts.progress, label });
}

const sameGit = (k: LockedChild | undefined, kind: string, url: string, commit: string): k is LockedChildGit =>
  !!k && k.kind === kind && 'git' in k && k.git === url && k.commit === commit;

async function walkGit(
  cache: Cache,
  opts: ChildOptions,
  node: { url: string; commit: string; mirrorDir: string; prefix: string; submodules: boolean; wraps: boolean },
  out: Record<string, LockedChild>,
): Promise<void> {
  const { name } = opts;
  if (node.submodules) {
    const subs = await readGitmodules(node.mirrorDir, node.commit, node.url);
    const declared = new Set(subs.map((s) => s.path));
    for (const g of await listGitlinks(node.mirrorDir, node.commit))
      if (!declared.has(g.path))
        opts.progress?.warn?.(
          `${name}: ${join2(node.prefix, g.path)} is a gitlink (${g.commit}) with no .gitmodules entry; git cannot fetch it either, so it stays empty`,
        );
    for (const s of subs) {
      if (!s.commit) continue; // declared but not in the tree: git skips it too
      const path = join2(node.prefix, s.path);
      checkChildPath(name, path, `submodule ${s.name}`);
      const label = `${name}/${path}`;
      const known = opts.known?.[path];
      let mirrorDir: string;
      let tree: string;
      if (sameGit(known, 'submodule', s.url, s.commit)) {
        ({ mirrorDir } = await ensureCommit(s.url, s.commit, cache, gitOpts(opts, label)));
        tree = known.tree;
      } else ({ mirrorDir, tree } = await gitChildTree(s.url, s.commit, cache, opts, label));
      out[path] = { kind: 'submodule', git: s.url, commit: s.commit, tree };
      await walkGit(
        cache,
        opts,
        { url: s.url, commit: s.commit, mirrorDir, prefix: path, submodules: true, wraps: false },
        out,
      );
    }
  }
  if (!node.wraps) return;
  for (const wf of await wrapFiles(node.mirrorDir, node.commit)) {
    const wrapPath = join2(node.prefix, wf);
    const wrap = parseWrap(`${name}: ${wrapPath}`, await blobText(node.mirrorDir, node.commit, wf));
    if (wrap.type === 'redirect') continue;
    if (wrap.type !== 'git' && wrap.type !== 'file') {
      opts.progress?.warn?.(
        `${name}: ${wrapPath} is a wrap-${wrap.type}; xenrel does not vendor those, so a build that needs it will fail offline`,
      );
      continue;
    }
    const rel = `subprojects/${wrap.directory}`;
    if (await treeHas(node.mirrorDir, node.commit, rel)) continue; // meson uses the folder as it is
    const path = join2(node.prefix, rel);
    checkChildPath(name, path, `wrap ${wrapPath}`);
    const extras = {
      wrap: wrapPath,
      ...(wrap.patchDirectory
        ? { overlay: join2(node.prefix, `subprojects/packagefiles/${wrap.patchDirectory}`) }
        : {}),
      ...(wrap.diffFiles.length
        ? { diffFiles: wrap.diffFiles.map((d) => join2(node.prefix, `subprojects/packagefiles/${d}`)) }
        : {}),
    };
    if (wrap.type === 'git') out[path] = await wrapGitChild(cache, opts, wrap, path, extras, out);
    else out[path] = await wrapFileChild(cache, opts, wrap, path, extras);
  }
}

async function wrapGitChild(
  cache: Cache,
  opts: ChildOptions,
  wrap: WrapGit,
  path: string,
  extras: Pick<LockedChildGit, 'wrap' | 'overlay' | 'diffFiles'>,
  out: Record<string, LockedChild>,
): Promise<LockedChildGit> {
  const label = `${opts.name}/${path}`;
  const known = opts.known?.[path];
  const pinnedByCommit = isFullCommit(wrap.revision);
  let commit: string;
  if (
    !pinnedByCommit &&
    !opts.recheckRefs &&
    known?.kind === 'wrap-git' &&
    known.git === wrap.url &&
    known.ref === wrap.revision
  )
    commit = known.commit;
  else {
    const r = await resolveWrapRef(wrap.url, wrap.revision, cache, opts, label);
    for (const w of r.warnings) opts.progress?.warn?.(`${label}: ${w}`);
    commit = r.commit;
  }
  let mirrorDir: string;
  let tree: string;
  if (sameGit(known, 'wrap-git', wrap.url, commit)) {
    ({ mirrorDir } = await ensureCommit(wrap.url, commit, cache, gitOpts(opts, label)));
    tree = known.tree;
  } else ({ mirrorDir, tree } = await gitChildTree(wrap.url, commit, cache, opts, label));
  const child: LockedChildGit = {
    kind: 'wrap-git',
    git: wrap.url,
    ...(pinnedByCommit ? {} : { ref: wrap.revision }),
    commit,
    tree,
    ...extras,
  };
  if (wrap.cloneRecursive)
    await walkGit(cache, opts, { url: wrap.url, commit, mirrorDir, prefix: path, submodules: true, wraps: false }, out);
  return child;
}

/** The archive's content as meson leaves it in `subprojects/<directory>`: its one top folder, stripped. */
export function wrapFileEntries<T extends { path: string }>(
  label: string,
  entries: T[],
  topDirs: string[],
  directory: string,
  leadDirectoryMissing: boolean,
): T[] {
  if (leadDirectoryMissing) return entries;
  if (topDirs.length !== 1 || topDirs[0] !== directory || entries.some((e) => !e.path.startsWith(`${directory}/`)))
    throw new XenrelError(
      'E_WRAP_LAYOUT',
      `${label}: the archive's top level is ${topDirs.join(', ') || '(empty)'}, the wrap says directory = ${directory}`,
      {
        exitCode: ExitCode.usage,
        hint: 'meson would extract it next to the expected folder and fail too; fix "directory" (or set lead_directory_missing) in the wrap',
      },
    );
  return entries.map((e) => ({ ...e, path: e.path.slice(directory.length + 1) }));
}

async function wrapFileChild(
  cache: Cache,
  opts: ChildOptions,
  wrap: WrapFile,
  path: string,
  extras: Pick<LockedChildFile, 'wrap' | 'overlay' | 'diffFiles'>,
): Promise<LockedChildFile> {
  const label = `${opts.name}/${path}`;
  if (wrap.patchUrl)
    throw new XenrelError(
      'E_WRAP_UNSUPPORTED',
      `${label}: ${extras.wrap} uses patch_url (${wrap.patchUrl}), which xenrel does not vendor yet`,
      {
        exitCode: ExitCode.usage,
        hint: 'use patch_directory in the wrap instead (a patch in patches: can change it), or leave the component out',
      },
    );
  if (!/\.(tar|tgz|tbz2?|txz|tar\.(gz|bz2|xz|zst))$/i.test(wrap.sourceFilename))
    throw new XenrelError(
      'E_WRAP_UNSUPPORTED',
      `${label}: ${extras.wrap} names ${wrap.sourceFilename}; xenrel reads tar archives (gz, bz2, xz, zst) only`,
      {
        exitCode: ExitCode.usage,
        hint: 'point the wrap at a tar release of the same source',
      },
    );
  const known = opts.known?.[path];
  const got = await fetchTarball({
    name: label,
    url: wrap.sourceUrl,
    mirrors: opts.mirrors ?? [],
    expected: { integrity: sriFromSha256Hex(wrap.sourceHash) },
    cache,
    offline: opts.offline,
    progress: opts.progress,
    allowHttp: true,
  });
  let tree: string;
  if (known?.kind === 'wrap-file' && known.sha256 === wrap.sourceHash && known.url === wrap.sourceUrl)
    tree = known.tree;
  else {
    const h = await hashTarball(openVerifiedContent(cache, got.integrity), { name: `${label} (${wrap.sourceUrl})` });
    tree = treeHash(wrapFileEntries(label, h.entries, h.topDirs, wrap.directory, wrap.leadDirectoryMissing));
  }
  return {
    kind: 'wrap-file',
    url: wrap.sourceUrl,
    integrity: got.integrity,
    sha256: wrap.sourceHash,
    size: got.size,
    tree,
    ...(wrap.leadDirectoryMissing ? { leadDirectoryMissing: true as const } : {}),
    ...extras,
    wrap: extras.wrap!,
  };
}

/** Every nested source of the git component at `commit`, keyed by path. Empty when none. */
export async function resolveChildren(
  parent: { git: string; commit: string },
  cache: Cache,
  opts: ChildOptions,
): Promise<Record<string, LockedChild>> {
  const { mirrorDir } = await ensureCommit(parent.git, parent.commit, cache, gitOpts(opts, opts.name));
  const out: Record<string, LockedChild> = {};
  await walkGit(
    cache,
    opts,
    { url: parent.git, commit: parent.commit, mirrorDir, prefix: '', submodules: true, wraps: true },
    out,
  );
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => compareBytewise(a, b)));
}

/**
 * `fetch` for children: each git child's commit in its mirror (its tree checked against
 * the lock), each wrap-file archive in the cache (verified). Offline-safe: nothing is
 * downloaded that the cache holds.
 */
export async function fetchChildren(
  name: string,
  children: Record<string, LockedChild>,
  cache: Cache,
  opts: { offline?: boolean; progress?: ProgressSink; mirrors?: string[]; premirrorOnly?: boolean } = {},
): Promise<{ fetched: number }> {
  let fetched = 0;
  for (const [path, c] of Object.entries(children)) {
    const label = `${name}/${path}`;
    if (c.kind === 'wrap-file') {
      const r = await fetchTarball({
        name: label,
        url: c.url,
        mirrors: opts.mirrors ?? [],
        expected: { integrity: c.integrity, size: c.size },
        cache,
        offline: opts.offline,
        progress: opts.progress,
        allowHttp: true,
        ...(opts.premirrorOnly ? { sourcesMode: 'mirrors-only' as const } : {}),
      });
      if (!r.cached) fetched++;
    } else {
      const r = await fetchGit(
        label,
        { git: c.git, ref: c.ref ?? c.commit, commit: c.commit, tree: c.tree, path },
        cache,
        {
          offline: opts.offline,
          progress: opts.progress,
          label,
          mirrors: opts.mirrors,
          premirrorOnly: opts.premirrorOnly,
        },
      );
      if (!r.cached) fetched++;
    }
  }
  return { fetched };
}
