import { createHash, type Hash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import pLimit from 'p-limit';
import ssri from 'ssri';
import { compareBytewise, fileEntry, symlinkEntry, type TreeEntry } from '../tree/hash.js';
import { sha256File } from '../tree/walk.js';
import { entriesFromDir } from '../archive/entries.js';
import { readTar } from '../archive/reader.js';
import { checkPath, resolveLimits, type Finding, type Limits } from '../archive/policy.js';
import { LOCK_COPY, MANIFESTS_DIR, SHIM_INDEX, WITHOUT_FILE, storeRel } from '../layout/xenrel-dir.js';
import { parseShimIndex } from '../vendoring/shim-index.js';
import { RELEASE_INFO } from '../layout/release-info.js';
import { CONFIG_FILE } from './owned.js';
import type { VerifyExpectations, VerifyOptions } from './types.js';
import { lockedIntegrity } from '../model/kind.js';

/** What a tarball or a folder holds: entries, digests and embedded metadata, before any comparison. */

const META_LIMIT = 16 << 20;

export interface Embedded {
  releaseInfo?: string;
  config?: string;
  /** `.xenrel/shim.tsv`: what the shim will serve from, checked against its schema. */
  shimIndex?: string;
  lock?: string;
  without?: string;
  manifests: Map<string, string>;
}

export interface Collected {
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
export function shimIndexProblem(embedded: Embedded, problems: string[]): void {
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
  if (
    rel.startsWith(`${MANIFESTS_DIR}/`) &&
    rel.endsWith('.tree') &&
    !rel.slice(MANIFESTS_DIR.length + 1).includes('/')
  )
    return 'manifest';
  return undefined;
}

/** The algorithms a pin may use. */
const PIN_ALGORITHMS = ['sha256', 'sha384', 'sha512'];

/**
 * One pass over the tarball: every entry's hash, the digests of the files the expectations
 * name by integrity, and the embedded metadata under the top directory.
 */
export async function collectTarball(file: string, opts: VerifyOptions) {
  const limits = resolveLimits(opts.limits);
  // rel path → the algorithms of its pin. The lock, when given, says which before the read.
  const integrityPaths = new Map<string, string[]>();
  const known = opts.expect ?? opts.lock;
  const pins = opts.expect
    ? Object.values(opts.expect.components).map((c) => [c.prefix, c.integrity] as const)
    : Object.entries(opts.lock?.components ?? {}).map(([name, c]) => [storeRel(name, c), lockedIntegrity(c)] as const);
  for (const [prefix, integrity] of pins) {
    const algo = integrity ? integrityAlgorithm(integrity) : undefined;
    if (algo) integrityPaths.set(prefix, [algo]);
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
      // A store file the expectations (read later, from inside) may pin by any algorithm.
      const algos = integrityPaths.get(rel) ?? (candidateDigest(rel) && !known ? PIN_ALGORITHMS : []);
      const hashes: Hash[] = algos.map((a) => createHash(a));
      const chunks: Buffer[] = [];
      let size = 0;
      if (!kind && !hashes.length) return;
      return {
        write(c) {
          for (const h of hashes) h.update(c);
          if (kind && (size += c.length) <= META_LIMIT) chunks.push(Buffer.from(c));
        },
        end() {
          if (algos.length) fileDigests.set(rel, algos.map((a, i) => `${a}-${hashes[i]!.digest('base64')}`).join(' '));
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
  if (strayTop || tops.size > 1)
    problems.push(`the archive has more than one top directory: ${[...tops].sort().join(', ')}`);
  if (opts.expectedTopDir && !tops.has(opts.expectedTopDir))
    problems.push(`the archive has no top directory ${opts.expectedTopDir}`);
  opts.progress?.done?.(label, '');
  return { entries, fileDigests, embedded, problems, top, absoluteLinks, read };
}

/** A folder's entries and embedded metadata, with the paths that are unsafe whatever the expectations. */
export async function collectDir(dir: string, limits: Limits) {
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
  for (const e of entries)
    if (metaKind(e.path) === 'manifest')
      embedded.manifests.set(e.path.slice(MANIFESTS_DIR.length + 1, -'.tree'.length), (await readSmall(e.path)) ?? '');
  return { entries, embedded, unsafe, links, buildProducts };
}

/** Digests of the files the expectations name by integrity (paths relative to `dir`). */
export async function integrityDigests(
  dir: string,
  expect: VerifyExpectations | undefined,
): Promise<Map<string, string>> {
  const fileDigests = new Map<string, string>();
  for (const c of Object.values(expect?.components ?? {})) {
    const algo = c.integrity ? integrityAlgorithm(c.integrity) : undefined;
    if (algo) {
      const data = await readFile(join(dir, c.prefix)).catch(() => undefined);
      if (data) fileDigests.set(c.prefix, `${algo}-${createHash(algo).update(data).digest('base64')}`);
    }
  }
  return fileDigests;
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
