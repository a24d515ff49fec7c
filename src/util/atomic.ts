import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { wrapFsError } from '../errors.js';

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

/** temp (O_EXCL) → write → fsync → rename → fsync dir. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempName(target);
  let fh;
  try {
    fh = await open(tmp, 'wx', mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
    await fsyncDir(dirname(target));
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw wrapFsError(err, `writing ${target}`);
  }
}
