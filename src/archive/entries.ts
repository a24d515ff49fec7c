import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { XenrelError, ExitCode } from '../errors.js';

/**
 * What the writer packs. Paths are relative to the archive's top directory, `/`-separated.
 * A release mixes sources: a directory walk, a git tree (entries whose content comes from
 * `git cat-file`), and buffers (`xenrel.lock`, `release.json`). Directories are implicit
 * (every parent of an entry is written); a `dir` entry adds an empty directory.
 */
export type EntrySource = DirSource | FileSource | SymlinkSource;

export interface DirSource {
  kind: 'dir';
  path: string;
}

export interface SymlinkSource {
  kind: 'symlink';
  path: string;
  target: string;
}

export interface FileSource {
  kind: 'file';
  path: string;
  executable: boolean;
  /** Declared size; the writer fails if the content has another length (file changed meanwhile). */
  size: number;
  content: FileContent;
}

export type FileContent =
  | { type: 'path'; abs: string }
  | { type: 'buffer'; data: Uint8Array }
  /** Opened when the writer reaches the entry (a git blob, a file inside another archive). */
  | { type: 'reader'; open: () => AsyncIterable<Uint8Array> | Readable };

export const bufferEntry = (path: string, data: string | Uint8Array, executable = false): FileSource => {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { kind: 'file', path, executable, size: bytes.length, content: { type: 'buffer', data: bytes } };
};

export interface DirWalkOptions {
  /** Prepended to every relative path (e.g. `.xenrel/sources/seabios`). */
  prefix?: string;
  /** Names skipped wherever they occur (default `.git`). */
  ignoreNames?: string[];
  /** Relative paths (before `prefix`) skipped with everything below them. */
  skip?: (rel: string) => boolean;
}

/**
 * Every file, symlink and empty directory under `root`, with lstat metadata (exec bit from
 * the owner's x bit only; mtimes, owners and other mode bits are not looked at).
 */
export async function entriesFromDir(root: string, opts: DirWalkOptions = {}): Promise<EntrySource[]> {
  const ignore = new Set(opts.ignoreNames ?? ['.git']);
  const prefix = opts.prefix ? opts.prefix.replace(/\/+$/, '') : '';
  const out: EntrySource[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(rel ? join(root, rel) : root);
    if (names.length === 0 && rel) out.push({ kind: 'dir', path: withPrefix(prefix, rel) });
    const kept = names.filter((n) => !ignore.has(n) && !opts.skip?.(rel ? `${rel}/${n}` : n));
    // lstat a directory's entries at once (thread pool), then walk them in order.
    const stats = await Promise.all(kept.map((n) => lstat(join(root, rel ? `${rel}/${n}` : n))));
    for (let i = 0; i < kept.length; i++) {
      const name = kept[i]!;
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(root, r);
      const st = stats[i]!;
      const path = withPrefix(prefix, r);
      if (st.isDirectory()) await walk(r);
      else if (st.isSymbolicLink()) out.push({ kind: 'symlink', path, target: await readlink(abs) });
      else if (st.isFile())
        out.push({
          kind: 'file',
          path,
          executable: (st.mode & 0o100) !== 0,
          size: st.size,
          content: { type: 'path', abs },
        });
      else
        throw new XenrelError('E_UNSUPPORTED_FILE', `${abs}: not a regular file, directory or symlink`, {
          exitCode: ExitCode.checkFailed,
          hint: 'remove sockets, FIFOs and device files from the tree before packing it',
        });
    }
  };
  await walk('');
  return out;
}

const withPrefix = (prefix: string, rel: string) => (prefix ? `${prefix}/${rel}` : rel);
