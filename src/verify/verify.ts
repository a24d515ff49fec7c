import { createHash, type Hash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import pLimit from 'p-limit';
import ssri from 'ssri';
import { compareBytewise, diffEntries, fileEntry, symlinkEntry, treeHash, sortEntries, type TreeEntry, type TreeMode } from '../tree/hash.js';
import { sha256File } from '../tree/walk.js';
import { entriesFromDir } from '../archive/entries.js';
import { readTar } from '../archive/reader.js';
import { checkPath, checkSymlinks, finding, resolveLimits, RULES, type Finding, type Limits } from '../archive/policy.js';
import { expectedTree, LOCK_COPY, MANIFESTS_DIR, SHIM_INDEX, WITHOUT_FILE, storeKind, storeRel } from '../layout/xenrel-dir.js';
import { parseShimIndex } from '../vendoring/shim-index.js';
import type { Lockfile, ProgressSink } from '../types.js';
import { lockDigest, parseLockText } from '../lock/lockfile.js';
import { recordProjectEntries, type ReleaseRecord } from '../layout/release-record.js';
import { RELEASE_INFO, parseReleaseInfo, type ReleaseInfo } from '../layout/release-info.js';
import { CONFIG_FILE, checkGenerated, projectEntries, type GeneratedReport } from './owned.js';

/**
 * `xenrel verify`: recompute every component's tree hash (and the whole tree's) from a
 * tarball streamed once, or from a directory, compare with the expectations, and name each
 * missing, extra, modified or unsafe path. Independent of how the lock was loaded: callers
 * pass `expect`; without it, the `.xenrel/release.json` and `.xenrel/xenrel.lock` inside
 * the tarball or tree are used.
 */

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
const projectEntriesOf = new WeakMap<VerifyResult, TreeEntry[]>();
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

/** Where `vendor` puts each locked component, and what the lock says it must hash to. */
export function expectationsFromLock(lock: Lockfile, without: string[] = []): VerifyExpectations {
  const components: Record<string, ComponentExpectation> = {};
  for (const [name, c] of Object.entries(lock.components)) {
    const prefix = storeRel(name, c);
    components[name] = storeKind(c) === 'tree' ? { prefix, tree: expectedTree(c) } : { prefix, integrity: (c as { integrity?: string }).integrity };
    if (without.includes(name)) components[name]!.without = true;
  }
  return { components };
}

const META_LIMIT = 16 << 20;
const TREE_MODES = new Set(['100644', '100755', '120000']);

/** Parses `<mode> <sha256> <path>` lines (vendor's .xenrel/manifests/<name>.tree). */
export function parseManifest(text: string): TreeEntry[] | undefined {
  const out: TreeEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^(\d{6}) ([0-9a-f]{64}) (.+)$/.exec(line);
    if (!m || !TREE_MODES.has(m[1]!)) return undefined;
    out.push({ mode: m[1] as TreeMode, sha256: m[2]!, path: m[3]! });
  }
  return out;
}

interface Embedded {
  releaseInfo?: string;
  config?: string;
  /** `.xenrel/shim.tsv`: what the shim will serve from, checked against its schema. */
  shimIndex?: string;
  lock?: string;
  without?: string;
  manifests: Map<string, string>;
}

interface Collected {
  /** Paths relative to the top directory. */
  entries: TreeEntry[];
  /** Digest per file at an `integrity` prefix. */
  fileDigests: Map<string, string>;
  embedded: Embedded;
}

function integrityAlgorithm(sri: string): string | undefined {
  const parsed = ssri.parse(sri, { strict: true });
  const algo = parsed.pickAlgorithm();
  return algo && parsed[algo]?.length ? algo : undefined;
}

/** The shim index is what `make` will fetch through: malformed, it is named whatever the anchors. */
function shimIndexProblem(embedded: Embedded, problems: string[]): void {
  if (embedded.shimIndex === undefined) return;
  const r = parseShimIndex(embedded.shimIndex);
  if ('problem' in r) problems.push(`${SHIM_INDEX}: malformed: ${r.problem}`);
}

function metaKind(rel: string): keyof Omit<Embedded, 'manifests'> | 'manifest' | undefined {
  if (rel === RELEASE_INFO) return 'releaseInfo';
  if (rel === CONFIG_FILE) return 'config';
  if (rel === LOCK_COPY) return 'lock';
  if (rel === WITHOUT_FILE) return 'without';
  if (rel === SHIM_INDEX) return 'shimIndex';
  if (rel.startsWith(`${MANIFESTS_DIR}/`) && rel.endsWith('.tree') && !rel.slice(MANIFESTS_DIR.length + 1).includes('/')) return 'manifest';
  return undefined;
}

export async function verifyTarball(file: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const limits = resolveLimits(opts.limits);
  const integrityPaths = new Map<string, string>(); // rel path → algorithm
  for (const c of Object.values(opts.expect?.components ?? {})) {
    const algo = c.integrity ? integrityAlgorithm(c.integrity) : undefined;
    if (algo) integrityPaths.set(c.prefix, algo);
  }
  const problems: string[] = [];
  const entries: TreeEntry[] = [];
  const fileDigests = new Map<string, string>();
  const embedded: Embedded = { manifests: new Map() };
  const tops = new Set<string>();
  let strayTop = false;
  let top: string | undefined = opts.expectedTopDir;
  const relOf = (p: string) => {
    const slash = p.indexOf('/');
    const first = slash < 0 ? p : p.slice(0, slash);
    tops.add(first);
    top ??= first;
    if (first !== top || p === top) {
      if (first !== top) strayTop = true;
      return undefined;
    }
    return p.slice(top.length + 1);
  };
  // Embedded metadata may sort after the component files; keep digests for every file that
  // could be a tarball component (the store's `sources/<name>/<file>` level), decided at the end.
  const candidateDigest = (rel: string) => /^\.xenrel\/sources\/[^/]+\/[^/]+$/.test(rel);
  const absoluteLinks: { path: string; rel: string; target: string }[] = [];

  const label = opts.progressLabel ?? basename(file);
  if (opts.progress) opts.progress.start?.(label, (await stat(file)).size);
  const read = await readTar(file, {
    onBytes: opts.progress ? (n) => opts.progress!.advance?.(label, n) : undefined,
    limits,
    collect: true,
    // verify writes nothing: an absolute link (a pinned git component's) is hashed, never followed
    absoluteSymlinks: 'inert',
    name: file,
    onEntry: (e) => {
      if (e.type !== 'file') return;
      const rel = relOf(e.path);
      if (rel === undefined) return;
      const kind = metaKind(rel);
      const hashes: Hash[] = [];
      const algo = integrityPaths.get(rel) ?? (candidateDigest(rel) && !opts.expect ? 'sha512' : undefined);
      if (algo) hashes.push(createHash(algo));
      const chunks: Buffer[] = [];
      let size = 0;
      if (!kind && !hashes.length) return;
      return {
        write(c) {
          for (const h of hashes) h.update(c);
          if (kind && (size += c.length) <= META_LIMIT) chunks.push(Buffer.from(c));
        },
        end() {
          if (algo) fileDigests.set(rel, `${algo}-${hashes[0]!.digest('base64')}`);
          if (!kind) return;
          if (size > META_LIMIT) return void problems.push(`${rel}: larger than ${META_LIMIT} bytes, ignored`);
          const text = Buffer.concat(chunks).toString('utf8');
          if (kind === 'manifest') embedded.manifests.set(rel.slice(MANIFESTS_DIR.length + 1, -'.tree'.length), text);
          else embedded[kind] = text;
        },
      };
    },
    onEntryDone: (e) => {
      const rel = relOf(e.path);
      if (rel === undefined || e.type === 'dir') return;
      if (e.type === 'symlink') {
        entries.push(symlinkEntry(rel, e.linkpath!));
        if (e.linkpath!.startsWith('/')) absoluteLinks.push({ path: e.path, rel, target: e.linkpath! });
      } else entries.push(fileEntry(rel, e.executable, e.sha256!));
    },
  });
  if (strayTop || tops.size > 1) problems.push(`the archive has more than one top directory: ${[...tops].sort().join(', ')}`);
  if (opts.expectedTopDir && !tops.has(opts.expectedTopDir)) problems.push(`the archive has no top directory ${opts.expectedTopDir}`);
  opts.progress?.done?.(label, '');
  const unsafe = [...read.findings];
  shimIndexProblem(embedded, problems);
  const anchored = opts.lock || opts.record ? anchorLock(opts, embedded, problems) : undefined;
  const given = opts.expect ?? (anchored ? expectationsFromLock(anchored.lock, anchored.without) : undefined);
  const { expect, source } = given ? { expect: given, source: 'given' as const } : embeddedExpectations(embedded, problems);
  unsafe.push(...absoluteOutsideComponents(absoluteLinks, expect));
  const result = compare({ entries, fileDigests, embedded }, { target: file, kind: 'tarball', topDir: top, unsafe, problems, expect, source, complete: read.complete });
  if (opts.expect === undefined && anchored) result.expectations = 'lock';
  const project = projectEntries(
    entries.filter((e) => e.path !== RELEASE_INFO),
    embedded.config,
  );
  projectEntriesOf.set(result, project);
  const claimed = embedded.releaseInfo !== undefined ? parseReleaseInfo(embedded.releaseInfo, RELEASE_INFO).info?.project?.commit : undefined;
  result.project = { tree: treeHash(project), files: project.length, commit: opts.record ? opts.record.project.commit : claimed, ok: null, against: [] };
  if (anchored) await accountForEveryByte(result, { ...anchored, entries, embedded, project, compression: read.compression, sbomSha256: opts.record?.sbom.sha256 });
  if (opts.record) checkRecord(result, opts.record, opts.tarballSha256);
  if (opts.lock || opts.record) settle(result);
  return result;
}

interface Anchored {
  lock: Lockfile;
  source: 'given' | 'record' | 'embedded';
  without: string[];
}

/** The lock to regenerate from: the one given, else the embedded one when the record vouches for its digest. */
function anchorLock(opts: VerifyOptions, embedded: Embedded, problems: string[]): Anchored | undefined {
  const without = opts.record?.without ?? opts.without ?? [];
  if (opts.lock) {
    if (opts.record && lockDigest(opts.lock) !== opts.record.lock.sha256)
      problems.push(`the lock given is not the one the release record names (sha256 ${lockDigest(opts.lock)}, record ${opts.record.lock.sha256})`);
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
    problems.push(`${LOCK_COPY}: not the lock the release record names (sha256 ${lockDigest(lock)}, record ${opts.record.lock.sha256})`);
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
async function accountForEveryByte(result: VerifyResult, a: Accounting): Promise<void> {
  let info: ReleaseInfo | undefined;
  if (a.embedded.releaseInfo !== undefined) info = parseReleaseInfo(a.embedded.releaseInfo, RELEASE_INFO).info;
  const byPath = new Map(a.entries.map((e) => [e.path, e]));
  const verifiedComponents = new Map<string, TreeEntry[]>();
  for (const c of result.components) {
    if (c.status !== 'ok' || !a.lock.components[c.name] || storeKind(a.lock.components[c.name]!) !== 'tree') continue;
    const dir = `${c.prefix}/`;
    verifiedComponents.set(
      c.name,
      a.entries.filter((e) => e.path.startsWith(dir)).map((e) => ({ ...e, path: e.path.slice(dir.length) })),
    );
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
  result.anchors = { lock: a.source, project: 'none' };
}

/** The project's files, the top directory and the tarball's own sha256 against the release record. */
function checkRecord(result: VerifyResult, record: ReleaseRecord, tarballSha256: string | undefined): void {
  compareProject(result, recordProjectEntries(record), 'record', 'the release record');
  if (result.topDir !== record.name) result.problems.push(`the top directory is ${result.topDir}, the release record names ${record.name}`);
  if (tarballSha256 !== undefined && !Object.values(record.tarballs).some((t) => t.sha256 === tarballSha256))
    result.problems.push(`the tarball's sha256 ${tarballSha256} is none of those the release record lists (${Object.keys(record.tarballs).join(', ')})`);
}

/** Compares the project's files with an expected list, naming each difference. */
export function compareProject(result: VerifyResult, expected: TreeEntry[], anchor: Exclude<ProjectAnchor, 'none'>, source: string): void {
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
function settle(r: VerifyResult): void {
  r.ok =
    r.ok &&
    (r.generated ?? []).every((g) => g.status === 'ok' || (g.status === 'unverified' && !g.note?.startsWith('cut by'))) &&
    r.project?.ok !== false &&
    r.problems.length === 0;
}

export async function verifyDir(dir: string, opts: Omit<VerifyOptions, 'expectedTopDir'> = {}): Promise<VerifyResult> {
  const limits = resolveLimits(opts.limits);
  const sources = await entriesFromDir(dir);
  const unsafe: Finding[] = [];
  const links = new Map<string, string>();
  for (const s of sources) {
    const c = checkPath(s.path, limits, s.kind === 'dir');
    if ('finding' in c) unsafe.push(c.finding);
    if (s.kind === 'symlink') links.set(s.path, s.target);
  }
  const buildProducts = await linksIntoTree(dir, links);
  for (const p of buildProducts) links.delete(p);
  const limit = pLimit(8);
  const entries = await Promise.all(
    sources
      .filter((s) => s.kind !== 'dir')
      .map((s) =>
        limit(async (): Promise<TreeEntry> => {
          if (s.kind === 'symlink') return symlinkEntry(s.path, s.target);
          const abs = (s as { content: { abs: string } }).content.abs;
          return fileEntry(s.path, (s as { executable: boolean }).executable, await sha256File(abs));
        }),
      ),
  );
  const embedded: Embedded = { manifests: new Map() };
  const readSmall = (rel: string) => readFile(join(dir, rel), 'utf8').catch(() => undefined);
  embedded.releaseInfo = await readSmall(RELEASE_INFO);
  embedded.lock = await readSmall(LOCK_COPY);
  embedded.without = await readSmall(WITHOUT_FILE);
  embedded.shimIndex = await readSmall(SHIM_INDEX);
  for (const e of entries) if (metaKind(e.path) === 'manifest') embedded.manifests.set(e.path.slice(MANIFESTS_DIR.length + 1, -'.tree'.length), (await readSmall(e.path)) ?? '');
  const fileDigests = new Map<string, string>();
  const problems: string[] = [];
  const { expect, source } = opts.expect ? { expect: opts.expect, source: 'given' as const } : embeddedExpectations(embedded, problems);
  unsafe.push(...checkSymlinks(links, { limits, absolute: 'inert', topDirRule: false }));
  unsafe.push(
    ...absoluteOutsideComponents(
      [...links].filter(([, t]) => t.startsWith('/')).map(([path, target]) => ({ path, rel: path, target })),
      expect,
    ),
  );
  for (const c of Object.values(expect?.components ?? {})) {
    const algo = c.integrity ? integrityAlgorithm(c.integrity) : undefined;
    if (algo) {
      const data = await readFile(join(dir, c.prefix)).catch(() => undefined);
      if (data) fileDigests.set(c.prefix, `${algo}-${createHash(algo).update(data).digest('base64')}`);
    }
  }
  shimIndexProblem(embedded, problems);
  const r = compare({ entries: sortEntries(entries), fileDigests, embedded }, { target: dir, kind: 'dir', unsafe, problems, expect, source, complete: true });
  return buildProducts.length ? { ...r, buildProducts } : r;
}

/**
 * Extraction creates an absolute link without following it, so the readers let them through;
 * but the build follows links (in a tarball once extracted, in a folder already). Inside a locked component (a pinned git commit may hold inert
 * ones, as edk2 does) the lock vouches for it; anywhere else it is named.
 */
function absoluteOutsideComponents(links: { path: string; rel: string; target: string }[], expect: VerifyExpectations | undefined): Finding[] {
  const dirs = Object.values(expect?.components ?? {}).map((c) => `${c.prefix}/`);
  return links
    .filter((l) => !dirs.some((d) => l.rel.startsWith(d)))
    .map((l) => finding('E_TAR_LINK_ESCAPE', l.path, `${RULES.E_TAR_LINK_ESCAPE} (absolute target ${l.target}, outside any locked component)`));
}

/**
 * Xen's `make -C tools/include` links headers by absolute path into the tree itself
 * (`ln -s $(XEN_ROOT)/xen/include/public/*.h xen/`). A release never holds an absolute
 * link, so such a link is the build's, not vendored content; it leaves nothing either.
 * A link whose target is itself a link out of the tree is still caught: that one is checked.
 */
async function linksIntoTree(dir: string, links: ReadonlyMap<string, string>): Promise<string[]> {
  const roots = [...new Set([resolve(dir), await realpath(dir).catch(() => resolve(dir))])];
  const out: string[] = [];
  for (const [p, target] of links) {
    if (!target.startsWith('/')) continue;
    const t = posix.normalize(target);
    if (roots.some((r) => t.startsWith(`${r}/`) && t.length > r.length + 1)) out.push(p);
  }
  return out.sort(compareBytewise);
}

function embeddedExpectations(embedded: Embedded, problems: string[]): { expect?: VerifyExpectations; source: VerifyResult['expectations'] } {
  const without = (embedded.without ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!);
  if (embedded.releaseInfo !== undefined) {
    const { info, problem } = parseReleaseInfo(embedded.releaseInfo, RELEASE_INFO);
    if (info) {
      const components: Record<string, ComponentExpectation> = {};
      for (const [name, c] of Object.entries(info.components))
        components[name] = { prefix: c.path, tree: c.tree, integrity: c.integrity, without: without.includes(name) || undefined };
      return { expect: { components, tree: info.tree }, source: 'release.json' };
    }
    problems.push(`${problem}; not used`);
  }
  if (embedded.lock !== undefined) {
    try {
      return { expect: expectationsFromLock(parseLockText(embedded.lock, LOCK_COPY), without), source: 'lock' };
    } catch (err) {
      problems.push(`${LOCK_COPY}: cannot be used (${(err as Error).message})`);
    }
  }
  return { source: 'none' };
}

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

function compare(got: Collected, ctx: CompareContext): VerifyResult {
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
      r.actual = got.fileDigests.get(c.prefix);
      const present = got.entries.some((e) => e.path === c.prefix);
      if (!present) r.status = c.without ? 'without' : 'missing';
      else if (!r.actual) r.note = 'integrity uses an algorithm xenrel does not compute';
      else r.status = integrityMatches(r.actual, c.integrity) ? 'ok' : 'modified';
      if (r.status === 'missing') r.missing.push(c.prefix);
      if (r.status === 'modified') r.modified.push(c.prefix);
      continue;
    }
    const dir = `${c.prefix.replace(/\/+$/, '')}/`;
    const mine = got.entries.filter((e) => e.path.startsWith(dir)).map((e) => ({ ...e, path: e.path.slice(dir.length) }));
    if (mine.length === 0) {
      r.status = c.without ? 'without' : 'missing';
      if (r.status === 'missing') r.note = `nothing under ${dir}`;
      continue;
    }
    r.actual = treeHash(mine);
    r.expected = c.tree;
    if (!c.tree) continue;
    if (r.actual === c.tree) {
      r.status = 'ok';
      continue;
    }
    r.status = 'modified';
    // By-path detail from expected lines that are themselves proven by the expected hash.
    const manifestText = got.embedded.manifests.get(name);
    const lines = c.entries ?? (manifestText !== undefined ? parseManifest(manifestText) : undefined);
    if (lines && treeHash(lines) === c.tree) {
      const d = diffEntries(lines, mine);
      const withPrefix = (ps: string[]) => ps.map((p) => `${dir}${p}`);
      r.missing = withPrefix(d.missing);
      r.extra = withPrefix(d.extra);
      r.modified = withPrefix(d.modified);
    } else r.note = lines ? 'the per-file manifest does not match the expected tree hash either; no per-file detail' : 'no per-file manifest to compare with';
  }
  const expectedTree = source === 'release.json' || source === 'given' ? expect?.tree : undefined;
  const treeOk = expectedTree ? expectedTree === actualTree : null;
  if (!ctx.complete) problems.push('the archive could not be read to the end');
  const ok =
    ctx.complete &&
    ctx.unsafe.length === 0 &&
    treeOk !== false &&
    components.every((c) => c.status === 'ok' || c.status === 'without' || c.status === 'unverified') &&
    !problems.some((p) => p.includes('top directory') || p.startsWith(RELEASE_INFO) || p.startsWith(LOCK_COPY) || p.startsWith(SHIM_INDEX));
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

function integrityMatches(actual: string, expected: string): boolean {
  const want = ssri.parse(expected, { strict: true });
  const algo = want.pickAlgorithm();
  return (want[algo] ?? []).some((h) => `${algo}-${h.digest}` === actual);
}
