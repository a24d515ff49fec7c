import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenrelError, ExitCode } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import { entriesFromDir } from '../archive/entries.js';
import { writeArchive } from '../archive/write-archive.js';
import { buildComponentTree, hasNested } from '../nested/build.js';
import { runGit } from '../sources/git/run.js';
import { ensureCommit } from '../sources/git/mirror.js';
import { exportTree } from '../sources/git/tree.js';
import { checkCachedContent, copyContentTo } from '../sources/tarball.js';
import { treeHash } from '../tree/hash.js';
import { describeComponent } from '../components/dispatch.js';
import { isLockedGit, isLockedLocal, isLockedTarball } from '../model/kind.js';
import type { LockedComponent } from '../model/lock.js';

/**
 * The files a distribution's packaging refers to, one per component:
 *   tarball    the upstream file itself, byte for byte (verified from the cache);
 *   git        a deterministic `.tar.gz` xenrel makes of the commit's content, nested
 *              sources (submodules, wraps) included and `patches:` NOT applied (those are
 *              the packager's to carry), mtime = the commit's committer time;
 *   local dir  a deterministic `.tar.gz` of the directory (mtime = the given epoch);
 *   local file not exported (a prebuilt input is not a source).
 */

export interface ExportedFile {
  component: string;
  /** File name in the output folder. */
  file: string;
  sha256: string;
  sha512: string;
  size: number;
  /** Where it came from: the tarball URL or the git URL. */
  url?: string;
  commit?: string;
  /** Tag/branch or the version from the tarball name. */
  version?: string;
}

const TAR_EXT = /\.(tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz)$/i;

/** `.tar.gz` → gz etc.; what Debian accepts for an orig tarball. */
export function tarballCompression(name: string): 'gz' | 'bz2' | 'xz' | undefined {
  const m = TAR_EXT.exec(name)?.[1]?.toLowerCase();
  if (!m) return undefined;
  return m === 'tar.gz' || m === 'tgz' ? 'gz' : m === 'tar.xz' || m === 'txz' ? 'xz' : 'bz2';
}

async function commitTime(mirrorDir: string, commit: string): Promise<number> {
  const r = await runGit(['log', '-1', '--format=%ct', commit], { gitDir: mirrorDir });
  return Number(r.stdout.toString('utf8').trim()) || 315532800;
}

async function hashes(
  cache: Cache,
  integrity: string,
  name: string,
): Promise<{ sha256: string; sha512: string; size: number }> {
  const got = await checkCachedContent(cache, integrity);
  if (got.status !== 'ok')
    throw new XenrelError(
      'E_NOT_CACHED',
      `component ${name}: its bytes (${integrity}) are ${got.status === 'corrupt' ? 'corrupt' : 'not'} in the cache`,
      {
        exitCode: ExitCode.fetch,
        hint: `run \`xenrel fetch ${name}\` first`,
      },
    );
  return {
    sha256: got.sha256!,
    sha512: Buffer.from(got.integrity!.slice('sha512-'.length), 'base64').toString('hex'),
    size: got.size!,
  };
}

/** sha256/sha512 of a tarball component from the cache, without writing anything. */
export const tarballHashes = hashes;

/**
 * Writes `c`'s file into `outDir` as `fileName` (the caller picks names; for tarballs
 * compression must match) and returns what was written. Never uses the network.
 */
export async function exportComponentFile(
  name: string,
  c: LockedComponent,
  o: { cache: Cache; configRoot: string; outDir: string; fileName: string; topDir: string; epoch: number },
): Promise<ExportedFile | undefined> {
  const out = join(o.outDir, o.fileName);
  // A tarball is exported as its own bytes; the rest as an archive made of the placed tree.
  if (isLockedTarball(c)) {
    const h = await hashes(o.cache, c.integrity, name);
    await copyContentTo(o.cache, c.integrity, out);
    return { component: name, file: o.fileName, ...h, url: c.url };
  }
  if (isLockedLocal(c) && !c.tree) return undefined;
  const stage = await mkdtemp(join(tmpdir(), 'xenrel-export-'));
  try {
    const dir = join(stage, 'tree');
    let mtime = o.epoch;
    if (isLockedGit(c)) {
      const { mirrorDir } = await ensureCommit(c.git, c.commit, o.cache, { offline: true, label: name });
      mtime = await commitTime(mirrorDir, c.commit);
      if (hasNested(c))
        await buildComponentTree(
          name,
          { ...c, patches: undefined, vendoredTree: undefined },
          o.cache,
          dir,
          o.configRoot,
        );
      else {
        const entries = await exportTree(mirrorDir, c.commit, dir);
        if (treeHash(entries) !== c.tree)
          throw new XenrelError(
            'E_TREE_MISMATCH',
            `component ${name}: commit ${c.commit} does not have the locked tree hash`,
            {
              exitCode: ExitCode.fetch,
              hint: `run \`xenrel fetch ${name}\``,
            },
          );
      }
    } else
      await buildComponentTree(name, { ...c, patches: undefined, vendoredTree: undefined }, o.cache, dir, o.configRoot);
    const w = await writeArchive(await entriesFromDir(dir, { ignoreNames: [] }), {
      out,
      format: 'gz',
      topDir: o.topDir,
      mtime,
    });
    const sha512 = await sha512File(out);
    const d = describeComponent(c);
    return {
      component: name,
      file: o.fileName,
      sha256: w.sha256,
      sha512,
      size: w.size,
      // What the upstream is, for a git component; a local folder has none.
      ...(d.commit ? { url: d.url, commit: d.commit, version: d.version } : {}),
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function sha512File(file: string): Promise<string> {
  const h = createHash('sha512');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
