import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLockText } from '../lock/lockfile.js';
import { LOCK_COPY } from '../layout/xenrel-dir.js';
import { readTar } from '../archive/reader.js';
import type { Lockfile } from '../model/lock.js';

/** The lock a release tarball or vendored tree carries (`.xenrel/xenrel.lock`). */
export async function readEmbeddedLock(target: string, isDir: boolean): Promise<Lockfile | undefined> {
  if (isDir) {
    const text = await readFile(join(target, LOCK_COPY), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : parseLockText(text, join(target, LOCK_COPY));
  }
  let text: string | undefined;
  await readTar(target, {
    collect: true,
    onEntry: (e) => {
      if (e.type !== 'file' || e.path.split('/').slice(1).join('/') !== LOCK_COPY) return;
      const chunks: Buffer[] = [];
      return {
        write: (c) => void chunks.push(Buffer.from(c)),
        end: () => void (text = Buffer.concat(chunks).toString('utf8')),
      };
    },
  });
  return text === undefined ? undefined : parseLockText(text, `${target}:${LOCK_COPY}`);
}
