import { createReadStream } from 'node:fs';
import { XenrelError, ExitCode } from '../errors.js';
import { readTar } from '../archive/reader.js';
import { decompress } from '../archive/decompress.js';
import { resolveLimits } from '../archive/policy.js';
import { parseReleaseInfo, RELEASE_INFO, type ReleaseInfo } from '../layout/release-info.js';
import { LOCK_COPY } from '../layout/xenrel-dir.js';
import { parseLockText } from '../lock/lockfile.js';
import type { Lockfile } from '../model/lock.js';
import { firstTarEntry } from './tar-diff.js';

/** What a release tarball says about how it was cut: enough to cut it again. */
export interface TarballInputs {
  info: ReleaseInfo;
  lock: Lockfile;
  /** The mtime of its first entry (every entry of a release has the same one). */
  mtime: number;
  /** Locked components the release left out (absent from release.json). */
  without: string[];
}

const missing = (tarball: string, what: string) =>
  new XenrelError(
    'E_REPRODUCE_INPUT',
    `${tarball} has no ${what}: it is not a release xenrel cut, so there is nothing to reproduce it from`,
    {
      exitCode: ExitCode.usage,
    },
  );

/** Reads release.json and the lock out of a release tarball (through the safe reader, which refuses a hostile archive). */
export async function readTarballInputs(tarball: string): Promise<TarballInputs> {
  const texts = new Map<string, string>();
  await readTar(tarball, {
    onEntry: (e) => {
      const rel = e.path.split('/').slice(1).join('/');
      if (e.type !== 'file' || (rel !== RELEASE_INFO && rel !== LOCK_COPY)) return;
      const chunks: Buffer[] = [];
      return {
        write: (c) => void chunks.push(Buffer.from(c)),
        end: () => void texts.set(rel, Buffer.concat(chunks).toString('utf8')),
      };
    },
  });
  const infoText = texts.get(RELEASE_INFO);
  const lockText = texts.get(LOCK_COPY);
  if (infoText === undefined) throw missing(tarball, RELEASE_INFO);
  if (lockText === undefined) throw missing(tarball, LOCK_COPY);
  const parsed = parseReleaseInfo(infoText, `${tarball}:${RELEASE_INFO}`);
  if (!parsed.info)
    throw new XenrelError('E_REPRODUCE_INPUT', parsed.problem ?? `${tarball}:${RELEASE_INFO} is not valid`, {
      exitCode: ExitCode.usage,
    });
  const lock = parseLockText(lockText, `${tarball}:${LOCK_COPY}`);
  const stream = createReadStream(tarball, { highWaterMark: 1 << 20 });
  let first: { mtime: number };
  try {
    first = await firstTarEntry((await decompress(stream, resolveLimits())).chunks, tarball);
  } finally {
    stream.destroy();
  }
  const without = Object.keys(lock.components)
    .filter((n) => !(n in parsed.info!.components))
    .sort();
  return { info: parsed.info, lock, mtime: first.mtime, without };
}
