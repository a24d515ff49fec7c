import type { TreeEntry } from '../tree/hash.js';
import type { Finding, Limits } from '../archive/policy.js';
import type { Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import type { ReleaseRecord } from '../layout/release-record.js';
import type { GeneratedReport } from './owned.js';

/** What `xenrel verify` is given and what it answers. */

export interface ComponentExpectation {
  /** Where the component lies, relative to the top directory: a folder, or a file for `integrity`. */
  prefix: string;
  /** Expected tree hash of the folder's content (paths relative to `prefix`). */
  tree?: string;
  /** Expected SRI of the file at `prefix`. */
  integrity?: string;
  /** Expected per-file lines, for a by-path report; trusted only if they hash to `tree`. */
  entries?: TreeEntry[];
  /** Left out on purpose (`vendor --without`): absence is fine. */
  without?: boolean;
  /**
   * Where Xen's make reads the folder (the lock's `path`), in a tree where vendor placed a
   * copy: that copy must hold the same files (the build may add others).
   */
  placedAt?: string;
}

export interface VerifyExpectations {
  components: Record<string, ComponentExpectation>;
  /** Whole-content tree hash (release.json `tree`). */
  tree?: string;
}

export type ComponentStatus = 'ok' | 'modified' | 'missing' | 'without' | 'unverified';

export interface ComponentReport {
  name: string;
  prefix: string;
  status: ComponentStatus;
  expected?: string;
  actual?: string;
  missing: string[];
  extra: string[];
  modified: string[];
  /** Why no per-file detail is given for a modified component. */
  note?: string;
}

export interface VerifyResult {
  ok: boolean;
  target: string;
  kind: 'tarball' | 'dir';
  topDir?: string;
  /** Where the expectations came from. */
  expectations: 'given' | 'release.json' | 'lock' | 'none';
  tree: { actual: string; expected?: string; ok: boolean | null };
  components: ComponentReport[];
  /** Unsafe or invalid entries (exit 1 when any). */
  unsafe: Finding[];
  /** Other problems: several top directories, unreadable embedded metadata. */
  problems: string[];
  files: number;
  /** What vouched for what (see src/verify/owned.ts); only for tarballs checked against an outside anchor. */
  anchors?: { lock: 'given' | 'record' | 'embedded'; project: ProjectAnchor };
  /** xenrel's own files, regenerated from the lock and compared (with an outside anchor). */
  generated?: GeneratedReport[];
  /** The project's own files against the release record or upstream. */
  project?: ProjectReport;
  /** A tree: absolute symlinks into the tree itself, as Xen's build makes them (not unsafe). */
  buildProducts?: string[];
}

export type ProjectAnchor = 'record' | 'upstream' | 'none';

export interface ProjectReport {
  tree: string;
  files: number;
  /** The commit the record names, else the one release.json claims (a pointer, not a proof). */
  commit?: string;
  /** true when every anchor below agrees; null when none was given. */
  ok: boolean | null;
  against: ProjectCheck[];
}

export interface ProjectCheck {
  anchor: Exclude<ProjectAnchor, 'none'>;
  /** The record file, or `URL @ commit`. */
  source: string;
  expected: string;
  ok: boolean;
  missing: string[];
  extra: string[];
  modified: string[];
}

/** The project's entries of a result, for a later comparison with upstream (kept out of --json). */
export const projectEntriesOf = new WeakMap<VerifyResult, TreeEntry[]>();
export const resultProjectEntries = (r: VerifyResult): TreeEntry[] | undefined => projectEntriesOf.get(r);

export interface VerifyOptions {
  expect?: VerifyExpectations;
  /**
   * A lock obtained independently: components are checked against it, and every file
   * xenrel generated is regenerated from it and compared (tarballs).
   */
  lock?: Lockfile;
  /** The release record published beside the tarball: anchors the project's files, the lock and the SBOM. */
  record?: ReleaseRecord;
  /** Components left out on purpose (the record's list wins). */
  without?: string[];
  /** sha256 (hex) of the tarball file, to find it in the record. */
  tarballSha256?: string;
  /** The top directory the tarball must have (e.g. `xen-4.22.0`). */
  expectedTopDir?: string;
  limits?: Partial<Limits>;
  /** Bytes read, as one item named `progressLabel` (default: the file name). */
  progress?: ProgressSink;
  progressLabel?: string;
}
