import { diffEntries, entriesUnder, sortEntries, treeHash, type TreeEntry } from '../tree/hash.js';
import { LOCK_COPY, storeKind } from '../layout/xenrel-dir.js';
import type { Lockfile } from '../model/lock.js';
import { lockDigest, parseLockText } from '../lock/lockfile.js';
import { recordProjectEntries, type ReleaseRecord } from '../layout/release-record.js';
import { RELEASE_INFO, parseReleaseInfo, type ReleaseInfo } from '../layout/release-info.js';
import type { Embedded } from './collect.js';
import { CONFIG_FILE, checkGenerated } from './owned.js';
import { projectEntriesOf, type ProjectAnchor, type VerifyOptions, type VerifyResult } from './types.js';

/** Checks against an anchor from outside the tarball: a lock given, the release record. */

interface Anchored {
  lock: Lockfile;
  source: 'given' | 'record' | 'embedded';
  without: string[];
}

/** The lock to regenerate from: the one given, else the embedded one when the record vouches for its digest. */
export function anchorLock(opts: VerifyOptions, embedded: Embedded, problems: string[]): Anchored | undefined {
  const without = opts.record?.without ?? opts.without ?? [];
  if (opts.lock) {
    if (opts.record && lockDigest(opts.lock) !== opts.record.lock.sha256)
      problems.push(
        `the lock given is not the one the release record names (sha256 ${lockDigest(opts.lock)}, record ${opts.record.lock.sha256})`,
      );
    return { lock: opts.lock, source: 'given', without };
  }
  if (!opts.record) return undefined;
  if (embedded.lock === undefined) {
    problems.push(`${LOCK_COPY}: missing, and no --lock given: nothing to check the components against`);
    return undefined;
  }
  let lock: Lockfile;
  try {
    lock = parseLockText(embedded.lock, LOCK_COPY);
  } catch (err) {
    problems.push(`${LOCK_COPY}: ${(err as Error).message}`);
    return undefined;
  }
  if (lockDigest(lock) !== opts.record.lock.sha256) {
    problems.push(
      `${LOCK_COPY}: not the lock the release record names (sha256 ${lockDigest(lock)}, record ${opts.record.lock.sha256})`,
    );
    return undefined;
  }
  return { lock, source: 'record', without };
}

interface Accounting extends Anchored {
  entries: TreeEntry[];
  embedded: Embedded;
  project: TreeEntry[];
  compression: string;
  sbomSha256?: string;
}

/**
 * Every byte against an anchor from outside the tarball: components (already compared),
 * xenrel's files regenerated from the lock, the project's files against the record.
 */
export async function accountForEveryByte(result: VerifyResult, a: Accounting): Promise<void> {
  let info: ReleaseInfo | undefined;
  if (a.embedded.releaseInfo !== undefined) info = parseReleaseInfo(a.embedded.releaseInfo, RELEASE_INFO).info;
  const byPath = new Map(a.entries.map((e) => [e.path, e]));
  const verifiedComponents = new Map<string, TreeEntry[]>();
  for (const c of result.components) {
    if (c.status !== 'ok' || !a.lock.components[c.name] || storeKind(a.lock.components[c.name]!) !== 'tree') continue;
    // In the order vendor writes manifests (tree-hash order), not the archive's: they differ
    // where a name is a prefix of a folder's (`arch-arm.h` beside `arch-arm/`).
    verifiedComponents.set(c.name, sortEntries(entriesUnder(a.entries, c.prefix)));
  }
  const projectTree = result.project!.tree;
  const commit = result.project!.commit;
  result.generated = await checkGenerated({
    lock: a.lock,
    without: a.without,
    entries: byPath,
    texts: new Map(a.embedded.config !== undefined ? [[CONFIG_FILE, a.embedded.config]] : []),
    verifiedComponents,
    topDir: result.topDir ?? '',
    compression: a.compression,
    wholeTree: result.tree.actual,
    projectTree,
    projectCommit: commit,
    sbomSha256: a.sbomSha256,
    cutBy: info?.xenrel,
  });
  // release.json is regenerated from the tarball's content: when it differs because the
  // project's files hash otherwise than it says, that is the finding, not the file itself.
  const ri = result.generated.find((g) => g.path === RELEASE_INFO && g.status === 'modified');
  if (ri && !ri.note && info?.project?.tree && info.project.tree !== projectTree)
    ri.note = `the project's files in the tarball do not hash to the project tree it names: a project file was changed (or release.json was); --record NAME.release.json names the file`;
  result.anchors = { lock: a.source, project: 'none' };
}

/** The project's files, the top directory and the tarball's own sha256 against the release record. */
export function checkRecord(result: VerifyResult, record: ReleaseRecord, tarballSha256: string | undefined): void {
  compareProject(result, recordProjectEntries(record), 'record', 'the release record');
  if (result.topDir !== record.name)
    result.problems.push(`the top directory is ${result.topDir}, the release record names ${record.name}`);
  if (tarballSha256 !== undefined && !Object.values(record.tarballs).some((t) => t.sha256 === tarballSha256))
    result.problems.push(
      `the tarball's sha256 ${tarballSha256} is none of those the release record lists (${Object.keys(record.tarballs).join(', ')})`,
    );
}

/** Compares the project's files with an expected list, naming each difference. */
export function compareProject(
  result: VerifyResult,
  expected: TreeEntry[],
  anchor: Exclude<ProjectAnchor, 'none'>,
  source: string,
): void {
  const actual = projectEntriesOf.get(result) ?? [];
  const d = diffEntries(expected, actual);
  const p = (result.project ??= { tree: treeHash(actual), files: actual.length, ok: null, against: [] });
  const want = treeHash(expected);
  p.against.push({ anchor, source, expected: want, ok: want === p.tree, ...d });
  p.ok = p.against.every((c) => c.ok);
  result.anchors ??= { lock: 'embedded', project: anchor };
  result.anchors.project = anchor;
  settle(result);
}

/** Recomputes `ok` once the anchored checks have run. */
export function settle(r: VerifyResult): void {
  r.ok =
    r.ok &&
    (r.generated ?? []).every(
      (g) => g.status === 'ok' || (g.status === 'unverified' && !g.note?.startsWith('cut by')),
    ) &&
    r.project?.ok !== false &&
    r.problems.length === 0;
}
