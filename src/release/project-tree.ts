import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { readFile, realpath } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Lockfile } from '../model/lock.js';
import { XenrelError, ExitCode } from '../errors.js';
import { safeExtract } from '../archive/extract.js';
import { git, gitArgs, gitEnv, runGit } from '../sources/git/run.js';
import { entriesFromDir, type EntrySource } from '../archive/entries.js';
import type { TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import type { BlobHashCache } from './blob-hash-cache.js';
import { gitProjectFiles } from './git-project.js';

/** How the project's own files are taken: `git archive` of HEAD, or a plain folder whole. */
export interface ProjectSource {
  kind: 'git' | 'dir';
  root: string;
  /** HEAD (git): the commit the project's files come from. */
  commit?: string;
  /** Commit time of HEAD (git), the default mtime. */
  commitTime?: number;
  /** `git describe`, the default version. */
  describe?: string;
}

/**
 * A git work tree's top folder is a git project; anything else a plain folder. `describe`:
 * also run `git describe` (the default version; it walks history, so only when wanted).
 */
export async function detectProject(root: string, opts: { describe?: boolean } = {}): Promise<ProjectSource> {
  const real = await realpath(root);
  const top = await runGit(['rev-parse', '--show-toplevel'], { cwd: real });
  if (top.code !== 0 || (await realpath(top.stdout.toString('utf8').trim()).catch(() => '')) !== real)
    return { kind: 'dir', root: real };
  const head = await runGit(['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { cwd: real });
  if (head.code !== 0)
    throw new XenrelError('E_NO_COMMIT', `${real} is a git work tree without any commit`, {
      exitCode: ExitCode.usage,
      hint: 'commit the tree first: a release is cut from a commit',
    });
  const commit = head.stdout.toString('utf8').trim();
  const [time, described] = await Promise.all([
    git(['show', '-s', '--no-decorate', '--format=%ct', commit], { cwd: real }),
    opts.describe === false ? undefined : runGit(['describe', '--tags', '--always'], { cwd: real }),
  ]);
  const describe = described?.stdout.toString('utf8').trim() || undefined;
  return { kind: 'git', root: real, commit, commitTime: Number(time.trim()), describe };
}

/** The paths `git status --porcelain -z` lists with `args`. */
async function statusPaths(root: string, args: string[]): Promise<string[]> {
  const out = await git(['status', '--porcelain', '-z', ...args], { cwd: root });
  return out
    .split('\0')
    .filter(Boolean)
    .map((l) => l.slice(3));
}

/** Tracked files that differ from HEAD (untracked files never enter a git release). */
export const dirtyFiles = (root: string): Promise<string[]> => statusPaths(root, ['--untracked-files=no']);

/** Of `files` (absolute, in the work tree), those HEAD does not hold as they are: untracked or changed. */
export async function uncommittedFiles(root: string, files: string[]): Promise<string[]> {
  const rels = files.map((f) => relative(root, f)).filter((r) => r && !r.startsWith('..'));
  return rels.length ? statusPaths(root, ['--untracked-files=all', '--', ...rels]) : [];
}

/**
 * Puts a git project's commit into `dest` (which must not exist), as `git archive` gives it
 * (export-ignore and export-subst apply, as in Xen's mktarball); with `allowDirty`, a
 * `git stash create` snapshot of the tracked files (the work tree and refs are not touched).
 */
export async function stageGitProject(
  src: ProjectSource,
  dest: string,
  opts: { allowDirty?: boolean } = {},
): Promise<void> {
  let rev = 'HEAD';
  if (opts.allowDirty) rev = (await git(['stash', 'create'], { cwd: src.root })).trim() || 'HEAD';
  const child = spawn('git', gitArgs(['archive', '--format=tar', rev]), {
    cwd: src.root,
    env: gitEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Attach a consumer now: Node drains a child's unread stdout when the child exits, so a
  // small archive would be lost before safeExtract starts reading.
  const stdout = child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  // A failing git archive says why the extraction failed: its error comes first.
  let extractError: unknown;
  try {
    // git archive has no top directory: `docs/README.link -> ../README` stays inside the project.
    await safeExtract(stdout, dest, { name: `git archive ${rev} of ${src.root}`, topDirRule: false });
  } catch (err) {
    extractError = err;
  }
  const code = await exited;
  if (code !== 0)
    throw new XenrelError('E_GIT', `git archive failed in ${src.root}: ${stderr.trim()}`, { exitCode: ExitCode.usage });
  if (extractError) throw extractError;
}

export interface ProjectContent {
  /** Where the project's files are read from: the extracted commit, or the folder itself. */
  root: string;
  /** Relative paths left out, each with everything below it. */
  excluded: string[];
  skip: (rel: string) => boolean;
}

interface ExcludeOptions {
  lock: Lockfile;
  outDir: string;
  cacheRoot: string;
  exclude?: string[];
}

function excludedPaths(
  project: ProjectSource,
  opts: ExcludeOptions,
): { excluded: string[]; skip: (rel: string) => boolean } {
  const inside = (p: string) => (p.startsWith(`${project.root}/`) ? [relative(project.root, p)] : []);
  const excluded = [
    '.xenrel',
    ...(opts.exclude ?? []),
    ...Object.values(opts.lock.components).map((c) => c.path),
    ...inside(opts.outDir),
    ...inside(opts.cacheRoot),
  ];
  return { excluded, skip: (rel: string) => excluded.some((e) => rel === e || rel.startsWith(`${e}/`)) };
}

/** The project's own files as archive entries, with their tree-hash entries. */
export interface ProjectSources {
  sources: EntrySource[];
  entries: TreeEntry[];
  /** A file of the project as it goes into a release (before the exclusions), if it exists. */
  read(rel: string): Promise<Buffer | undefined>;
  /** Several files at once (those that exist). */
  readAll(rels: readonly string[]): Promise<Map<string, Buffer>>;
  /** Stops what still reads the project (a git child); call it whatever happened. */
  close(): Promise<void>;
}

/**
 * The project's own files for a release, without a copy on disk: a git project's HEAD (or,
 * with `allowDirty`, a `git stash create` snapshot of the tracked files) read from git
 * objects as `git archive` gives it; a folder read in place. Left out as in projectContent.
 */
export async function projectSources(
  project: ProjectSource,
  opts: ExcludeOptions & { allowDirty?: boolean; hashCache?: BlobHashCache },
): Promise<ProjectSources> {
  const { excluded, skip } = excludedPaths(project, opts);
  if (project.kind === 'git') {
    let rev = 'HEAD';
    if (opts.allowDirty) rev = (await git(['stash', 'create'], { cwd: project.root })).trim() || 'HEAD';
    return gitProjectFiles(project.root, rev, { skip, hashCache: opts.hashCache });
  }
  const ignoreNames = ['.git'];
  const entries = await walkTree(project.root, { ignoreNames, ignorePaths: excluded.flatMap((e) => [e, `${e}/`]) });
  const sources = await entriesFromDir(project.root, { ignoreNames, skip });
  const read = (rel: string) =>
    readFile(join(project.root, rel)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  return {
    sources,
    entries,
    read,
    readAll: async (rels) => {
      const out = new Map<string, Buffer>();
      for (const rel of rels) {
        const data = await read(rel);
        if (data) out.set(rel, data);
      }
      return out;
    },
    close: async () => {},
  };
}

/**
 * The project's own files for a tarball: a git project's HEAD (extracted into `staging`),
 * a folder read in place. Left out: xenrel's own files (made fresh by the caller), and what
 * would put something in twice (a component at its path, the output folder, a cache inside
 * the project).
 */
export async function projectContent(
  project: ProjectSource,
  staging: string,
  opts: ExcludeOptions & { allowDirty?: boolean },
): Promise<ProjectContent> {
  const { excluded, skip } = excludedPaths(project, opts);
  if (project.kind === 'dir') return { root: project.root, excluded, skip };
  const root = join(staging, 'project');
  await stageGitProject(project, root, { allowDirty: opts.allowDirty });
  return { root, excluded, skip };
}
