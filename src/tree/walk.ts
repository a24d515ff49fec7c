import { lstat, readdir, readlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { XenrelError, ExitCode } from '../errors.js';
import { sortEntries, treeHash, type TreeEntry, type TreeMode } from './hash.js';

export interface WalkOptions {
  /** Top-level or nested names to skip entirely (default: `.git`). */
  ignoreNames?: string[];
  /** Relative paths (exact, or prefixes ending in `/`) to skip. */
  ignorePaths?: string[];
  /** Files hashed at once. */
  concurrency?: number;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

interface Found {
  path: string;
  abs: string;
  kind: 'file' | 'exec' | 'symlink';
}

async function list(root: string, rel: string, opts: Required<Pick<WalkOptions, 'ignoreNames' | 'ignorePaths'>>, out: Found[]) {
  const dir = rel ? join(root, rel) : root;
  const names = await readdir(dir);
  for (const name of names) {
    if (opts.ignoreNames.includes(name)) continue;
    const r = rel ? `${rel}/${name}` : name;
    if (opts.ignorePaths.some((p) => (p.endsWith('/') ? r.startsWith(p) || `${r}/` === p : r === p))) continue;
    const abs = join(root, r);
    const st = await lstat(abs);
    if (st.isDirectory()) await list(root, r, opts, out);
    else if (st.isSymbolicLink()) out.push({ path: r, abs, kind: 'symlink' });
    else if (st.isFile()) out.push({ path: r, abs, kind: st.mode & 0o100 ? 'exec' : 'file' });
    else
      throw new XenrelError('E_UNSUPPORTED_FILE', `${abs}: not a regular file, directory or symlink`, {
        exitCode: ExitCode.checkFailed,
        hint: 'remove sockets, FIFOs and device files from the tree',
      });
  }
}

/** Every file and symlink under `root`, with its tree-hash entry, in bytewise order. */
export async function walkTree(root: string, options: WalkOptions = {}): Promise<TreeEntry[]> {
  const found: Found[] = [];
  await list(root, '', { ignoreNames: options.ignoreNames ?? ['.git'], ignorePaths: options.ignorePaths ?? [] }, found);
  const limit = pLimit(options.concurrency ?? 8);
  const entries = await Promise.all(
    found.map((f) =>
      limit(async (): Promise<TreeEntry> => {
        if (f.kind === 'symlink') {
          const target = await readlink(f.abs);
          return { path: f.path, mode: '120000', sha256: createHash('sha256').update(target, 'utf8').digest('hex') };
        }
        const mode: TreeMode = f.kind === 'exec' ? '100755' : '100644';
        return { path: f.path, mode, sha256: await sha256File(f.abs) };
      }),
    ),
  );
  return sortEntries(entries);
}

export async function hashDir(root: string, options: WalkOptions = {}): Promise<{ hash: string; entries: TreeEntry[] }> {
  const entries = await walkTree(root, options);
  return { hash: treeHash(entries), entries };
}
