import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from '../util/atomic.js';

/**
 * Replacing a folder or file "old or new, never half": the new content is built under a
 * staging name beside the target, then swapped in: a file by one rename over it, a folder by
 * two renames (a folder cannot be renamed over a non-empty one). Between them a crash
 * leaves the old content under `.<name>.xenrel-old-*`; `recoverSiblings` puts it back (or
 * drops it once the new content is in place) on the next run.
 */
const STAGE_TAG = '.xenrel-tmp-';
const OLD_TAG = '.xenrel-old-';

const suffix = () => `${process.pid}-${randomBytes(4).toString('hex')}`;

export function stagingPath(target: string): string {
  return join(dirname(target), `.${basename(target)}${STAGE_TAG}${suffix()}`);
}

export async function exists(p: string): Promise<boolean> {
  return Boolean(await lstat(p).catch(() => undefined));
}

/** Put `staged` at `target`, replacing whatever is there. */
export async function swapInto(staged: string, target: string): Promise<void> {
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const now = await lstat(target).catch(() => undefined);
  // A file over a file (or link): one rename replaces it, so there is never a moment without either.
  if (now && !now.isDirectory() && !(await lstat(staged)).isDirectory()) {
    await rename(staged, target);
    await fsyncDir(parent);
  } else if (now) {
    const old = join(parent, `.${basename(target)}${OLD_TAG}${suffix()}`);
    await rename(target, old);
    await rename(staged, target);
    await fsyncDir(parent);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(staged, target);
    await fsyncDir(parent);
  }
}

/** Remove `target` atomically from make's point of view (rename away, then delete). */
export async function removeAtomically(target: string): Promise<boolean> {
  if (!(await exists(target))) return false;
  const old = join(dirname(target), `.${basename(target)}${OLD_TAG}${suffix()}`);
  await rename(target, old);
  await rm(old, { recursive: true, force: true });
  return true;
}

/**
 * Clean up after an interrupted run, for the targets named `names` in `parent`:
 * staging leftovers are deleted; an old copy whose target is missing is put back.
 */
export async function recoverSiblings(parent: string, names?: Set<string>): Promise<void> {
  const list = await readdir(parent).catch(() => [] as string[]);
  for (const entry of list) {
    if (!entry.startsWith('.')) continue;
    for (const tag of [STAGE_TAG, OLD_TAG]) {
      const at = entry.indexOf(tag);
      if (at < 0) continue;
      const name = entry.slice(1, at);
      if (names && !names.has(name)) continue;
      const abs = join(parent, entry);
      if (tag === OLD_TAG && !(await exists(join(parent, name)))) await rename(abs, join(parent, name));
      else await rm(abs, { recursive: true, force: true });
    }
  }
}
