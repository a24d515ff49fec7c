import { createHash } from 'node:crypto';
import { LOCKFILE_NAME, serializeLock } from '../lock/lockfile.js';
import { fileEntry, sortEntries, type TreeEntry } from '../tree/hash.js';
import type { Lockfile } from '../model/lock.js';
import { configBlockOptions, splitConfig, withBlock } from '../vendoring/config-block.js';
import { SOURCES_DIR, XENREL_DIR, storeKind, storeRel } from '../layout/xenrel-dir.js';
import { renderPvgrub2Makefile, PVGRUB2_MAKEFILE } from '../vendoring/pvgrub2.js';
import { renderShimFiles } from '../vendoring/shim.js';
import { XENREL_VERSION } from '../version.js';
import { RELEASE_INFO, renderReleaseInfo, buildReleaseInfo } from '../layout/release-info.js';

/**
 * Who vouches for each file of a release tarball. Three owners, each with its own anchor:
 *
 *   components   .xenrel/sources/<name>/…     the lock's tree hash / integrity
 *   xenrel       .xenrel/** else, xenrel.lock, regenerated from the lock by the functions
 *                and .config's marked block     vendor and release write them with
 *   the project  everything else (.config      the release record's file list, or the
 *                without xenrel's block)        project's git commit re-fetched
 *
 * A file none of them claims is extra; nothing inside the tarball vouches for itself.
 */

export const CONFIG_FILE = '.config';
/** The SPDX SBOM inside a release. */
export const RELEASE_SBOM = `${XENREL_DIR}/sbom.spdx.json`;

export const isXenrelPath = (rel: string): boolean =>
  rel === LOCKFILE_NAME || rel === XENREL_DIR || rel.startsWith(`${XENREL_DIR}/`);

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/**
 * The project's own files, as a release lays them out: everything outside xenrel's paths,
 * `.config` with xenrel's block taken out (gone when nothing of the user's remains).
 */
export function projectEntries(entries: Iterable<TreeEntry>, configText: string | undefined): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const e of entries) {
    if (isXenrelPath(e.path)) continue;
    if (e.path === CONFIG_FILE && configText !== undefined && e.mode !== '120000') {
      const user = splitConfig(configText).user;
      if (user !== '') out.push(fileEntry(CONFIG_FILE, e.mode === '100755', sha256(user)));
      continue;
    }
    out.push(e);
  }
  return sortEntries(out);
}

export type GeneratedStatus = 'ok' | 'modified' | 'missing' | 'extra' | 'unverified';

export interface GeneratedReport {
  path: string;
  status: GeneratedStatus;
  note?: string;
}

export interface GeneratedInput {
  lock: Lockfile;
  without: string[];
  /** Every file and symlink of the tarball, relative to its top directory. */
  entries: ReadonlyMap<string, TreeEntry>;
  /** Content of the small files xenrel owns (and .config), as read from the tarball. */
  texts: ReadonlyMap<string, string>;
  /** Entries of each folder component that matched the lock (its manifest is regenerated from them). */
  verifiedComponents: ReadonlyMap<string, TreeEntry[]>;
  topDir: string;
  compression: string;
  wholeTree: string;
  projectTree: string;
  /** The project commit the anchor names (record), else the one release.json claims. */
  projectCommit?: string;
  /** sha256 (hex) of the SBOM, from the release record; without one the SBOM is unverified. */
  sbomSha256?: string;
  /** The xenrel that cut the release (release.json); regeneration needs the same one. */
  cutBy?: string;
}

interface Expected {
  rel: string;
  text?: string;
  sha256?: string;
  mode: number;
  note?: string;
}

/**
 * Regenerates every file xenrel put into the release from the lock and compares bytes and
 * mode; names what is modified, missing, or extra under xenrel's paths.
 */
export async function checkGenerated(input: GeneratedInput): Promise<GeneratedReport[]> {
  const { lock, without } = input;
  const expected: Expected[] = [];
  const unverifiable = new Map<string, string>();
  const shimFiles = await renderShimFiles(
    '/nonexistent',
    lock,
    without,
    async (name) => input.verifiedComponents.get(name),
    // A pin by sha384 alone: the index names the store copy's sha256, as the tarball holds it.
    (name, c) => input.entries.get(storeRel(name, c))?.sha256,
  ).catch((err: Error) => {
    unverifiable.set(`${XENREL_DIR}/shim.tsv`, `cannot be regenerated: ${err.message}`);
    return [];
  });
  for (const f of shimFiles) expected.push(f);
  for (const [name, c] of Object.entries(lock.components))
    if (!without.includes(name) && storeKind(c) === 'tree' && !input.verifiedComponents.has(name))
      unverifiable.set(
        `${XENREL_DIR}/manifests/${name}.tree`,
        `component ${name} does not match the lock, so its manifest cannot be regenerated`,
      );
  const makefile = renderPvgrub2Makefile(lock, without);
  if (makefile !== undefined) expected.push({ rel: PVGRUB2_MAKEFILE, text: makefile, mode: 0o644 });
  expected.push({ rel: LOCKFILE_NAME, text: serializeLock(lock), mode: 0o644 });
  const config = input.texts.get(CONFIG_FILE);
  const configEntry = input.entries.get(CONFIG_FILE);
  expected.push({
    rel: CONFIG_FILE,
    text: withBlock(splitConfig(config ?? '').user, configBlockOptions(lock, without)),
    mode: configEntry?.mode === '100755' ? 0o755 : 0o644,
  });
  const info = buildReleaseInfo({
    name: input.topDir,
    compression: input.compression,
    tree: input.wholeTree,
    project: { tree: input.projectTree, commit: input.projectCommit },
    lock,
    without,
  });
  expected.push({ rel: RELEASE_INFO, text: renderReleaseInfo(info), mode: 0o644 });
  expected.push({
    rel: RELEASE_SBOM,
    sha256: input.sbomSha256,
    mode: 0o644,
    note: input.sbomSha256
      ? undefined
      : 'not regenerated from the lock (it also holds facts from the cache); the release record anchors it',
  });

  const out: GeneratedReport[] = [];
  const claimed = new Set<string>();
  const versionNote =
    input.cutBy && input.cutBy !== XENREL_VERSION
      ? `cut by xenrel ${input.cutBy}; this is ${XENREL_VERSION}: verify with the same xenrel`
      : undefined;
  for (const e of expected) {
    claimed.add(e.rel);
    const got = input.entries.get(e.rel);
    if (!got) {
      out.push({ path: e.rel, status: 'missing' });
      continue;
    }
    const want = e.text !== undefined ? sha256(e.text) : e.sha256;
    if (want === undefined) out.push({ path: e.rel, status: 'unverified', note: e.note });
    else if (versionNote && e.rel !== LOCKFILE_NAME && e.rel !== CONFIG_FILE)
      out.push({ path: e.rel, status: 'unverified', note: versionNote });
    else if (got.sha256 !== want || got.mode !== (e.mode & 0o100 ? '100755' : '100644'))
      out.push({
        path: e.rel,
        status: 'modified',
        note: got.sha256 === want ? `mode ${got.mode}, expected ${e.mode & 0o100 ? '100755' : '100644'}` : undefined,
      });
    else out.push({ path: e.rel, status: 'ok' });
  }
  for (const [rel, note] of unverifiable) {
    claimed.add(rel);
    if (input.entries.has(rel)) out.push({ path: rel, status: 'unverified', note });
  }
  // Component stores are the components' own; anything else under xenrel's paths is extra.
  const stores = Object.entries(lock.components)
    .filter(([n]) => !without.includes(n))
    .map(([n, c]) => (storeKind(c) === 'tree' ? { dir: `${storeRel(n, c)}/` } : { file: storeRel(n, c) }));
  for (const rel of input.entries.keys()) {
    if (!isXenrelPath(rel) || claimed.has(rel)) continue;
    if (stores.some((s) => ('dir' in s ? rel.startsWith(s.dir!) : rel === s.file))) continue;
    out.push({
      path: rel,
      status: 'extra',
      note: rel.startsWith(`${SOURCES_DIR}/`) ? 'not part of any locked component' : undefined,
    });
  }
  return sortEntries(out);
}
