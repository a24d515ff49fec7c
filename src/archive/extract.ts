import { constants } from 'node:fs';
import {
  copyFile,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rm,
  symlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { XenrelError, ExitCode, wrapFsError } from '../errors.js';
import { fileEntry, symlinkEntry, treeHash, sortEntries, type TreeEntry } from '../tree/hash.js';
import { readTar, type ReadTarOptions, type TarEntry } from './reader.js';
import { FatalFinding } from './decompress.js';
import { finding, findingError } from './policy.js';
import { fsPath, nameFromBytes, nameToBytes, showName } from '../tree/name-bytes.js';

/** Linux PATH_MAX, the terminating NUL included: a longer absolute path cannot be created. */
const PATH_MAX = 4096;

/**
 * Extraction for vendor: xenrel's own policy (reader.ts) judges each entry BEFORE anything
 * is written; files are written by xenrel itself (O_EXCL|O_NOFOLLOW, modes 0644/0755, never
 * chown), hard links become copies of earlier files, symlinks are created last — after the
 * whole archive was read and every link target resolved inside the tree — and the result
 * is audited with lstat/realpath. On any failure the destination is removed: no
 * half-extracted tree is left for a later step to accept.
 */

export interface SafeExtractOptions extends Pick<ReadTarOptions, 'limits' | 'name' | 'topDirRule'> {}

export interface ExtractResult {
  entries: TreeEntry[];
  hash: string;
  topDirs: string[];
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** `destDir` must not exist yet (it is created) — each archive gets a fresh staging folder. */
export async function safeExtract(
  file: string | AsyncIterable<Uint8Array>,
  destDir: string,
  opts: SafeExtractOptions = {},
): Promise<ExtractResult> {
  const root = resolve(destDir);
  try {
    await mkdir(root, { recursive: false, mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new XenrelError('E_EXTRACT_DEST_EXISTS', `${root} already exists; extraction needs a fresh folder`, {
        exitCode: ExitCode.usage,
      });
    throw wrapFsError(err, `creating ${root}`);
  }
  const made = new Set<string>([root]);
  const ensureDir = async (dir: string) => {
    if (made.has(dir)) return;
    await ensureDir(dirname(dir));
    await mkdir(fsPath(dir), { mode: 0o755 }).catch(async (err: NodeJS.ErrnoException) => {
      // Only a directory we created ourselves may already be there; never a link or file.
      if (err.code !== 'EEXIST' || !(await lstat(fsPath(dir))).isDirectory()) throw err;
    });
    made.add(dir);
  };
  // Checked before anything is written for the entry: never an ENAMETOOLONG halfway.
  const rootBytes = nameToBytes(root).length;
  const fits = (e: TarEntry) => {
    if (rootBytes + 1 + nameToBytes(e.path).length >= PATH_MAX)
      throw new FatalFinding(
        finding(
          'E_TAR_LIMIT',
          showName(e.path),
          `path too long to extract under ${root} (Linux holds ${PATH_MAX - 1} bytes)`,
        ),
      );
  };
  const entries: TreeEntry[] = [];
  const symlinks: TarEntry[] = [];
  const tops = new Set<string>();
  let openFile: FileHandle | undefined; // closed on failure too
  try {
    await readTar(file, {
      limits: opts.limits,
      topDirRule: opts.topDirRule,
      name: opts.name ?? (typeof file === 'string' ? file : undefined),
      onEntry: async (e) => {
        const abs = join(root, e.path);
        if (!abs.startsWith(root + sep)) throw new Error(`internal: ${e.path} outside ${root}`);
        fits(e);
        tops.add(e.path.split('/')[0]!);
        if (e.type === 'dir') return void (await ensureDir(abs));
        await ensureDir(dirname(abs));
        if (e.type === 'symlink') return void symlinks.push(e);
        if (e.type === 'hardlink') {
          await copyFile(fsPath(join(root, e.linkpath!)), fsPath(abs), constants.COPYFILE_EXCL);
          return;
        }
        const fh: FileHandle = await open(fsPath(abs), WRITE_FLAGS, e.executable ? 0o755 : 0o644);
        openFile = fh;
        return {
          write: async (c: Uint8Array) => {
            for (let off = 0; off < c.length; ) off += (await fh.write(c, off, c.length - off)).bytesWritten;
          },
          end: async () => {
            openFile = undefined;
            await fh.close();
          },
        };
      },
      onEntryDone: (e) => {
        if (e.type === 'file' || e.type === 'hardlink') entries.push(fileEntry(e.path, e.executable, e.sha256!));
      },
    });
    // readTar has resolved every link against the whole archive: now they may be created.
    for (const l of symlinks) {
      const abs = join(root, l.path);
      const parent = await lstat(fsPath(dirname(abs)));
      if (!parent.isDirectory()) throw auditError(root, l.path, 'parent is not a directory');
      await symlink(fsPath(l.linkpath!), fsPath(abs));
      entries.push(symlinkEntry(l.path, l.linkpath!));
    }
    await audit(root);
  } catch (err) {
    await openFile?.close().catch(() => {});
    await rm(root, { recursive: true, force: true }).catch(() => {});
    if (err instanceof FatalFinding)
      throw findingErrorFor(err, opts.name ?? (typeof file === 'string' ? file : undefined));
    throw wrapFsError(err, `extracting into ${root}`);
  }
  sortEntries(entries);
  return { entries, hash: treeHash(entries), topDirs: [...tops].sort() };
}

function auditError(root: string, rel: string, what: string): XenrelError {
  return new XenrelError('E_EXTRACT_AUDIT', `${join(root, rel)}: ${what} after extraction`, {
    exitCode: ExitCode.checkFailed,
    hint: 'the archive or a concurrent process tried to place something unsafe; the extraction was discarded',
  });
}

/** Every path is a directory, a regular file (no s-bits) or a symlink resolving inside `root`. */
export async function audit(root: string): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (rel: string): Promise<void> => {
    for (const raw of await readdir(fsPath(join(root, rel)), { encoding: 'buffer' })) {
      const name = nameFromBytes(raw);
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(root, r);
      const st = await lstat(fsPath(abs));
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) {
        if (st.mode & 0o7000) throw auditError(root, r, 'setuid/setgid/sticky bit');
      } else if (st.isSymbolicLink()) {
        const target = nameFromBytes(await readlink(fsPath(abs), { encoding: 'buffer' }));
        let resolved: string;
        try {
          resolved = nameFromBytes(await realpath(fsPath(abs), { encoding: 'buffer' }));
        } catch {
          // Dangling: judge the target lexically from the real parent directory.
          resolved = resolve(nameFromBytes(await realpath(fsPath(dirname(abs)), { encoding: 'buffer' })), target);
        }
        if (resolved === realRoot || !resolved.startsWith(realRoot + sep))
          throw auditError(root, r, `symlink to ${target} leaves the tree`);
      } else throw auditError(root, r, 'special file');
    }
  };
  await walk('');
}

function findingErrorFor(err: FatalFinding, name: string | undefined) {
  return findingError(err.finding, name);
}
