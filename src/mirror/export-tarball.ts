import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { wrapFsError } from '../errors.js';
import { copyContentTo } from '../sources/tarball.js';
import { fsyncDir, tempName } from '../util/atomic.js';
import { byHashPath, tarballFileName } from '../layout/mirror.js';
import type { MirrorIndex, MirrorIndexTarball } from './mirror-index.js';
import type { TarballWant } from './wants.js';

/** Tarballs in the mirror: always by hash, and under their file name when no other URL holds that name. */

async function sha512Hex(file: string): Promise<string> {
  const h = createHash('sha512');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const hexOf = (integrity: string) => byHashPath(integrity).split('/').pop()!;

async function fileMatches(file: string, integrity: string, size: number): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile() || st.size !== size) return false;
  return (await sha512Hex(file)) === hexOf(integrity);
}

export async function exportTarball(
  cache: Cache,
  dir: string,
  t: TarballWant,
  index: MirrorIndex,
  changed: string[],
  warn: (m: string) => void,
): Promise<MirrorIndexTarball> {
  const byHash = byHashPath(t.integrity);
  const hashFile = join(dir, byHash);
  if (!(await fileMatches(hashFile, t.integrity, t.size))) {
    await copyContentTo(cache, t.integrity, hashFile);
    changed.push(byHash);
  }
  const entry: MirrorIndexTarball = { byHash, integrity: t.integrity, size: t.size };
  const name = tarballFileName(t.url);
  if (!name) {
    warn(`${t.who}: ${t.url} has no usable file name; published only as ${byHash}`);
    return entry;
  }
  // Another URL published a file under this name: keep it, this one is by hash only.
  const owner = Object.entries(index.tarballs).find(([u, list]) => u !== t.url && list.some((e) => e.file === name));
  if (owner) {
    warn(`${t.who}: ${name} in the mirror already holds ${owner[0]}; ${t.url} is published only as ${byHash}`);
    return entry;
  }
  const named = join(dir, name);
  if (!(await fileMatches(named, t.integrity, t.size))) {
    const previous = (index.tarballs[t.url] ?? []).find((e) => e.file === name);
    if (previous)
      warn(
        `${t.who}: ${name} changed upstream (was ${previous.integrity.slice(0, 20)}…); the old bytes stay at ${previous.byHash}`,
      );
    for (const e of index.tarballs[t.url] ?? []) if (e.file === name) delete e.file;
    await publishByLink(hashFile, named);
    changed.push(name);
  }
  entry.file = name;
  return entry;
}

/** The named file as a hard link to the by-hash copy (a copy where links are refused), atomically. */
async function publishByLink(from: string, to: string): Promise<void> {
  const tmp = tempName(to);
  try {
    await link(from, tmp).catch(async () => {
      const { copyFile } = await import('node:fs/promises');
      await copyFile(from, tmp);
    });
    await rename(tmp, to);
    await fsyncDir(dirname(to));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw wrapFsError(err, `writing ${to}`);
  }
}
