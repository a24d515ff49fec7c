import { describe, it, expect, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { writeRecord, type RecordInput } from '../../src/release/record.js';
import { fileEntry } from '../../src/tree/hash.js';
import type { Lockfile } from '../../src/model/lock.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const lock = { lockfileVersion: 1, name: 'p', components: {} } as unknown as Lockfile;
const entries = Array.from({ length: 50 }, (_, i) => fileEntry(`src/f${i}.c`, i % 7 === 0, `${i}`.padStart(64, 'a')));
const input = (outDir: string, file: string, o: Partial<RecordInput> = {}): RecordInput => ({
  outDir,
  name: 'p-1.0',
  tarball: join(outDir, file),
  sha256: (file.length % 10).toString().repeat(64),
  size: file.length,
  lock,
  sbom: '{}',
  without: [],
  project: { entries, commit: 'c'.repeat(40) },
  ...o,
});
const read = async (dir: string) => JSON.parse(await readFile(join(dir, 'p-1.0.release.json'), 'utf8'));

describe('release record', () => {
  it('a tarball of the same content joins the record; other content replaces it', async () => {
    const dir = await tmp.make();
    await writeRecord(input(dir, 'p-1.0.tar.xz'));
    await writeRecord(input(dir, 'p-1.0.tar.gz'));
    const text = await readFile(join(dir, 'p-1.0.release.json'), 'utf8');
    const both = JSON.parse(text);
    expect(Object.keys(both.tarballs)).toEqual(['p-1.0.tar.gz', 'p-1.0.tar.xz']);
    expect(both.tarballs['p-1.0.tar.gz']).toEqual({ sha256: '2'.repeat(64), size: 12 });
    // the merged text is the record rendered whole
    expect(text).toBe(`${JSON.stringify(both, null, 2)}\n`);
    expect(both.project.files).toHaveLength(50);
    // a record formatted by another tool, same content: still joined
    const other = await tmp.make();
    await writeRecord(input(other, 'p-1.0.tar.xz'));
    await writeFile(join(other, 'p-1.0.release.json'), JSON.stringify(await read(other), null, 4));
    await writeRecord(input(other, 'p-1.0.tar.gz'));
    expect(await readFile(join(other, 'p-1.0.release.json'), 'utf8')).toBe(text);
    // other files: the record starts again
    await writeRecord(input(dir, 'p-1.0.tar.zst', { project: { entries: entries.slice(1), commit: 'c'.repeat(40) } }));
    expect(Object.keys((await read(dir)).tarballs)).toEqual(['p-1.0.tar.zst']);
    // left-out components differ: the same
    await writeRecord(input(dir, 'p-1.0.tar.gz', { without: ['ovmf'] }));
    expect(Object.keys((await read(dir)).tarballs)).toEqual(['p-1.0.tar.gz']);
    // not a record: replaced
    await writeFile(join(dir, 'p-1.0.release.json'), '{"tarballs": {');
    await writeRecord(input(dir, 'p-1.0.tar.xz'));
    expect(Object.keys((await read(dir)).tarballs)).toEqual(['p-1.0.tar.xz']);
  });
});
