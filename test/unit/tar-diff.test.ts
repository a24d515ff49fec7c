import { describe, expect, it } from 'vitest';
import { describeTarDifference, diffTarStreams } from '../../src/reproduce/tar-diff.js';
import { dir, file, gnuLongName, pax, rawEntry, rawTar, symlink } from '../helpers/raw-tar.js';

/** Two hand-built tar streams that differ in one place; the differ must name that place. */

const L: [string, string] = ['A', 'B'];
/** Chunks of an odd size, so no header or content arrives whole. */
const chunks = (b: Buffer, size = 77) =>
  (async function* () {
    for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
  })();
const base = () => [dir('p/'), file('p/a.c', 'int a;\n'), symlink('p/link', 'a.c'), file('p/z.txt', 'zzz\n')];
const diff = async (a: Buffer[], b: Buffer[], opts: { end?: boolean } = {}) => {
  const r = await diffTarStreams(chunks(rawTar(a)), chunks(rawTar(b, opts), 113), { labels: L });
  return { ...r, lines: r.differences.map((d) => describeTarDifference(d, L)) };
};

describe('diffTarStreams', () => {
  it('finds nothing in two equal streams, and counts the entries', async () => {
    const r = await diff(base(), base());
    expect(r.differences).toEqual([]);
    expect(r.entries).toBe(4);
  });

  it.each([
    ['mode', file('p/a.c', 'int a;\n', { mode: 0o600 }), 'p/a.c: mode differs (0644 in A, 0600 in B)'],
    ['uid', file('p/a.c', 'int a;\n', { uid: 1000 }), 'p/a.c: uid differs (0 in A, 1000 in B)'],
    ['uname', file('p/a.c', 'int a;\n', { uname: 'alice' }), 'p/a.c: uname differs ("" in A, "alice" in B)'],
    [
      'mtime',
      file('p/a.c', 'int a;\n', { mtime: 1_700_000_000 }),
      'p/a.c: mtime differs (1600000000 in A, 1700000000 in B)',
    ],
    ['size', file('p/a.c', 'int a; \n'), 'p/a.c: size differs (7 in A, 8 in B)'],
    ['content', file('p/a.c', 'int b;\n'), 'p/a.c: content differs at byte 4 of the entry'],
    ['typeflag', rawEntry({ name: 'p/a.c', type: '7' }, 'int a;\n'), 'p/a.c: typeflag differs ("0" in A, "7" in B)'],
    [
      'format',
      file('p/a.c', 'int a;\n', { magic: 'gnu' }),
      'p/a.c: format differs ("ustar\\\\000" in A, "ustar  \\\\0" in B)',
    ],
  ])('names the entry and the field: %s', async (_, changed, line) => {
    const b = base();
    b[1] = changed;
    const r = await diff(base(), b);
    expect(r.lines).toEqual([line]);
    expect(r.differences[0]).toMatchObject({ index: 2, entry: 'p/a.c' });
  });

  it('names a changed symlink target and pax records, and goes on to later entries', async () => {
    const b = base();
    b[2] = symlink('p/link', 'z.txt');
    b[3] = Buffer.concat([pax({ 'SCHILY.xattr.user.x': '1' }), file('p/z.txt', 'zzz\n')]);
    expect((await diff(base(), b)).lines).toEqual([
      'p/link: linkname differs ("a.c" in A, "z.txt" in B)',
      'p/z.txt: pax records differ ((none) in A, "SCHILY.xattr.user.x=1" in B)',
      // The pax header made B one record longer: its padding to a 10240-byte record is shorter.
      'the end-of-archive blocks differ (7168 bytes in A, 6144 bytes in B)',
    ]);
  });

  it('takes a pax path and a GNU long name as the entry name', async () => {
    const long = `p/${'d'.repeat(120)}.c`;
    const a = [...base(), Buffer.concat([pax({ path: long }), file('p/short', 'one\n')])];
    const b = [...base(), Buffer.concat([gnuLongName(long), file('p/short', 'two\n')])];
    const r = await diff(a, b);
    // The name is the same either way: the first field that differs is the pax record list.
    expect(r.differences).toEqual([{ index: 5, entry: long, field: 'pax records', a: `"path=${long}"`, b: '(none)' }]);
  });

  it('stops where the streams fall out of step, and names an entry only one has', async () => {
    const b = base();
    b.splice(1, 0, file('p/SPY', 'x\n'));
    expect((await diff(base(), b)).lines).toEqual([
      'entry 2: the names differ ("p/a.c" in A, "p/SPY" in B): the entries are out of step from here',
    ]);
    expect((await diff(base(), [...base(), file('p/zz', '')])).lines).toEqual(['p/zz: an entry only in B (entry 5)']);
  });

  it('names a header byte that no decoded field shows, and different end-of-archive blocks', async () => {
    const b = base();
    const h = Buffer.from(b[3]!);
    h.write('x', 500, 'latin1'); // padding after the ustar fields; fix the checksum
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i]!;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    b[3] = h;
    expect((await diff(base(), b)).lines).toEqual([
      'p/z.txt: the header block differs at byte 500 (every decoded field is equal)',
    ]);
    const r = await diffTarStreams(
      chunks(rawTar(base())),
      chunks(Buffer.concat([rawTar(base(), { end: false }), Buffer.alloc(1024)])),
      { labels: L },
    );
    expect(r.differences.map((d) => describeTarDifference(d, L))).toEqual([
      'the end-of-archive blocks differ (7168 bytes in A, 1024 bytes in B)',
    ]);
  });

  it('refuses a stream with a bad header checksum, naming it', async () => {
    const bad = base();
    bad[1] = file('p/a.c', 'int a;\n', { checksumDelta: 1 });
    await expect(diffTarStreams(chunks(rawTar(base())), chunks(rawTar(bad)), { labels: L })).rejects.toThrow(
      /^B: header checksum mismatch at offset 512$/,
    );
  });
});
