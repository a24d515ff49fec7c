import * as z from 'zod/mini';
import '../util/zod-messages.js';
import { integrityString, treeHashString, treePath } from '../model/config.js';
import { lockedIntegrity, vendoredTreeOf } from '../model/kind.js';
import type { Lockfile } from '../model/lock.js';
import { XENREL_DIR, storeRel } from './xenrel-dir.js';
import { commitId } from '../util/patterns.js';
import { schemaProblem } from '../util/untrusted-json.js';
import { XENREL_VERSION } from '../version.js';

/**
 * `.xenrel/release.json`, written by `release` inside the tarball: what `verify` without
 * an outside anchor compares with. Read from an archive, it is untrusted input; with a
 * lock or a release record, verify regenerates it and compares bytes instead.
 */
export const RELEASE_INFO = `${XENREL_DIR}/release.json`;

export const releaseInfoSchema = z.strictObject({
  releaseInfoVersion: z.literal(1),
  /** The tarball's top directory. */
  name: z.string().check(z.minLength(1)),
  xenrel: z.string().check(z.minLength(1)),
  compression: z.string().check(z.minLength(1)),
  /** Tree hash of the whole content (paths relative to the top directory), release.json excluded. */
  tree: treeHashString,
  /** The project's own files (see src/verify/owned.ts), and the commit they came from. */
  project: z.optional(z.strictObject({ tree: treeHashString, commit: z.optional(commitId) })),
  components: z.record(
    z.string().check(z.minLength(1)),
    z.strictObject({ path: treePath, tree: z.optional(treeHashString), integrity: z.optional(integrityString) }),
  ),
});

export type ReleaseInfo = z.infer<typeof releaseInfoSchema>;

/** What release.json says about each component vendor placed (left-out ones are absent). */
export function releaseInfoComponents(lock: Lockfile, without: string[]): ReleaseInfo['components'] {
  const components: ReleaseInfo['components'] = {};
  for (const [n, c] of Object.entries(lock.components)) {
    if (without.includes(n)) continue;
    // What vendor placed: with nested sources or patches that is vendoredTree, not the upstream tree.
    const t = vendoredTreeOf(c);
    const integrity = lockedIntegrity(c);
    components[n] = { path: storeRel(n, c), ...(t ? { tree: t } : {}), ...(integrity ? { integrity } : {}) };
  }
  return components;
}

export function renderReleaseInfo(info: ReleaseInfo): string {
  return `${JSON.stringify(info, null, 2)}\n`;
}

/** Parses release.json text; a message naming the key path when it is not what release writes. */
export function parseReleaseInfo(text: string, where: string): { info?: ReleaseInfo; problem?: string } {
  const r = schemaProblem(releaseInfoSchema, text, where);
  return 'value' in r ? { info: r.value } : { problem: r.problem };
}

/** release.json for a tarball: one builder, so release and verify produce the same bytes. */
export function buildReleaseInfo(o: {
  name: string;
  compression: string;
  tree: string;
  project: { tree: string; commit?: string };
  lock: Lockfile;
  without: string[];
}): ReleaseInfo {
  return {
    releaseInfoVersion: 1,
    name: o.name,
    xenrel: XENREL_VERSION,
    compression: o.compression,
    tree: o.tree,
    project: { tree: o.project.tree, ...(o.project.commit ? { commit: o.project.commit } : {}) },
    components: releaseInfoComponents(o.lock, o.without),
  };
}
