import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, XenrelError } from '../errors.js';
import { MIRROR_INDEX } from '../layout/mirror.js';

/** The mirror's index: what it holds, by upstream URL, and what the last run's lock named. */

export interface MirrorIndexTarball {
  /** `<basename>` in the mirror, when the name is free for this URL. */
  file?: string;
  byHash: string;
  integrity: string;
  size: number;
}

export interface MirrorIndexGit {
  /** `git/<basename>.git`. */
  repo: string;
  /** Commits published with a `refs/xenrel/pins/<commit>` ref. */
  commits: string[];
}

export interface MirrorIndexComponent {
  kind: 'git' | 'tarball';
  url: string;
  /** Path in the mirror. */
  path: string;
  commit?: string;
  integrity?: string;
  /** Nested sources (submodules, wraps) by their path inside the component. */
  children?: Record<string, { url: string; path: string; commit?: string; integrity?: string }>;
}

export interface MirrorIndex {
  mirrorVersion: 1;
  /** The components of the lock of the last run (empty for `--all`). */
  components: Record<string, MirrorIndexComponent>;
  /** Every tarball the mirror holds, by upstream URL. */
  tarballs: Record<string, MirrorIndexTarball[]>;
  /** Every git repository the mirror holds, by upstream URL. */
  git: Record<string, MirrorIndexGit>;
}

export async function readIndex(dir: string): Promise<MirrorIndex> {
  const text = await readFile(join(dir, MIRROR_INDEX), 'utf8').catch(() => undefined);
  if (text === undefined) return { mirrorVersion: 1, components: {}, tarballs: {}, git: {} };
  try {
    const j = JSON.parse(text) as MirrorIndex;
    if (j.mirrorVersion !== 1 || typeof j.tarballs !== 'object' || typeof j.git !== 'object')
      throw new Error('unknown shape');
    return { mirrorVersion: 1, components: j.components ?? {}, tarballs: j.tarballs, git: j.git };
  } catch (err) {
    throw new XenrelError(
      'E_MIRROR_INDEX',
      `${join(dir, MIRROR_INDEX)} is not a xenrel mirror index: ${(err as Error).message}`,
      {
        exitCode: ExitCode.usage,
        hint: 'point `xenrel mirror` at an empty folder or at one it wrote before',
      },
    );
  }
}
