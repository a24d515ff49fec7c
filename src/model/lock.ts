/**
 * The lock (`xenrel.lock`): its schema, and the types every stage reads it through, inferred
 * from that schema so the two cannot drift. Reading and writing the file is src/lock/lockfile.ts.
 */
import * as z from 'zod/mini';
import '../util/zod-messages.js';
import { commitId } from '../util/patterns.js';
import { integrityString, nonEmptyPlainString, sizeNumber, treeHashString, treePath, urlString } from './config.js';

const common = {
  /** Where Xen's make expects it, relative to the tree root. */
  path: treePath,
  license: z.optional(z.string()),
};
/** Primary-key fingerprint of the OpenPGP signer (components with `signingKey:`). */
const signer = z.optional(
  z
    .string()
    .check(z.regex(/^[0-9A-F]{40}([0-9A-F]{24})?$/, 'expected an OpenPGP fingerprint (40 or 64 upper-case hex)')),
);

/*
 * Nested sources and patches (see src/nested/): a component may carry
 *   children: { "<path in the component>": child }   git submodules and meson wraps, flat,
 *       keyed by the full path from the component root (a nested submodule of a submodule
 *       is "a/b"); each child has its own tree hash.
 *   patches: [{ file, integrity }]                    in the order they are applied
 *   vendoredTree: tree hash of what vendor places (own content + children + overlays +
 *       patches); present only when there are children or patches. `tree` stays the
 *       upstream content alone.
 */
const childPath = treePath.check(
  z.refine((p) => !p.split('/').some((s) => s.toLowerCase() === '.git'), 'must not contain a ".git" segment'),
);
const wrapExtras = {
  /** wrap: the `.wrap` file, relative to the component root. */
  wrap: z.optional(treePath),
  /** wrap: `subprojects/packagefiles/<patch_directory>` copied over the child (meson's `patch_directory`). */
  overlay: z.optional(treePath),
  /** wrap: meson `diff_files`, relative to the component root, applied with `patch -p1`. */
  diffFiles: z.optional(z.array(treePath)),
};
/** A git submodule or a meson `[wrap-git]`, pinned by commit. */
const childGit = z.strictObject({
  kind: z.enum(['submodule', 'wrap-git']),
  git: urlString,
  /** wrap-git: the `revision` as written (a tag or branch can move; `lock --check` resolves it again). */
  ref: z.optional(nonEmptyPlainString),
  commit: commitId,
  /** The child's own content. */
  tree: treeHashString,
  ...wrapExtras,
});
/** A meson `[wrap-file]`, pinned by the bytes of its archive. */
const childFile = z.strictObject({
  kind: z.literal('wrap-file'),
  url: urlString,
  /** `sha512-…` of the archive bytes. */
  integrity: integrityString,
  /** The wrap's `source_hash` (hex), as meson checks it. */
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits')),
  size: sizeNumber,
  tree: treeHashString,
  /** The wrap's `lead_directory_missing = true`: the archive's content is the folder itself. */
  leadDirectoryMissing: z.optional(z.literal(true)),
  ...wrapExtras,
  wrap: treePath,
});
const childEntry = z.discriminatedUnion('kind', [childGit, childFile]);
/** One entry of `patches:`, with the integrity of the patch file. */
const patchEntry = z.strictObject({
  /** As written in the config (relative to the config's folder). */
  file: nonEmptyPlainString,
  integrity: integrityString,
});
const nested = {
  /** Nested sources (git submodules, meson wraps), keyed by their path inside the component. */
  children: z.optional(z.record(childPath, childEntry)),
  /** Patches applied in order at vendor time. */
  patches: z.optional(z.array(patchEntry)),
  /** Tree hash of what vendor places: own content + children + patches. Only with children or patches. */
  vendoredTree: z.optional(treeHashString),
};

const gitEntry = z.strictObject({
  git: urlString,
  ref: nonEmptyPlainString,
  commit: commitId,
  /** Tree hash of the content at `commit`, without `.git` (submodule gitlinks not included). */
  tree: treeHashString,
  /** OpenPGP fingerprint of the tag's signer (with `signingKey:`). */
  signer,
  ...common,
  ...nested,
});
const tarballEntry = z.strictObject({
  url: urlString,
  /** `sha512-…` SRI of the downloaded bytes. */
  integrity: integrityString,
  size: sizeNumber,
  /** Tree hash of the unpacked content, when the file is a tar archive xenrel can read. */
  tree: z.optional(treeHashString),
  /** OpenPGP fingerprint of the detached signature's signer (with `signingKey:`). */
  signer,
  ...common,
});
const localEntry = z.strictObject({
  /** The config's `local:` path, relative to the config file. */
  local: nonEmptyPlainString,
  /** `sha512-…` of the file, for a file. */
  integrity: z.optional(integrityString),
  /** Tree hash, for a directory. */
  tree: z.optional(treeHashString),
  ...common,
  /** Patches (a local directory only), as for git components. */
  patches: nested.patches,
  vendoredTree: nested.vendoredTree,
});

/*
 * The file carries no kind field: an entry's kind is which source key it has (git, url or
 * local), so locks already written stay valid byte for byte. kindOf() in ./kind.ts reads it.
 */
export const lockSchema = z.strictObject({
  lockfileVersion: z.literal(1, { message: 'expected 1; this lockfile was written by another xenrel version' }),
  name: nonEmptyPlainString,
  components: z.record(
    nonEmptyPlainString,
    z.union([gitEntry, tarballEntry, localEntry], {
      message:
        'expected a git entry (git, ref, commit, tree, path), a tarball entry (url, integrity, size, path) or a local entry',
    }),
  ),
});

// Interfaces over the inferred types, so that signatures and hovers show the names.
export interface Lockfile extends z.infer<typeof lockSchema> {}
export interface LockedGit extends z.infer<typeof gitEntry> {}
export interface LockedTarball extends z.infer<typeof tarballEntry> {}
export interface LockedLocal extends z.infer<typeof localEntry> {}
/** One component of the lock: which of the three is told by its source key (see kindOf). */
export type LockedComponent = LockedGit | LockedTarball | LockedLocal;
export interface LockedChildGit extends z.infer<typeof childGit> {}
export interface LockedChildFile extends z.infer<typeof childFile> {}
/** A nested source of a component: a git submodule or meson wrap-git, or a meson wrap-file. */
export type LockedChild = LockedChildGit | LockedChildFile;
export interface LockedPatch extends z.infer<typeof patchEntry> {}
