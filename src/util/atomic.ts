import { open, rename, unlink, mkdir, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { wrapFsError } from '../errors.js';
import { removeOnInterrupt } from './interrupt-cleanup.js';

/** Temporary names never read as content; `gc` may remove stale ones. */
export function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.xenrel-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; durability is best effort there.
  } finally {
    await fh?.close();
  }
}

/** temp (O_EXCL) → write → fsync → rename → fsync dir. `data` may be a stream of chunks. */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array | AsyncIterable<Uint8Array>,
  mode = 0o644,
): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempName(target);
  const forget = removeOnInterrupt(tmp);
  let fh;
  try {
    fh = await open(tmp, 'wx', mode);
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for await (const chunk of data) await writeAll(fh, chunk);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
    await fsyncDir(dirname(target));
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw wrapFsError(err, `writing ${target}`);
  } finally {
    forget();
  }
}

/**
 * Write all of `data`: one write(2) may write fewer bytes (a nearly full disk gives a short
 * write before ENOSPC), and a silently short file would be a corrupt one.
 */
export async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress (disk full?)'), { code: 'ENOSPC' });
    off += bytesWritten;
  }
}

export function writeAllSync(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) {
    const n = writeSync(fd, data, off, data.length - off);
    if (n === 0) throw Object.assign(new Error('write made no progress (disk full?)'), { code: 'ENOSPC' });
    off += n;
  }
}
