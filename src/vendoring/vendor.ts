import { readdir, readFile, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { assertKnownComponents } from '../components/names.js';
import { parseLockText, serializeLock } from '../lock/lockfile.js';
import { diffEntries, isCleanDiff, parseManifest, treeHash, type TreeDiff, type TreeEntry } from '../tree/hash.js';
import { walkTree } from '../tree/walk.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { configBlockOptions, hasCurrentBlock, removeConfigBlock, writeConfigBlock } from './config-block.js';
import {
  BIN_DIR,
  LOCK_COPY,
  MANIFESTS_DIR,
  OWNED_ENTRIES,
  SHIM_INDEX,
  SHIM_TOOLS,
  SOURCES_DIR,
  WITHOUT_FILE,
  XENREL_DIR,
  storeAbs,
  storeDirAbs,
  storeKind,
  storeRel,
} from '../layout/xenrel-dir.js';
import { lockedIntegrity, vendoredTreeOf } from '../model/kind.js';
import { materialise, type MaterialiseResult } from './materialise.js';
import { installShim, renderIndex, renderShim } from './shim.js';
import { placeStore, type PlaceOptions, type PlaceResult } from './store.js';
import { fileMatches } from '../sources/local.js';
import { exists, recoverSiblings, removeAtomically } from './swap.js';
import { withoutAdvice } from './without.js';
import { PVGRUB2_MAKEFILE, installPvgrub2 } from './pvgrub2.js';

export interface VendorOptions extends PlaceOptions {
  /** Copy components to their `path` too (default true). */
  materialise?: boolean;
  /**
   * Called first with the components to vendor, to fetch what the cache lacks (the CLI
   * passes the fetch stage). Without it, vendor works from the cache alone.
   */
  fetch?: (lock: Lockfile, names: string[]) => Promise<void>;
}

export interface VendorResult {
  store: PlaceResult[];
  paths: MaterialiseResult[];
  /** Shim files (under .xenrel/) rewritten. */
  shim: string[];
  /** `.config` changed. */
  config: boolean;
  /** Left-out components: the configure advice for each. */
  advice: string[];
  /** Materialised paths of left-out components that were removed (they were vendor's copies). */
  removedPaths: string[];
  /** True when the run changed nothing. */
  nothingToDo: boolean;
}

/**
 * `xenrel vendor`: store, shim, `.config` block, materialised paths. Idempotent; restores
 * local edits (and says which files); each replacement is staged and renamed.
 */
export async function vendor(
  lock: Lockfile,
  cache: Cache,
  treeRoot: string,
  opts: VendorOptions = {},
): Promise<VendorResult> {
  const without = opts.without ?? [];
  assertKnownComponents(without, Object.keys(lock.components));
  const names = Object.keys(lock.components)
    .sort()
    .filter((n) => !without.includes(n));
  if (opts.fetch) await opts.fetch(lock, names);

  const store = await placeStore(lock, cache, treeRoot, opts);
  const entries: Record<string, TreeEntry[]> = {};
  for (const r of store) if (r.entries) entries[r.name] = r.entries;
  const shim = (await installShim(treeRoot, lock, { without, entries })).changed;
  // `make -C .xenrel pvgrub2`, when the lock has a grub2 component (src/vendoring/pvgrub2.ts).
  if (await installPvgrub2(treeRoot, lock, without)) shim.push(PVGRUB2_MAKEFILE);
  const config = await writeConfigBlock(treeRoot, configBlockOptions(lock, without));
  const paths = opts.materialise === false ? [] : await materialise(treeRoot, lock, { without, entries });

  // A left-out component's copy at its path goes too, if it is vendor's (unchanged) copy.
  const removedPaths: string[] = [];
  for (const name of without) {
    const c = lock.components[name]!;
    if (await isPristineCopy(treeRoot, c)) {
      await removeAtomically(join(treeRoot, c.path));
      removedPaths.push(c.path);
    }
  }
  const advice = without.map((n) => withoutAdvice(n, lock.components[n]!));
  const nothingToDo =
    store.every((r) => r.action === 'unchanged' || r.action === 'left-out') &&
    paths.every((p) => p.action === 'unchanged') &&
    shim.length === 0 &&
    !config &&
    removedPaths.length === 0;
  return { store, paths, shim, config, advice, removedPaths, nothingToDo };
}

async function isPristineCopy(treeRoot: string, c: LockedComponent): Promise<boolean> {
  const target = join(treeRoot, c.path);
  const st = await stat(target).catch(() => undefined);
  if (!st) return false;
  if (storeKind(c) === 'tree') {
    if (!st.isDirectory() || (await exists(join(target, '.git')))) return false;
    return treeHash(await walkTree(target)) === vendoredTreeOf(c);
  }
  const integrity = lockedIntegrity(c);
  return st.isFile() && Boolean(integrity) && (await fileMatches(target, integrity!));
}

// ---------------------------------------------------------------------------------------
// vendor --check

export interface CheckFinding {
  /** Component name, or `(shim)` for xenrel's own files. */
  name: string;
  /** The path checked, relative to the tree root. */
  where: string;
  problem: 'missing' | 'differs' | 'extra';
  diff?: TreeDiff;
  detail?: string;
}

export interface VendorCheckResult {
  ok: boolean;
  findings: CheckFinding[];
  /** Paths not present now (after `make distclean`, or a release tarball): the shim creates them when make asks. */
  notMaterialised: string[];
  /** Files in materialised folders the lock does not name (build outputs, or additions): listed, not failed. */
  untracked: string[];
  without: string[];
}

/** The locked file list of a folder component, from vendor's manifest when it still matches the lock. */
async function expectedEntries(treeRoot: string, name: string, tree: string): Promise<TreeEntry[] | undefined> {
  const text = await readFile(join(treeRoot, MANIFESTS_DIR, `${name}.tree`), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const entries = parseManifest(text);
  return entries && treeHash(entries) === tree ? entries : undefined;
}

async function readWithout(treeRoot: string): Promise<string[]> {
  const text = await readFile(join(treeRoot, WITHOUT_FILE), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!);
}

async function checkTree(
  dir: string,
  where: string,
  name: string,
  tree: string,
  expected: TreeEntry[] | undefined,
  materialised: boolean,
  untracked: string[],
): Promise<CheckFinding | undefined> {
  const actual = await walkTree(dir, materialised ? {} : { ignoreNames: [] });
  const got = treeHash(actual);
  if (got === tree) return undefined;
  if (!expected) return { name, where, problem: 'differs', detail: `tree hash ${got}, the lock says ${tree}` };
  const diff = diffEntries(expected, actual);
  if (materialised) {
    // The build writes into these folders (SeaBIOS's .config, OVMF's Makefile): files the
    // lock does not name are listed, not failed.
    untracked.push(...diff.extra.map((p) => `${where}/${p}`));
    if (!diff.missing.length && !diff.modified.length) return undefined;
    return { name, where, problem: 'differs', diff: { ...diff, extra: [] } };
  }
  return { name, where, problem: 'differs', diff };
}

/**
 * `xenrel vendor --check`: compares the store, the materialised paths and the shim with
 * the lock; changes nothing. `ok` false means exit 1.
 */
export async function vendorCheck(
  lock: Lockfile,
  treeRoot: string,
  opts: { without?: string[] } = {},
): Promise<VendorCheckResult> {
  const without = opts.without ?? (await readWithout(treeRoot));
  const findings: CheckFinding[] = [];
  const notMaterialised: string[] = [];
  const untracked: string[] = [];
  for (const name of Object.keys(lock.components).sort()) {
    const c = lock.components[name]!;
    const storeDir = storeDirAbs(treeRoot, name);
    if (without.includes(name)) {
      if (await exists(storeDir))
        findings.push({
          name,
          where: `${SOURCES_DIR}/${name}`,
          problem: 'extra',
          detail: 'left out (--without), but present in the store',
        });
      continue;
    }
    const target = join(treeRoot, c.path);
    if (storeKind(c) === 'tree') {
      const tree = vendoredTreeOf(c) ?? '';
      let expected = await expectedEntries(treeRoot, name, tree);
      if (!(await exists(storeDir))) findings.push({ name, where: storeRel(name, c), problem: 'missing' });
      else {
        if (!expected) {
          const fromStore = await walkTree(storeDir, { ignoreNames: [] });
          if (treeHash(fromStore) === tree) expected = fromStore;
        }
        const f = await checkTree(storeDir, storeRel(name, c), name, tree, expected, false, untracked);
        if (f) findings.push(f);
      }
      const st = await stat(target).catch(() => undefined);
      if (!st) notMaterialised.push(c.path);
      else if (!st.isDirectory()) findings.push({ name, where: c.path, problem: 'differs', detail: 'not a folder' });
      else {
        const f = await checkTree(target, c.path, name, tree, expected, true, untracked);
        if (f) findings.push(f);
      }
      continue;
    }
    const integrity = lockedIntegrity(c) ?? '';
    const file = basename(c.path);
    const listing = await readdir(storeDir).catch(() => undefined);
    if (!listing?.includes(file)) findings.push({ name, where: storeRel(name, c), problem: 'missing' });
    else {
      const extra = listing.filter((f) => f !== file);
      const modified = (await fileMatches(join(storeDir, file), integrity)) ? [] : [file];
      if (extra.length || modified.length)
        findings.push({
          name,
          where: `${SOURCES_DIR}/${name}`,
          problem: 'differs',
          diff: { missing: [], extra, modified },
        });
    }
    const st = await stat(target).catch(() => undefined);
    if (!st) notMaterialised.push(c.path);
    else if (!st.isFile() || !(await fileMatches(target, integrity)))
      findings.push({
        name,
        where: c.path,
        problem: 'differs',
        diff: { missing: [], extra: [], modified: [basename(c.path)] },
      });
  }
  // Folders in the store the lock does not name.
  for (const entry of (await readdir(join(treeRoot, SOURCES_DIR)).catch(() => [] as string[])).sort()) {
    if (!(entry in lock.components))
      findings.push({ name: entry, where: `${SOURCES_DIR}/${entry}`, problem: 'extra', detail: 'not in the lock' });
  }
  findings.push(...(await checkShim(lock, treeRoot, without)));
  return { ok: findings.length === 0, findings, notMaterialised, untracked, without };
}

async function checkShim(lock: Lockfile, treeRoot: string, without: string[]): Promise<CheckFinding[]> {
  const out: CheckFinding[] = [];
  const same = async (rel: string, want: () => Promise<string>) => {
    const have = await readFile(join(treeRoot, rel), 'utf8').catch(() => undefined);
    if (have === undefined) out.push({ name: '(shim)', where: rel, problem: 'missing' });
    else if (have !== (await want().catch(() => undefined)))
      out.push({ name: '(shim)', where: rel, problem: 'differs' });
  };
  for (const tool of SHIM_TOOLS) await same(`${BIN_DIR}/${tool}`, () => renderShim(tool));
  await same(SHIM_INDEX, () => renderIndex(treeRoot, lock, without));
  await same(LOCK_COPY, async () => serializeLock(lock));
  if (!(await hasCurrentBlock(treeRoot, configBlockOptions(lock, without))))
    out.push({
      name: '(shim)',
      where: '.config',
      problem: 'missing',
      detail: 'the xenrel block (GIT and FETCHER overrides) is missing or out of date',
    });
  return out;
}

// ---------------------------------------------------------------------------------------
// clean

export interface CleanResult {
  /** Paths removed, relative to the tree root. */
  removed: string[];
  config: boolean;
}

/**
 * `xenrel clean`: removes what vendor placed — the materialised paths of the components in
 * the vendored lock (`.xenrel/xenrel.lock`, else `lock`), the `.config` block and
 * xenrel's entries under `.xenrel/` — and nothing else. The cache is not touched.
 */
export async function clean(treeRoot: string, opts: { lock?: Lockfile } = {}): Promise<CleanResult> {
  const removed: string[] = [];
  const copyText = await readFile(join(treeRoot, LOCK_COPY), 'utf8').catch(() => undefined);
  const lock = copyText !== undefined ? parseLockText(copyText, LOCK_COPY) : opts.lock;
  const without = await readWithout(treeRoot);
  if (lock) {
    for (const name of Object.keys(lock.components).sort()) {
      if (without.includes(name)) continue;
      const p = lock.components[name]!.path;
      const abs = join(treeRoot, p);
      await recoverSiblings(dirname(abs), new Set([basename(abs)]));
      if (await removeAtomically(abs)) removed.push(p);
    }
  }
  const config = await removeConfigBlock(treeRoot);
  for (const entry of OWNED_ENTRIES)
    if (await removeAtomically(join(treeRoot, XENREL_DIR, entry))) removed.push(`${XENREL_DIR}/${entry}`);
  await recoverSiblings(join(treeRoot, XENREL_DIR), new Set(OWNED_ENTRIES));
  if (await exists(join(treeRoot, XENREL_DIR))) await rmdir(join(treeRoot, XENREL_DIR)).catch(() => {});
  return { removed, config };
}

export { storeAbs, isCleanDiff };
