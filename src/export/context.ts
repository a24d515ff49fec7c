import { isFullCommit } from '../util/patterns.js';
import { XenrelError, ExitCode } from '../errors.js';
import type { Cache } from '../content-cache/cache.js';
import { compareBytewise } from '../tree/hash.js';
import { fileNameOfUrl } from '../util/file-version.js';
import { isLockedGit, isLockedLocal } from '../model/kind.js';
import type { LoadedConfig } from '../config/load.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { exportComponentFile, type ExportedFile } from './sources.js';

export interface ExportContext {
  lock: Lockfile;
  loaded: LoadedConfig;
  cache: Cache;
  /** The release version (`release.version` or `git describe`). */
  version?: string;
  /** Seconds: SOURCE_DATE_EPOCH, else the project's HEAD commit time. */
  epoch: number;
  without?: string[];
  warn?: (message: string) => void;
}

export const exportError = (message: string, hint?: string) =>
  new XenrelError('E_EXPORT', message, { exitCode: ExitCode.usage, hint });

/** The components to export, bytewise name order. */
export function exportedComponents(ctx: ExportContext): [string, LockedComponent][] {
  const without = new Set(ctx.without ?? []);
  return Object.entries(ctx.lock.components)
    .filter(([n]) => !without.has(n))
    .sort(([a], [b]) => compareBytewise(a, b));
}

/** A file-name-safe version for a git component: its ref, or the short commit for a bare id. */
export function gitFileVersion(c: { ref: string; commit: string }): string {
  if (isFullCommit(c.ref)) return c.commit.slice(0, 12);
  return c.ref.replace(/^refs\/(tags|heads)\//, '').replace(/[^A-Za-z0-9._+-]+/g, '-');
}

/**
 * The files Fedora and Buildroot list: upstream tarballs under their own names, git
 * components and local folders as `<name>-<version>.tar.gz` made by xenrel. Local files are
 * skipped (a prebuilt input is not a source). Two components with one file name: an error.
 */
export async function exportFiles(ctx: ExportContext, outDir: string): Promise<ExportedFile[]> {
  const files: ExportedFile[] = [];
  const seen = new Map<string, string>();
  for (const [name, c] of exportedComponents(ctx)) {
    let fileName: string;
    let topDir: string;
    if (isLockedGit(c)) {
      topDir = `${name}-${gitFileVersion(c)}`;
      fileName = `${topDir}.tar.gz`;
    } else if (isLockedLocal(c)) {
      if (!c.tree) {
        ctx.warn?.(`${name}: a prebuilt local file (${c.local}) is not a source; not exported`);
        continue;
      }
      topDir = name;
      fileName = `${name}.tar.gz`;
    } else {
      fileName = fileNameOfUrl(c.url);
      topDir = '';
    }
    if (seen.has(fileName))
      throw exportError(
        `components ${seen.get(fileName)} and ${name} would both be exported as ${fileName}`,
        'rename one of them in the config',
      );
    seen.set(fileName, name);
    const f = await exportComponentFile(name, c, {
      cache: ctx.cache,
      configRoot: ctx.loaded.root,
      outDir,
      fileName,
      topDir,
      epoch: ctx.epoch,
    });
    if (f) files.push(f);
  }
  return files;
}
