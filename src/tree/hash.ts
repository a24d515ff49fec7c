import { createHash } from 'node:crypto';
import { XenrelError, ExitCode } from '../errors.js';
import { nameToBytes, showName } from './name-bytes.js';

/** The three kinds of entry a tree hash knows; directories are implicit. */
export type TreeMode = '100644' | '100755' | '120000';

export interface TreeEntry {
  /** Relative path, `/`-separated, no leading `./`. */
  path: string;
  mode: TreeMode;
  /** Hex sha256 of the content (of the target string, for a symlink). */
  sha256: string;
}

/** A symlink's entry: it hashes its target's raw bytes. */
export const symlinkEntry = (path: string, target: string | Uint8Array): TreeEntry => ({
  path,
  mode: '120000',
  sha256: createHash('sha256')
    .update(typeof target === 'string' ? nameToBytes(target) : target)
    .digest('hex'),
});

/** A regular file's entry: mode 100755 when the owner may execute it, else 100644. */
export const fileEntry = (path: string, executable: boolean, sha256: string): TreeEntry => ({
  path,
  mode: executable ? '100755' : '100644',
  sha256,
});

/** Bytewise comparison of the raw names: the order `LC_ALL=C sort` and GNU tar `--sort=name` use. */
export function compareBytewise(a: string, b: string): number {
  return Buffer.compare(nameToBytes(a), nameToBytes(b));
}

// Below U+D800 (no surrogates: neither astral characters nor escaped raw bytes), UTF-16
// code-unit order is code-point order, which is UTF-8 byte order: plain string comparison.
const NOT_PLAIN = /[\uD800-\uFFFF]/;
const plainOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** plainOrder with `/` below every other character. */
function plainSlashLowest(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (x === 0x2f ? -1 : x) - (y === 0x2f ? -1 : y);
  }
  return a.length - b.length;
}

/**
 * Sorts `items` in place by the bytes of `nameOf(item)`; with `slashLowest`, `/` sorts below
 * every other byte, so each directory's subtree stays together (GNU `tar --sort=name`).
 * Plain names compare as strings; byte keys are made, once per name, only when a name needs
 * them (a sort making bytes in each comparison cost millions of Buffers on a large tree).
 */
export function sortByName<T>(items: T[], nameOf: (item: T) => string, opts: { slashLowest?: boolean } = {}): T[] {
  const order = opts.slashLowest ? plainSlashLowest : plainOrder;
  if (!items.some((t) => NOT_PLAIN.test(nameOf(t)))) {
    // Archives and git trees mostly come sorted already: check before sorting
    for (let i = 1; i < items.length; i++)
      if (order(nameOf(items[i - 1]!), nameOf(items[i]!)) > 0) return items.sort((x, y) => order(nameOf(x), nameOf(y)));
    return items;
  }
  const bytesOf = opts.slashLowest ? (n: string) => nameToBytes(n.replaceAll('/', '\0')) : nameToBytes;
  const keyed = items.map((t) => ({ t, k: bytesOf(nameOf(t)) }));
  keyed.sort((x, y) => Buffer.compare(x.k, y.k));
  for (let i = 0; i < keyed.length; i++) items[i] = keyed[i]!.t;
  return items;
}

export const sortEntries = <T extends { path: string }>(entries: T[]): T[] => sortByName(entries, (e) => e.path);

/** The entries inside the folder `dir` (a path from the same root), with paths relative to it. */
export function entriesUnder<T extends { path: string }>(entries: readonly T[], dir: string): T[] {
  const at = `${dir.replace(/\/+$/, '')}/`;
  return entries.filter((e) => e.path.startsWith(at)).map((e) => ({ ...e, path: e.path.slice(at.length) }));
}

/** One line of a component's manifest (`.xenrel/manifests/<name>.tree`, `hash --manifest`): the line the tree hash is made of. */
export function manifestLine(e: TreeEntry): string {
  return `${e.mode} ${e.sha256} ${e.path}\n`;
}

const TREE_MODES = new Set(['100644', '100755', '120000']);

/** Reads manifest lines back; undefined when a line is not one (the caller then has no per-file detail). */
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

/** The bytes of one tree-hash line; the name's raw bytes, never a lossy conversion. */
/** A newline in a name would let two different trees produce the same lines (as Go's dirhash). */
function refuseNewline(path: string): void {
  if (path.includes('\n'))
    throw new XenrelError('E_TREE_NEWLINE_NAME', `${showName(path)}: a name with a newline cannot be tree-hashed`, {
      exitCode: ExitCode.checkFailed,
      hint: 'rename the file; a newline in a name makes the tree-hash lines ambiguous',
    });
}

export function manifestLineBytes(e: TreeEntry): Buffer {
  refuseNewline(e.path);
  return Buffer.concat([Buffer.from(`${e.mode} ${e.sha256} `, 'latin1'), nameToBytes(e.path), Buffer.from('\n')]);
}

/** A tree hash (`sha256-<base64>`) as hex, for digest fields that are spelled in hex. */
export const treeHashHex = (tree: string): string =>
  Buffer.from(tree.slice('sha256-'.length), 'base64').toString('hex');

/**
 * The tree hash: sha256 over `<mode> <sha256-hex> <path>\n` for every file and symlink,
 * in bytewise path order, written `sha256-<base64>`.
 */
export function treeHash(entries: Iterable<TreeEntry>): string {
  const sorted = sortEntries([...entries]);
  const h = createHash('sha256');
  // Lines go to the hash in batches: one update per line costs more than the hashing
  let batch = '';
  for (const e of sorted) {
    if (NOT_PLAIN.test(e.path)) {
      if (batch) h.update(batch, 'utf8');
      batch = '';
      h.update(manifestLineBytes(e));
      continue;
    }
    refuseNewline(e.path);
    batch += `${e.mode} ${e.sha256} ${e.path}\n`;
    if (batch.length > 1 << 16) {
      h.update(batch, 'utf8');
      batch = '';
    }
  }
  if (batch) h.update(batch, 'utf8');
  return `sha256-${h.digest('base64')}`;
}

export interface TreeDiff {
  missing: string[];
  extra: string[];
  modified: string[];
}

export function diffEntries(expected: Iterable<TreeEntry>, actual: Iterable<TreeEntry>): TreeDiff {
  const want = new Map<string, TreeEntry>();
  for (const e of expected) want.set(e.path, e);
  const out: TreeDiff = { missing: [], extra: [], modified: [] };
  const seen = new Set<string>();
  for (const a of actual) {
    seen.add(a.path);
    const w = want.get(a.path);
    if (!w) out.extra.push(a.path);
    else if (w.sha256 !== a.sha256 || w.mode !== a.mode) out.modified.push(a.path);
  }
  for (const p of want.keys()) if (!seen.has(p)) out.missing.push(p);
  for (const list of [out.missing, out.extra, out.modified]) list.sort(compareBytewise);
  return out;
}

export const isCleanDiff = (d: TreeDiff) => d.missing.length + d.extra.length + d.modified.length === 0;
