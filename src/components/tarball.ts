import { XenrelError, ExitCode } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import { hashTarball } from '../archive/reader.js';
import type { Limits } from '../archive/policy.js';
import type { ComponentLimits } from '../model/config.js';
import type { LockedTarball } from '../model/lock.js';
import { copyContentTo, fetchTarball, hasVerifiedContent, openVerifiedContent } from '../sources/tarball.js';
import { fileNameOfUrl, versionFromFileName } from '../util/file-version.js';
import { sriDigest } from '../util/sri.js';
import type { KindOps } from './kind.js';

const ARCHIVE_NAME = /\.(tar|tgz|tbz2?|txz|tzst|tar\.(gz|bz2|xz|zst))$/i;

/** Config limits (documented names) → the archive reader's limits. */
export function archiveLimits(l: ComponentLimits | undefined): Partial<Limits> | undefined {
  if (!l) return undefined;
  return {
    ...(l.maxBytes !== undefined ? { maxTotalSize: l.maxBytes } : {}),
    ...(l.maxEntries !== undefined ? { maxEntries: l.maxEntries } : {}),
    ...(l.maxDepth !== undefined ? { maxDepth: l.maxDepth } : {}),
    ...(l.maxPathLength !== undefined ? { maxPathLength: l.maxPathLength } : {}),
    ...(l.maxRatio !== undefined ? { maxRatio: l.maxRatio } : {}),
    ...(l.portableNames !== undefined ? { portableNames: l.portableNames } : {}),
  };
}

/**
 * Tree hash of a cached tarball's content. A file whose name says it is an archive must
 * read as a safe one (an unsafe entry is an error); any other file (a prebuilt blob) that
 * does not parse simply has no tree.
 */
async function tarballTree(
  name: string,
  url: string,
  integrity: string,
  cache: Cache,
  limits: ComponentLimits | undefined,
): Promise<string | undefined> {
  const looksLikeArchive = ARCHIVE_NAME.test(new URL(url).pathname);
  try {
    const { hash } = await hashTarball(openVerifiedContent(cache, integrity), {
      name: `${name} (${url})`,
      limits: archiveLimits(limits),
    });
    return hash;
  } catch (err) {
    if (!looksLikeArchive && err instanceof XenrelError && err.code.startsWith('E_TAR_')) return undefined;
    throw err;
  }
}

/** A downloaded file (usually a tarball), locked to the integrity and size of its bytes. */
export const tarball: KindOps<LockedTarball> = {
  kind: 'tarball',
  pinOf: (spec) => spec.url!,
  lockedPin: (c) => c.integrity,
  downloadSize: (c) => c.size,
  describe(c) {
    const version = versionFromFileName(fileNameOfUrl(c.url));
    return {
      kind: 'tarball',
      origin: c.url,
      url: c.url,
      ...(version ? { version } : {}),
      digest: sriDigest(c.integrity),
      integrity: c.integrity,
      size: c.size,
      path: c.path,
    };
  },

  async lock(name, spec, ctx) {
    const url = spec.url!;
    const got = await fetchTarball({
      name,
      url,
      mirrors: ctx.mirrors,
      expected: spec.integrity ? { integrity: spec.integrity } : undefined,
      cache: ctx.cache,
      progress: ctx.progress,
      // Plain http is still refused for any non-loopback host without a pinned integrity.
      allowHttp: true,
    });
    const entry: LockedTarball = {
      url,
      integrity: got.integrity,
      size: got.size,
      path: spec.path,
      ...(spec.license ? { license: spec.license } : {}),
    };
    const tree = await tarballTree(name, url, got.integrity, ctx.cache, spec.limits);
    if (tree) entry.tree = tree;
    return entry;
  },

  async drift(name, c, ctx) {
    if (ctx.offline) return undefined;
    const got = await fetchTarball({
      name,
      url: c.url,
      mirrors: [],
      cache: ctx.cache,
      sourcesMode: 'url-only',
      useCache: false,
      progress: ctx.progress,
      allowHttp: true,
    });
    if (got.integrity === c.integrity) return undefined;
    return {
      fields: [
        { field: 'integrity', old: c.integrity, new: got.integrity },
        ...(got.size !== c.size ? [{ field: 'size', old: c.size, new: got.size }] : []),
      ],
      reason: 'the upstream bytes changed',
    };
  },

  async fetch(name, c, ctx) {
    const r = await fetchTarball({
      name,
      url: c.url,
      mirrors: ctx.mirrors,
      expected: { integrity: c.integrity, size: c.size },
      cache: ctx.cache,
      offline: ctx.offline,
      ...(ctx.premirrorOnly ? { sourcesMode: 'mirrors-only' as const } : {}),
      progress: ctx.progress,
    });
    return { status: r.cached ? 'cached' : 'fetched', source: r.source, line: `fetched from ${r.source}` };
  },

  inCache: (c, cache) => hasVerifiedContent(cache, c.integrity),

  async placeTree(name) {
    throw new XenrelError('E_LOCK', `component ${name}: a tarball cannot be placed as a folder`, {
      exitCode: ExitCode.usage,
    });
  },

  placeFile: (_name, c, cache, destFile) => copyContentTo(cache, c.integrity, destFile),
};
