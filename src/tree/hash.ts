import { createHash } from 'node:crypto';

/** The three kinds of entry a tree hash knows; directories are implicit. */
export type TreeMode = '100644' | '100755' | '120000';

export interface TreeEntry {
  /** Relative path, `/`-separated, no leading `./`. */
  path: string;
  mode: TreeMode;
  /** Hex sha256 of the content (of the target string, for a symlink). */
  sha256: string;
}

/** A symlink's entry: it hashes its target string. */
export const symlinkEntry = (path: string, target: string): TreeEntry => ({
  path,
  mode: '120000',
  sha256: createHash('sha256').update(target, 'utf8').digest('hex'),
});

/** A regular file's entry: mode 100755 when the owner may execute it, else 100644. */
export const fileEntry = (path: string, executable: boolean, sha256: string): TreeEntry => ({
  path,
  mode: executable ? '100755' : '100644',
  sha256,
});

/** Bytewise (UTF-8) comparison: the order `LC_ALL=C sort` and GNU tar `--sort=name` use. */
export function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function sortEntries<T extends { path: string }>(entries: T[]): T[] {
  return entries.sort((x, y) => compareBytewise(x.path, y.path));
}

export function manifestLine(e: TreeEntry): string {
  return `${e.mode} ${e.sha256} ${e.path}\n`;
}

/**
 * The tree hash: sha256 over `<mode> <sha256-hex> <path>\n` for every file and symlink,
 * in bytewise path order, written `sha256-<base64>`.
 */
export function treeHash(entries: Iterable<TreeEntry>): string {
  const sorted = sortEntries([...entries]);
  const h = createHash('sha256');
  for (const e of sorted) h.update(manifestLine(e), 'utf8');
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
