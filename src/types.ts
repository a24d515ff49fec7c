/**
 * The data that flows between stages: manifest (what) → lock (exactly what).
 * Kept in one file so every stage agrees on the shapes.
 */

/** One component as written in `xenrel.config.yaml`. Exactly one of git / url / local. */
export interface ComponentSpec {
  git?: string;
  /** Tag, branch or commit; required with `git`. */
  ref?: string;
  url?: string;
  /** A prebuilt file or directory, relative to the config file. */
  local?: string;
  /** Where Xen's make expects it, relative to the tree root. */
  path: string;
  license?: string;
  /** Make variables that name this component (for `init`/`bump`). */
  vars?: string[];
  /** Extra mirrors for this component, tried before the global ones. */
  mirrors?: string[];
  /** An integrity the bytes must have (`sha512-…`/`sha256-…`), for pre-pinned tarballs. */
  integrity?: string;
  /** Patch files (relative to the config) applied in order at vendor time. */
  patches?: string[];
  /** Group names (`firmware`, `stubdom`, `qemu`) for `--without`. */
  groups?: string[];
  description?: string;
  /** Archive limits for this component (hardening); unset ones keep the safe defaults. */
  limits?: { maxBytes?: number; maxEntries?: number; maxDepth?: number; maxPathLength?: number; maxRatio?: number; portableNames?: boolean };
  /** An OpenPGP public key file (relative to the config) that signs this component's tags or tarballs. */
  signingKey?: string;
  /** How Xen's configure switches it on or off (`plan`, `--without`); see config/xen.yaml. */
  configure?: ComponentConfigure;
}

/** Mirrors `configureSchema` in src/manifest/schema.ts. */
export interface ComponentConfigure {
  /** Option that enables it when it is off by default (`--enable-ovmf`). */
  enable?: string;
  /** Option that replaces it with a system copy or turns it off (`--with-system-seabios=PATH`). */
  disable?: string;
  /** Whether a default x86 configure builds (and so fetches) it. */
  default?: boolean;
  /** When it is needed, in words. */
  when?: string;
}

export interface Manifest {
  version: 1;
  name: string;
  /** Release settings: `version` names the tarball (`xen-4.22.0`), else `git describe`. */
  release?: { version?: string; prefix?: string; repository?: string };
  /** Global mirrors (tarballs): `<mirror>/<basename of url>`. */
  mirrors: string[];
  components: Record<string, ComponentSpec>;
}

/** A manifest together with where it came from. */
export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path of the config file. */
  file: string;
  /** Directory of the config file: the project (Xen tree) root. */
  root: string;
}

export interface LockedGit {
  git: string;
  ref: string;
  /** 40 hex. */
  commit: string;
  /** Tree hash of the content at `commit`, without `.git` (submodule gitlinks not included). */
  tree: string;
  path: string;
  license?: string;
  /** Nested sources (git submodules, meson wraps), keyed by their path inside the component. */
  children?: Record<string, LockedChild>;
  /** Patches applied in order at vendor time. */
  patches?: LockedPatch[];
  /** Tree hash of what vendor places: own content + children + patches. Only when it differs from `tree`. */
  vendoredTree?: string;
  /** OpenPGP fingerprint of the tag's signer (with `signingKey:`). */
  signer?: string;
}

/**
 * A nested source of a component (see src/nested/children.ts for the full shape):
 * a git submodule or a meson `[wrap-git]` (pinned by commit), or a meson `[wrap-file]`
 * (pinned by the bytes of its archive). `tree` is the child's own content.
 */
export type LockedChild = LockedChildGit | LockedChildFile;

export interface LockedChildGit {
  kind: 'submodule' | 'wrap-git';
  git: string;
  /** wrap-git: the `revision` as written (a tag or branch can move; `lock --check` resolves it again). */
  ref?: string;
  commit: string;
  tree: string;
  /** wrap: the `.wrap` file, relative to the component root. */
  wrap?: string;
  /** wrap: `subprojects/packagefiles/<patch_directory>` copied over the child (meson's `patch_directory`). */
  overlay?: string;
  /** wrap: meson `diff_files`, relative to the component root, applied with `patch -p1`. */
  diffFiles?: string[];
}

export interface LockedChildFile {
  kind: 'wrap-file';
  url: string;
  /** `sha512-…` of the archive bytes. */
  integrity: string;
  /** The wrap's `source_hash` (hex), as meson checks it. */
  sha256: string;
  size: number;
  tree: string;
  /** The wrap's `lead_directory_missing = true`: the archive's content is the folder itself. */
  leadDirectoryMissing?: true;
  wrap: string;
  overlay?: string;
  diffFiles?: string[];
}

/** One entry of `patches:`, with the integrity of the patch file. */
export interface LockedPatch {
  /** As written in the config (relative to the config's folder). */
  file: string;
  integrity: string;
}

export interface LockedTarball {
  url: string;
  /** `sha512-…` SRI of the downloaded bytes. */
  integrity: string;
  size: number;
  /** Tree hash of the unpacked content, when the file is a tar archive xenrel can read. */
  tree?: string;
  path: string;
  license?: string;
  /** OpenPGP fingerprint of the detached signature's signer (with `signingKey:`). */
  signer?: string;
}

export interface LockedLocal {
  local: string;
  /** `sha512-…` of the file, for a file. */
  integrity?: string;
  /** Tree hash, for a directory. */
  tree?: string;
  path: string;
  license?: string;
  /** Patches (a local directory only), as for git components. */
  patches?: LockedPatch[];
  vendoredTree?: string;
}

export type LockedComponent = LockedGit | LockedTarball | LockedLocal;

export interface Lockfile {
  lockfileVersion: 1;
  name: string;
  components: Record<string, LockedComponent>;
}

/** One locked field that differs between two locks, or between a lock and upstream. */
export interface FieldChange {
  field: string;
  old?: unknown;
  new?: unknown;
}

export const isLockedGit = (c: LockedComponent): c is LockedGit => 'git' in c;
export const isLockedTarball = (c: LockedComponent): c is LockedTarball => 'url' in c;
export const isLockedLocal = (c: LockedComponent): c is LockedLocal => 'local' in c;

/** The tree hash of the folder vendor places for `c` (children and patches included). */
export const placedTree = (c: LockedComponent): string | undefined => (c as { vendoredTree?: string }).vendoredTree ?? (c as { tree?: string }).tree;

/** Something that wants to hear about progress; the report layer implements it. */
export interface ProgressSink {
  /** A component started (total bytes when known). */
  start?(name: string, total?: number): void;
  /** Bytes arrived for a component. */
  advance?(name: string, bytes: number): void;
  /**
   * Absolute progress, for tools that report totals (git's `--progress`): bytes so far,
   * a total when known, else a percentage.
   */
  update?(name: string, p: { bytes?: number; total?: number; percent?: number; phase?: string; speed?: number }): void;
  /** The item ended; `status` is said in a line for people (none when empty). */
  done?(name: string, status: string): void;
  warn?(message: string): void;
  info?(message: string): void;
}
