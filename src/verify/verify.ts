import { checkSymlinks, resolveLimits } from '../archive/policy.js';
import { sortEntries, treeHash } from '../tree/hash.js';
import { RELEASE_INFO, parseReleaseInfo } from '../layout/release-info.js';
import { accountForEveryByte, anchorLock, checkRecord, settle } from './anchors.js';
import { collectDir, collectTarball, integrityDigests, shimIndexProblem } from './collect.js';
import { absoluteOutsideComponents, compare } from './compare.js';
import { embeddedExpectations, expectationsFromLock } from './expectations.js';
import { projectEntries } from './owned.js';
import { projectEntriesOf, type VerifyOptions, type VerifyResult } from './types.js';

/**
 * `xenrel verify`: recompute every component's tree hash (and the whole tree's) from a
 * tarball streamed once, or from a directory, compare with the expectations, and name each
 * missing, extra, modified or unsafe path. Independent of how the lock was loaded: callers
 * pass `expect`; without it, the `.xenrel/release.json` and `.xenrel/xenrel.lock` inside
 * the tarball or tree are used.
 */

export async function verifyTarball(file: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const { entries, fileDigests, embedded, problems, top, absoluteLinks, read } = await collectTarball(file, opts);
  const unsafe = [...read.findings];
  shimIndexProblem(embedded, problems);
  const anchored = opts.lock || opts.record ? anchorLock(opts, embedded, problems) : undefined;
  const given = opts.expect ?? (anchored ? expectationsFromLock(anchored.lock, anchored.without) : undefined);
  const { expect, source } = given
    ? { expect: given, source: 'given' as const }
    : embeddedExpectations(embedded, problems);
  unsafe.push(...absoluteOutsideComponents(absoluteLinks, expect));
  const result = compare(
    { entries, fileDigests, embedded },
    { target: file, kind: 'tarball', topDir: top, unsafe, problems, expect, source, complete: read.complete },
  );
  if (opts.expect === undefined && anchored) result.expectations = 'lock';
  const project = projectEntries(
    entries.filter((e) => e.path !== RELEASE_INFO),
    embedded.config,
  );
  projectEntriesOf.set(result, project);
  const claimed =
    embedded.releaseInfo !== undefined
      ? parseReleaseInfo(embedded.releaseInfo, RELEASE_INFO).info?.project?.commit
      : undefined;
  result.project = {
    tree: treeHash(project),
    files: project.length,
    commit: opts.record ? opts.record.project.commit : claimed,
    ok: null,
    against: [],
  };
  if (anchored)
    await accountForEveryByte(result, {
      ...anchored,
      entries,
      embedded,
      project,
      compression: read.compression,
      sbomSha256: opts.record?.sbom.sha256,
    });
  if (opts.record) checkRecord(result, opts.record, opts.tarballSha256);
  if (opts.lock || opts.record) settle(result);
  return result;
}

export async function verifyDir(dir: string, opts: Omit<VerifyOptions, 'expectedTopDir'> = {}): Promise<VerifyResult> {
  const limits = resolveLimits(opts.limits);
  const { entries, embedded, unsafe, links, buildProducts } = await collectDir(dir, limits);
  const problems: string[] = [];
  const { expect, source } = opts.expect
    ? { expect: opts.expect, source: 'given' as const }
    : embeddedExpectations(embedded, problems);
  unsafe.push(...checkSymlinks(links, { limits, absolute: 'inert', topDirRule: false }));
  unsafe.push(
    ...absoluteOutsideComponents(
      [...links].filter(([, t]) => t.startsWith('/')).map(([path, target]) => ({ path, rel: path, target })),
      expect,
    ),
  );
  const fileDigests = await integrityDigests(dir, expect);
  shimIndexProblem(embedded, problems);
  const r = compare(
    { entries: sortEntries(entries), fileDigests, embedded },
    { target: dir, kind: 'dir', unsafe, problems, expect, source, complete: true },
  );
  return buildProducts.length ? { ...r, buildProducts } : r;
}
