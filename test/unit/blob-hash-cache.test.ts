/**
 * The blob-hash cache: what a release saves is found by the next one, for SHA-1 and SHA-256
 * object ids alike; a damaged file is ignored rather than trusted; the cap keeps the
 * entries the release used.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobHashCache, blobHashCacheFile, readBlobHashes } from '../../src/release/blob-hash-cache.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
const root = async () => {
  const d = await mkdtemp(join(tmpdir(), 'xenrel-bhc-'));
  dirs.push(d);
  return d;
};
const hex = (s: string, bytes: number) =>
  createHash('sha512')
    .update(s)
    .digest('hex')
    .slice(0, bytes * 2);
const hashOf = (s: string) => ({ size: s.length * 1000 + 7, sha256: hex(`content ${s}`, 32) });

describe('blob-hash cache', () => {
  it('finds after reopening what was saved, for 40- and 64-digit ids, however many saves', async () => {
    const dir = await root();
    const ids = Array.from({ length: 500 }, (_, i) => hex(`blob ${i}`, i % 3 === 0 ? 32 : 20));
    for (const part of [ids.slice(0, 200), ids.slice(200)]) {
      const c = await BlobHashCache.open(dir);
      for (const id of part) c.set(id, hashOf(id));
      await c.save();
    }
    const c = await BlobHashCache.open(dir);
    for (const id of ids) expect(c.get(id), id).toEqual(hashOf(id));
    expect(c.get(hex('never saved', 20))).toBeUndefined();
    expect(c.get('not-hex')).toBeUndefined();
    expect((await readBlobHashes(dir)).size).toBe(500);
    // One record each: 20-byte id, 8-byte size, 32-byte digest.
    expect((await stat(blobHashCacheFile(dir, 20))).size).toBe(ids.filter((i) => i.length === 40).length * 60);
  });

  it('a size above 4 GiB survives; a file of the wrong length is ignored', async () => {
    const dir = await root();
    const id = hex('large', 20);
    const c = await BlobHashCache.open(dir);
    c.set(id, { size: 5 * 2 ** 32 + 3, sha256: hex('x', 32) });
    await c.save();
    expect((await BlobHashCache.open(dir)).get(id)?.size).toBe(5 * 2 ** 32 + 3);
    const file = blobHashCacheFile(dir, 20);
    await writeFile(file, Buffer.concat([await readFile(file), Buffer.from([1])]));
    expect((await BlobHashCache.open(dir)).get(id)).toBeUndefined();
  });

  it('over the cap, the entries this release used and added stay, in id order', async () => {
    const dir = await root();
    const old = Array.from({ length: 100 }, (_, i) => hex(`old ${i}`, 20));
    const first = await BlobHashCache.open(dir, { maxEntries: 100 });
    for (const id of old) first.set(id, hashOf(id));
    await first.save();
    const c = await BlobHashCache.open(dir, { maxEntries: 100 });
    const used = old.filter((_, i) => i % 10 === 0);
    for (const id of used) expect(c.get(id)).toEqual(hashOf(id));
    const fresh = Array.from({ length: 30 }, (_, i) => hex(`new ${i}`, 20));
    for (const id of fresh) c.set(id, hashOf(id));
    await c.save();
    const saved = await readBlobHashes(dir);
    expect(saved.size).toBe(100);
    for (const id of [...used, ...fresh]) expect(saved.get(id), id).toEqual(hashOf(id));
    expect([...saved.keys()]).toEqual([...saved.keys()].sort());
  });

  it('drop() forgets everything, the text file of earlier versions included', async () => {
    const dir = await root();
    const c = await BlobHashCache.open(dir);
    c.set(hex('a', 20), hashOf('a'));
    await c.save();
    await writeFile(join(dir, 'blob-sha256', 'v1.txt'), 'old\n');
    await c.drop();
    expect((await readBlobHashes(dir)).size).toBe(0);
    await expect(stat(join(dir, 'blob-sha256', 'v1.txt'))).rejects.toThrow();
  });
});
