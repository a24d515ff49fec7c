import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Cache } from '../content-cache/cache.js';
import { ExitCode, XenrelError } from '../errors.js';
import { readTar } from '../archive/reader.js';
import { LOCKFILE_NAME } from '../lock/lockfile.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { gitArgs, gitEnv } from '../sources/git/run.js';
import { compareBytewise, fileEntry, symlinkEntry, type TreeEntry } from '../tree/hash.js';
import type { Lockfile } from '../model/lock.js';
import { isXenrelPath } from './owned.js';

export interface UpstreamProject {
  /** The project's files at the commit, laid out as a release takes them. */
  entries: TreeEntry[];
  /** The xenrel.lock committed there, if any: it anchors the lock too. */
  lockText?: string;
}

/**
 * The project's own files at `commit`, re-fetched from `url` into `cache` (a temporary
 * one) and read as `git archive` gives them, the way `release` takes a git project:
 * export-ignore and export-subst applied; xenrel's paths and the components' paths left out.
 */
export async function upstreamProject(
  url: string,
  commit: string,
  lock: Lockfile,
  cache: Cache,
): Promise<UpstreamProject> {
  const { mirrorDir } = await ensureCommit(url, commit, cache, { label: 'the project' });
  const child = spawn('git', gitArgs(['archive', '--format=tar', commit], mirrorDir), {
    env: gitEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const paths = Object.values(lock.components).map((c) => c.path);
  const skipped = (p: string) => isXenrelPath(p) || paths.some((c) => p === c || p.startsWith(`${c}/`));
  const entries: TreeEntry[] = [];
  let lockText: string | undefined;
  await readTar(stdout, {
    name: `git archive ${commit} of ${url}`,
    onEntry: (e) => {
      if (e.path !== LOCKFILE_NAME || e.type !== 'file') return;
      const chunks: Buffer[] = [];
      return {
        write: (c) => void chunks.push(Buffer.from(c)),
        end: () => void (lockText = Buffer.concat(chunks).toString('utf8')),
      };
    },
    onEntryDone: (e) => {
      if (e.type === 'dir' || skipped(e.path)) return;
      entries.push(
        e.type === 'symlink' ? symlinkEntry(e.path, e.linkpath!) : fileEntry(e.path, e.executable, e.sha256!),
      );
    },
  });
  if ((await exited) !== 0)
    throw new XenrelError('E_GIT', `git archive of ${commit} from ${url} failed: ${stderr.trim()}`, {
      exitCode: ExitCode.fetch,
    });
  return { entries: entries.sort((a, b) => compareBytewise(a.path, b.path)), lockText };
}
