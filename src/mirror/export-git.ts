import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { git, runGit } from '../sources/git/run.js';
import { fsyncDir, tempName } from '../util/atomic.js';
import { gitMirrorAltPath, gitMirrorPath } from '../layout/mirror.js';
import type { MirrorIndex } from './mirror-index.js';
import type { GitWant } from './wants.js';

/** Git in the mirror: one bare repository per upstream URL, served by the dumb HTTP protocol. */

/** `git/<basename>.git` unless another URL holds it (then the unambiguous name). */
export function repoPathFor(url: string, index: MirrorIndex): string {
  if (index.git[url]) return index.git[url].repo;
  const primary = gitMirrorPath(url);
  const taken = Object.entries(index.git).some(([u, g]) => u !== url && g.repo === primary);
  return taken ? gitMirrorAltPath(url) : primary;
}

async function refsOf(gitDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const r = await runGit(['for-each-ref', '--format=%(objectname) %(refname)'], { gitDir });
  for (const line of r.stdout.toString().split('\n')) {
    const [oid, ref] = line.split(' ');
    if (oid && ref) out.set(ref, oid);
  }
  return out;
}

/**
 * Publish `want.refs` of the cache's mirror into DIR/<repo>. A new repository is built
 * under a temporary name and renamed into place; an existing one gets the new objects
 * first (kept as packs, as they arrive) and the new refs, and `update-server-info` last,
 * so a client reading `info/refs` never sees a ref whose objects are not there yet.
 * Returns whether anything changed.
 */
export async function exportGit(cache: Cache, dir: string, repo: string, want: GitWant): Promise<boolean> {
  const src = cache.gitMirrorDir(want.url);
  // Resolve named refs (tags, branches) from the cache mirror; pins are given.
  const srcRefs = await refsOf(src);
  const refs = new Map<string, string>();
  for (const [ref, oid] of want.refs) {
    if (oid) refs.set(ref, oid);
    else {
      const full = ref.startsWith('refs/')
        ? ref
        : srcRefs.has(`refs/tags/${ref}`)
          ? `refs/tags/${ref}`
          : `refs/heads/${ref}`;
      if (srcRefs.has(full)) refs.set(full, srcRefs.get(full)!);
    }
  }
  const target = join(dir, repo);
  const exists = (await stat(join(target, 'objects')).catch(() => undefined))?.isDirectory() ?? false;
  const current = exists ? await refsOf(target) : new Map<string, string>();
  const todo = [...refs].filter(([ref, oid]) => current.get(ref) !== oid);
  const infoRefs = await readFile(join(target, 'info', 'refs'), 'utf8').catch(() => undefined);
  if (exists && !todo.length && infoRefs !== undefined) return false;

  const work = exists ? target : tempName(target);
  try {
    if (!exists) {
      await mkdir(dirname(target), { recursive: true });
      await git(['init', '--quiet', '--bare', work], { what: `creating ${repo}` });
      await git(['config', 'xenrel.url', want.url], { gitDir: work });
    }
    if (todo.length) {
      // unpackLimit=1 keeps what arrives as one pack: few files for HTTP clients to fetch.
      const specs = todo.map(([ref]) => `+${ref}:${ref}`);
      const byOid = todo.filter(([ref]) => !srcRefs.has(ref)).map(([ref, oid]) => `+${oid}:${ref}`);
      const named = specs.filter((_, i) => srcRefs.has(todo[i]![0]));
      if (named.length)
        await git(['-c', 'fetch.unpackLimit=1', 'fetch', '--quiet', '--no-tags', src, ...named], {
          gitDir: work,
          what: `publishing ${want.url}`,
        });
      if (byOid.length)
        await git(['-c', 'fetch.unpackLimit=1', 'fetch', '--quiet', '--no-tags', src, ...byOid], {
          gitDir: work,
          what: `publishing ${want.url}`,
        });
    }
    if (want.head && !exists) await git(['update-ref', '--no-deref', 'HEAD', want.head], { gitDir: work });
    await git(['update-server-info'], { gitDir: work });
    if (!exists) {
      await rename(work, target);
      await fsyncDir(dirname(target));
    }
  } catch (err) {
    if (!exists) await rm(work, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  return true;
}
