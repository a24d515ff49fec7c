import type { Cache } from '../content-cache/cache.js';
import type { ComponentSpec } from '../model/config.js';
import type { ComponentKind } from '../model/kind.js';
import type { LockedComponent } from '../model/lock.js';
import type { TreeEntry } from '../tree/hash.js';
import type { FieldChange, ProgressSink } from '../types.js';

/** What resolving, checking and fetching a component need from the stage that calls them. */
export interface SourceContext {
  cache: Cache;
  /** The config's folder: `local:` paths are relative to it. Absent when only a lock is at hand. */
  configRoot?: string;
  /** Mirrors to try before upstream: the component's own, then the config's. */
  mirrors: string[];
  progress?: ProgressSink;
  /** Never the network: fail naming what is missing (fetch), or see only what needs none (check). */
  offline?: boolean;
  /** Only the mirrors, never an upstream URL (`--premirror-only`). */
  premirrorOnly?: boolean;
}

/** A component's own content brought into the cache (or, for a local input, checked). */
export interface Fetched {
  status: 'cached' | 'fetched' | 'verified';
  /** Where the bytes came from. */
  source?: string;
  /** The progress line for the component when something was downloaded or checked. */
  line: string;
}

/** The locked pin no longer answers upstream (or the local input changed): which fields, and why. */
export interface Drift {
  fields: FieldChange[];
  reason: string;
}

/** What a digest is of, spelled as in-toto's DigestSet keys: an SRI algorithm, a git commit, a tree hash. */
export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512' | 'gitCommit' | 'xenrelTree';

/**
 * A lock entry as the stages that report on it read it (SBOM, provenance, exports, mirror,
 * bump, diff): one shape for every kind, so they need not branch to find these fields.
 * Optional fields are absent, never undefined-valued, where the kind has none.
 */
export interface ComponentDescription {
  kind: ComponentKind;
  /** Where it comes from, as the config writes it: the git URL, the tarball URL, the local path. */
  origin: string;
  /** What a download asks for (the git or tarball URL); none for a local input. */
  url?: string;
  /** The version as the stages print it: the git ref, or the version in a tarball's file name. */
  version?: string;
  /** Its own content (before patches): the commit, the integrity of the bytes, or a local folder's tree hash. */
  digest?: { algorithm: DigestAlgorithm; hex: string };
  /** The git commit. */
  commit?: string;
  /** The SRI integrity of the bytes (a tarball, a local file). */
  integrity?: string;
  /** The bytes a download takes (a tarball). */
  size?: number;
  /** Where Xen's make expects it, relative to the tree root. */
  path: string;
}

/**
 * Everything a stage does differently per kind of component: one implementation per kind
 * (./git.ts, ./tarball.ts, ./local.ts), picked by ./dispatch.ts. Only the component's own
 * content: nested sources, patches and signatures are the same for every kind and stay with
 * the stages.
 */
export interface KindOps<L extends LockedComponent = LockedComponent> {
  readonly kind: ComponentKind;
  /** The pin as the config writes it: a ref, a URL, a path. */
  pinOf(spec: ComponentSpec): string;
  /** What the lock resolved the pin to: a commit, an integrity, a tree hash. */
  lockedPin(c: L): string | undefined;
  /** The bytes a download of it takes, when the lock records them (a tarball); else none. */
  downloadSize(c: L): number | undefined;
  /** Its origin, version and digest, in the shape every kind shares. */
  describe(c: L): ComponentDescription;
  /** config → the entry for its own content (`lock`). */
  lock(name: string, spec: ComponentSpec, ctx: SourceContext): Promise<L>;
  /** `lock --check` of an entry whose pin still matches the config: did upstream move under it? */
  drift(name: string, c: L, ctx: SourceContext): Promise<Drift | undefined>;
  /** lock → cache, verified (`fetch`). */
  fetch(name: string, c: L, ctx: SourceContext): Promise<Fetched>;
  /** Whether the cache holds it; null when there is nothing to cache (a local input). */
  inCache(c: L, cache: Cache): Promise<boolean | null>;
  /**
   * Writes its own content into `dest` (new or empty) from the cache, never the network;
   * with `check`, refuses content whose tree hash is not the lock's `tree`.
   */
  placeTree(name: string, c: L, cache: Cache, dest: string, configRoot: string, check?: boolean): Promise<TreeEntry[]>;
  /** Writes the file to `destFile` from the cache or the local input, checked against the lock's integrity. */
  placeFile(name: string, c: L, cache: Cache, destFile: string, configRoot: string): Promise<void>;
}
