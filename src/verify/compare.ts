import ssri from 'ssri';
import { compareBytewise, diffEntries, entriesUnder, parseManifest, treeHash, type TreeEntry } from '../tree/hash.js';
import { finding, RULES, type Finding } from '../archive/policy.js';
import { LOCK_COPY, SHIM_INDEX } from '../layout/xenrel-dir.js';
import { RELEASE_INFO } from '../layout/release-info.js';
import type { Collected } from './collect.js';
import type { ComponentReport, VerifyExpectations, VerifyResult } from './types.js';

/** What was collected against what was expected: per component, the whole tree, and links outside any component. */

interface CompareContext {
  target: string;
  kind: VerifyResult['kind'];
  topDir?: string;
  unsafe: Finding[];
  problems: string[];
  expect?: VerifyExpectations;
  /** Where `expect` came from (the caller resolves it once). */
  source: VerifyResult['expectations'];
  complete: boolean;
}

export function compare(got: Collected, ctx: CompareContext): VerifyResult {
  const problems = ctx.problems;
  const { expect, source } = ctx;
  const whole = got.entries.filter((e) => e.path !== RELEASE_INFO);
  const actualTree = treeHash(whole);
  const components: ComponentReport[] = [];
  for (const [name, c] of Object.entries(expect?.components ?? {}).sort(([a], [b]) => compareBytewise(a, b))) {
    const r: ComponentReport = { name, prefix: c.prefix, status: 'unverified', missing: [], extra: [], modified: [] };
    components.push(r);
    if (c.integrity) {
      r.expected = c.integrity;
      const digests = got.fileDigests.get(c.prefix);
      r.actual = shownDigest(digests, c.integrity);
      const present = got.entries.some((e) => e.path === c.prefix);
      if (!present) r.status = c.without ? 'without' : 'missing';
      else if (!digests) r.note = 'integrity uses an algorithm xenrel does not compute';
      else r.status = integrityMatches(digests, c.integrity) ? 'ok' : 'modified';
      if (r.status === 'missing') r.missing.push(c.prefix);
      if (r.status === 'modified') r.modified.push(c.prefix);
      continue;
    }
    const dir = `${c.prefix.replace(/\/+$/, '')}/`;
    const mine = entriesUnder(got.entries, dir);
    if (mine.length === 0) {
      r.status = c.without ? 'without' : 'missing';
      if (r.status === 'missing') r.note = `nothing under ${dir}`;
      continue;
    }
    r.actual = treeHash(mine);
    r.expected = c.tree;
    if (!c.tree) continue;
    // Expected lines, trusted only when they hash to the expected tree: by-path detail.
    const manifestText = got.embedded.manifests.get(name);
    const given = c.entries ?? (manifestText !== undefined ? parseManifest(manifestText) : undefined);
    const proven = r.actual === c.tree ? mine : given && treeHash(given) === c.tree ? given : undefined;
    if (ctx.kind === 'dir' && c.placedAt) checkPlacedCopy(r, got, c.placedAt, c.tree, proven);
    if (r.actual === c.tree) {
      if (r.status === 'unverified') r.status = 'ok';
      continue;
    }
    r.status = 'modified';
    if (proven) {
      const d = diffEntries(proven, mine);
      const withPrefix = (ps: string[]) => ps.map((p) => `${dir}${p}`);
      r.missing.unshift(...withPrefix(d.missing));
      r.extra.unshift(...withPrefix(d.extra));
      r.modified.unshift(...withPrefix(d.modified));
    } else
      r.note = given
        ? 'the per-file manifest does not match the expected tree hash either; no per-file detail'
        : 'no per-file manifest to compare with';
  }
  const expectedTree = source === 'release.json' || source === 'given' ? expect?.tree : undefined;
  const treeOk = expectedTree ? expectedTree === actualTree : null;
  if (!ctx.complete) problems.push('the archive could not be read to the end');
  const ok =
    ctx.complete &&
    ctx.unsafe.length === 0 &&
    treeOk !== false &&
    components.every((c) => c.status === 'ok' || c.status === 'without' || c.status === 'unverified') &&
    !problems.some(
      (p) =>
        p.includes('top directory') ||
        p.startsWith(RELEASE_INFO) ||
        p.startsWith(LOCK_COPY) ||
        p.startsWith(SHIM_INDEX),
    );
  return {
    ok,
    target: ctx.target,
    kind: ctx.kind,
    topDir: ctx.topDir,
    expectations: source,
    tree: { actual: actualTree, expected: expectedTree, ok: treeOk },
    components,
    unsafe: ctx.unsafe,
    problems,
    files: whole.length,
  };
}

/**
 * The copy vendor placed where make reads the component (the build reads it, not the
 * store): every locked file present and unchanged. Files the lock does not name are the
 * build's (SeaBIOS writes its .config there) and pass; a tree without the copy (after
 * distclean, or a tarball) passes too: the shim makes it from the store.
 */
function checkPlacedCopy(
  r: ComponentReport,
  got: Collected,
  placedAt: string,
  tree: string,
  expected: readonly TreeEntry[] | undefined,
): void {
  const dir = `${placedAt.replace(/\/+$/, '')}/`;
  const placed = entriesUnder(got.entries, dir);
  if (!placed.length || treeHash(placed) === tree) return;
  if (!expected) {
    r.status = 'modified';
    r.note = `the copy at ${placedAt} differs from the lock; no per-file list to say where`;
    return;
  }
  const d = diffEntries(expected, placed);
  if (!d.missing.length && !d.modified.length) return;
  r.status = 'modified';
  r.missing.push(...d.missing.map((p) => `${dir}${p}`));
  r.modified.push(...d.modified.map((p) => `${dir}${p}`));
  r.note ??= `the copy at ${placedAt}, which the build reads`;
}

/** `actual` holds one digest per algorithm computed; the pin's strongest algorithm decides. */
function integrityMatches(actual: string, expected: string): boolean {
  const want = ssri.parse(expected, { strict: true });
  const algo = want.pickAlgorithm();
  return (want[algo] ?? []).some((h) => actual.split(' ').includes(`${algo}-${h.digest}`));
}

/** The digest of `actual` in the pin's algorithm, to show beside it. */
function shownDigest(actual: string | undefined, expected: string): string | undefined {
  const algo = ssri.parse(expected, { strict: true }).pickAlgorithm();
  return actual?.split(' ').find((d) => d.startsWith(`${algo}-`)) ?? actual;
}

/**
 * Extraction creates an absolute link without following it, so the readers let them through;
 * but the build follows links (in a tarball once extracted, in a folder already). Inside a locked component (a pinned git commit may hold inert
 * ones, as edk2 does) the lock vouches for it; anywhere else it is named.
 */
export function absoluteOutsideComponents(
  links: { path: string; rel: string; target: string }[],
  expect: VerifyExpectations | undefined,
): Finding[] {
  const dirs = Object.values(expect?.components ?? {}).map((c) => `${c.prefix}/`);
  return links
    .filter((l) => !dirs.some((d) => l.rel.startsWith(d)))
    .map((l) =>
      finding(
        'E_TAR_LINK_ESCAPE',
        l.path,
        `${RULES.E_TAR_LINK_ESCAPE} (absolute target ${l.target}, outside any locked component)`,
      ),
    );
}
