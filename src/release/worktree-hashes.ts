import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** A blob of the commit, at one of its paths in the work tree. */
export interface WantedBlob {
  oid: string;
  path: string;
  symlink: boolean;
}

export interface WorkTreeBlob {
  size: number;
  sha256: string;
  /** A symlink's target bytes. */
  target?: Buffer;
}

const CHUNK = 1 << 20;
/** Bytes read between two turns of the event loop (timers, a progress bar). */
const SLICE = 16 << 20;

/**
 * sha256 and size of the commit's blobs read from the checked-out files instead of from
 * git's pack: the page cache gives in tens of milliseconds what inflating the pack's
 * deltas takes hundreds for. A file counts only when its git object id, computed from the
 * bytes read, is the blob's own: the bytes are then the blob's exactly, whatever the work
 * tree's eol settings, filters or local edits did to other files. Everything else (a
 * modified, converted, missing or unreadable file) is left out of the result, for git to
 * give. Synchronous reads: for thousands of small files the thread pool's round trips
 * cost several times the reading.
 */
export async function hashFromWorkTree(
  root: string,
  wanted: readonly WantedBlob[],
): Promise<Map<string, WorkTreeBlob>> {
  const out = new Map<string, WorkTreeBlob>();
  const buf = Buffer.allocUnsafe(CHUNK);
  let sinceTurn = 0;
  for (const w of wanted) {
    let got: WorkTreeBlob | undefined;
    try {
      got = w.symlink ? linkBlob(root, w) : fileBlob(root, w, buf);
    } catch {
      // Not readable as the blob: git gives it.
    }
    if (got) out.set(w.oid, got);
    sinceTurn += got?.size ?? 0;
    if (sinceTurn >= SLICE) {
      sinceTurn = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return out;
}

/** git's object id hash (sha1, or sha256 in a sha256 repository), primed with the blob header. */
const objectHash = (oid: string, size: number): Hash =>
  createHash(oid.length === 64 ? 'sha256' : 'sha1').update(`blob ${size}\0`);

function linkBlob(root: string, w: WantedBlob): WorkTreeBlob | undefined {
  const target = readlinkSync(join(root, w.path), { encoding: 'buffer' });
  if (objectHash(w.oid, target.length).update(target).digest('hex') !== w.oid) return undefined;
  return { size: target.length, sha256: createHash('sha256').update(target).digest('hex'), target };
}

function fileBlob(root: string, w: WantedBlob, buf: Buffer): WorkTreeBlob | undefined {
  const fd = openSync(join(root, w.path), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const id = objectHash(w.oid, st.size);
    const sha = createHash('sha256');
    let size = 0;
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const chunk = buf.subarray(0, n);
      id.update(chunk);
      sha.update(chunk);
      size += n;
      if (size > st.size) return undefined; // growing while read
    }
    if (size !== st.size || id.digest('hex') !== w.oid) return undefined;
    return { size, sha256: sha.digest('hex') };
  } finally {
    closeSync(fd);
  }
}
