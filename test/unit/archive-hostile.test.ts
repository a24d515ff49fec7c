import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { lstat, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync, deflateRawSync } from 'node:zlib';
import { tempDirs } from '../helpers/tmp.js';
import { rawTar, rawEntry, file, dir, symlink, hardlink, pax, gnuLongName } from '../helpers/raw-tar.js';
import { readTar, hashTarball } from '../../src/archive/reader.js';
import { safeExtract } from '../../src/archive/extract.js';
import { XenrelError } from '../../src/errors.js';
import { gzipChunks } from '../../src/archive/gzip.js';
import { encodeHeader } from '../../src/archive/tar-format.js';
import type { Limits } from '../../src/archive/policy.js';
import { recordOutcome } from '../helpers/outcome.js';

/** Malicious archives, one fixture per attack, built byte by byte. */

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const outside = `/tmp/xenrel-abs-${randomBytes(6).toString('hex')}`;
let sandbox: string; // parent of every staging dir: must stay empty after each refusal

beforeAll(async () => {
  sandbox = await tmp.make('xenrel-hostile-');
});

async function* chunks(b: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += 7000) yield b.subarray(i, i + 7000);
}

async function rejectCode(p: Promise<unknown>): Promise<XenrelError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a refusal').toBeInstanceOf(XenrelError);
  return err as XenrelError;
}

/** Every surface refuses: the reader, hashTarball, and safeExtract (leaving nothing behind). */
async function expectRefused(archive: Buffer, code: string | string[], entry?: string, limits?: Partial<Limits>) {
  const codes = Array.isArray(code) ? code : [code];
  const e1 = await rejectCode(readTar(chunks(archive), { limits }));
  recordOutcome(e1.code, e1.exitCode);
  expect(codes).toContain(e1.code);
  expect(e1.exitCode).toBe(1);
  if (entry) expect(e1.message).toContain(entry);

  const collected = await hashTarball(chunks(archive), { limits, collect: true });
  expect(collected.findings.length).toBeGreaterThan(0);
  expect(codes).toContain(collected.findings[0]!.code);

  const stage = join(sandbox, 'stage');
  const e2 = await rejectCode(safeExtract(chunks(archive), stage, { limits }));
  expect(codes).toContain(e2.code);
  expect(await readdir(sandbox)).toEqual([]); // no half-extracted staging dir, nothing beside it
  expect(existsSync(outside)).toBe(false);
  return e1;
}

const ok = (...names: string[]) => names.map((n) => file(`top/${n}`));

describe('hostile archives', () => {
  it('1. ../evil and a/../../evil', async () => {
    await expectRefused(rawTar([...ok('a'), file('../evil')]), 'E_TAR_TRAVERSAL', '../evil');
    await expectRefused(rawTar([file('top/a/../../evil')]), 'E_TAR_TRAVERSAL', 'a/../../evil');
  });

  it('2. absolute paths, also ////', async () => {
    await expectRefused(rawTar([file(outside)]), 'E_TAR_ABSOLUTE', outside);
    await expectRefused(rawTar([file(`////${outside.slice(1)}`)]), 'E_TAR_ABSOLUTE');
  });

  it('3. drive letters and UNC paths', async () => {
    await expectRefused(rawTar([file('C:\\Windows\\x')]), 'E_TAR_DRIVE');
    await expectRefused(rawTar([file('C:x')]), 'E_TAR_DRIVE');
    await expectRefused(rawTar([file('\\\\srv\\share\\x')]), 'E_TAR_DRIVE');
  });

  it('4. backslash separators', async () => {
    await expectRefused(rawTar([file('a\\..\\..\\evil')]), 'E_TAR_BACKSLASH');
  });

  it('5. symlink to an absolute target', async () => {
    await expectRefused(rawTar([dir('top'), symlink('top/l', '/etc')]), 'E_TAR_LINK_ESCAPE', 'top/l');
  });

  it('6. symlink escaping the root', async () => {
    await expectRefused(rawTar([dir('top'), symlink('top/l', '../../..')]), 'E_TAR_LINK_ESCAPE', 'top/l');
    // a chain: each link looks harmless alone
    await expectRefused(rawTar([dir('top/a/b'), symlink('top/a/s', '..'), symlink('top/a/b/t', '../s/..')]), [
      'E_TAR_LINK_ESCAPE',
      'E_TAR_ROOT_ENTRY',
    ]);
  });

  it('7. dir, then symlink of the same name, then a file through it (CVE-2021-32803)', async () => {
    await mkdir(`${outside}-out`, { recursive: false }).catch(() => {});
    try {
      await expectRefused(
        rawTar([dir('top/d'), symlink('top/d', `${outside}-out`), file('top/d/pwn')]),
        'E_TAR_DUPLICATE',
        'top/d',
      );
      expect(existsSync(`${outside}-out/pwn`)).toBe(false);
    } finally {
      await import('node:fs/promises').then((fs) => fs.rm(`${outside}-out`, { recursive: true, force: true }));
    }
  });

  it('8. writing through an internal symlink', async () => {
    await expectRefused(
      rawTar([dir('top/sub'), symlink('top/l', 'sub'), file('top/l/x')]),
      'E_TAR_THROUGH_LINK',
      'top/l/x',
    );
    // the same, link after the file
    await expectRefused(rawTar([file('top/l/x'), symlink('top/l', 'sub')]), 'E_TAR_DUPLICATE', 'top/l');
  });

  it('9. hard link to /etc/passwd', async () => {
    await expectRefused(rawTar([dir('top'), hardlink('top/h', '/etc/passwd')]), 'E_TAR_HARDLINK', 'top/h');
  });

  it('10. symlink then hard link through it (CVE-2026-26960)', async () => {
    await expectRefused(rawTar([symlink('top/s', '..'), hardlink('top/h', 'top/s/../outside')]), [
      'E_TAR_HARDLINK',
      'E_TAR_LINK_ESCAPE',
    ]);
  });

  it('11. drive-relative link targets', async () => {
    await expectRefused(rawTar([dir('top'), symlink('top/l', 'C:../../x')]), 'E_TAR_DRIVE', 'top/l');
    await expectRefused(rawTar([dir('top'), hardlink('top/h', 'C:../../x')]), 'E_TAR_HARDLINK', 'top/h');
  });

  it('12. devices and FIFOs, no mknod attempted', async () => {
    for (const type of ['3', '4', '6'])
      await expectRefused(rawTar([dir('top'), rawEntry({ name: 'top/dev', type })]), 'E_TAR_SPECIAL', 'top/dev');
  });

  it('13. setuid/setgid/sticky normalised away; uid 0 / uname root ignored, files owned by the caller', async () => {
    for (const mode of [0o4755, 0o2755, 0o1777]) {
      const stage = join(await tmp.make(), 's');
      const r = await safeExtract(chunks(rawTar([dir('top', { mode: 0o2775 }), file('top/x', 'x', { mode })])), stage);
      expect(r.entries.map((e) => e.mode)).toEqual([mode & 0o100 ? '100755' : '100644']);
      expect((await stat(join(stage, 'top/x'))).mode & 0o7000).toBe(0);
      expect((await stat(join(stage, 'top'))).mode & 0o7000).toBe(0);
    }
    const stage = join(await tmp.make(), 's');
    const r = await safeExtract(
      chunks(
        rawTar([
          file('top/run', '#!/bin/sh\n', { mode: 0o777, uid: 0, uname: 'root' }),
          file('top/data', 'd', { mode: 0o666 }),
        ]),
      ),
      stage,
    );
    expect(r.entries.map((e) => e.mode)).toEqual(['100644', '100755']);
    const st = await stat(join(stage, 'top/run'));
    expect(st.uid).toBe(process.getuid!());
    expect(st.mode & 0o7000).toBe(0);
    expect(st.mode & 0o022).toBe(0); // never group/other-writable whatever the archive says
  });

  it('14. gzip bomb: stopped at the total-size limit, naming the entry; zeros within the limit are content', async () => {
    // 256 MiB of zeros in one entry compresses ~1000:1.
    const size = 256 << 20;
    async function* tar() {
      yield encodeHeader({ name: 'top/zeros', mode: 0o644, size, mtime: 0, typeflag: '0' });
      const z = Buffer.alloc(1 << 20);
      for (let i = 0; i < 256; i++) yield z;
      yield Buffer.alloc(1024);
    }
    const parts: Buffer[] = [];
    for await (const c of gzipChunks(tar(), { level: 1 })) parts.push(c);
    const bomb = Buffer.concat(parts);
    expect(bomb.length).toBeLessThan(2 << 20);
    const e = await expectRefused(bomb, 'E_TAR_LIMIT', 'top/zeros', { maxTotalSize: 64 << 20 });
    expect(e.message).toMatch(/above 67108864 bytes/);
    // the limit is checked before the content is read: refusing costs no decompression
    const t0 = performance.now();
    await rejectCode(readTar(chunks(bomb), { limits: { maxTotalSize: 64 << 20 } }));
    expect(performance.now() - t0).toBeLessThan(500);
    // with the defaults, a 1000:1 file of zeros is ordinary content (firmware images are zero-padded)
    const r = await hashTarball(chunks(bomb));
    expect(r.findings).toEqual([]);
    expect(r.entries.map((x) => x.path)).toEqual(['top/zeros']);
  });

  it('15. 8 EiB base-256 size with a short body', async () => {
    const sizeField = Buffer.alloc(12);
    sizeField[0] = 0x80;
    sizeField.writeBigUInt64BE(8n * 2n ** 60n, 4);
    await expectRefused(
      rawTar([rawEntry({ name: 'top/huge', sizeField }, 'short')], { end: false }),
      'E_TAR_LIMIT',
      'top/huge',
    );
    // a negative base-256 size is invalid
    const neg = Buffer.alloc(12, 0xff);
    await expectRefused(rawTar([rawEntry({ name: 'top/neg', sizeField: neg })]), 'E_TAR_BAD_HEADER');
  });

  it('16. 200,000 empty files: stopped at the entry limit', async () => {
    async function* many() {
      for (let i = 0; i < 200_000; i++)
        yield encodeHeader({ name: `top/f${i}`, mode: 0o644, size: 0, mtime: 0, typeflag: '0' });
      yield Buffer.alloc(1024);
    }
    const e = await rejectCode(readTar(many()));
    expect(e.code).toBe('E_TAR_LIMIT');
    expect(e.message).toMatch(/150000 entries/);
  });

  it('17. path depth 5,000', async () => {
    const deep = `top/${Array(5000).fill('a').join('/')}`;
    await expectRefused(rawTar([pax({ path: deep }), file('placeholder')]), 'E_TAR_LIMIT');
    // deep but within what Linux holds (GNU tar extracts it): accepted
    const deep1000 = `top/${Array(1000).fill('a').join('/')}`;
    const r = await hashTarball(chunks(rawTar([pax({ path: deep1000 }), file('placeholder')])));
    expect(r.findings).toEqual([]);
    expect(r.entries.map((x) => x.path)).toEqual([deep1000]);
  });

  it('18. 10,000-byte component via pax, and a 64 MiB pax header', async () => {
    await expectRefused(rawTar([pax({ path: `top/${'n'.repeat(10_000)}` }), file('placeholder')]), 'E_TAR_LIMIT');
    await expectRefused(
      rawTar([rawEntry({ name: 'PaxHeaders/x', type: 'x', size: 64 << 20 })], { end: false }),
      'E_TAR_META_TOO_LARGE',
    );
    await expectRefused(
      rawTar([rawEntry({ name: '././@LongLink', type: 'L', size: 2 << 20, magic: 'gnu' })], { end: false }),
      'E_TAR_META_TOO_LARGE',
    );
  });

  it('19. global pax header setting path', async () => {
    await expectRefused(rawTar([pax({ path: '../x' }, true), file('top/a')]), 'E_TAR_GLOBAL_PAX');
  });

  it('20. the same path twice', async () => {
    await expectRefused(rawTar([file('top/x', 'one'), file('top/x', 'two')]), 'E_TAR_DUPLICATE', 'top/x');
  });

  it('21. case and Unicode collisions', async () => {
    await expectRefused(rawTar([file('top/README'), file('top/readme')]), 'E_TAR_COLLISION', 'top/readme');
    await expectRefused(rawTar([file('top/stra\u00dfe'), file('top/strasse')]), 'E_TAR_COLLISION');
    await expectRefused(rawTar([file('top/\u00e9'), file('top/e\u0301')]), ['E_TAR_NOT_NFC', 'E_TAR_COLLISION']);
    await expectRefused(rawTar([file('top/Dir/a'), file('top/dir/b')]), 'E_TAR_COLLISION');
  });

  it('22. Windows-reserved names', async () => {
    // Refused under the portable-name rule (`limits: {portableNames: true}` in the config).
    for (const n of ['CON', 'nul.txt', 'x.', 'x ', 'LONGNA~1'])
      await expectRefused(rawTar([file(`top/${n}`)]), 'E_TAR_WINDOWS_NAME', n, { portableNames: true });
    await expectRefused(rawTar([file('top/x:y')]), 'E_TAR_BAD_CHAR');
    // Off by default: harmless on POSIX, and real upstreams have such names (QEMU's hw/misc/aux.c).
    await expect(readTar(chunks(rawTar([file('top/hw/misc/aux.c')])))).resolves.toMatchObject({ entries: 1 });
  });

  it('23. root replacement: `.` as a link, `x/..`', async () => {
    await expectRefused(rawTar([symlink('.', 'top'), file('top/a')]), 'E_TAR_ROOT_ENTRY');
    await expectRefused(rawTar([symlink('./', '/tmp')]), ['E_TAR_ROOT_ENTRY', 'E_TAR_BAD_PATH']);
    await expectRefused(rawTar([file('top/a'), dir('top/x/..')]), 'E_TAR_TRAVERSAL');
    await expectRefused(rawTar([file('top/a'), symlink('top/l', '..')]), 'E_TAR_ROOT_ENTRY'); // resolves to the root
    await expectRefused(rawTar([symlink('l', '.')]), 'E_TAR_ROOT_ENTRY');
  });

  it('24. truncated gzip, bad CRC, trailing garbage', async () => {
    const good = rawTar(ok('a', 'b'));
    const gz = gzipSync(good);
    await expectRefused(gz.subarray(0, gz.length - 20), 'E_TAR_TRUNCATED');
    const badCrc = Buffer.from(gz);
    badCrc[badCrc.length - 6]! ^= 0xff;
    await expectRefused(badCrc, 'E_TAR_COMPRESSION');
    await expectRefused(Buffer.concat([gz, Buffer.from('garbage')]), ['E_TAR_COMPRESSION', 'E_TAR_TRAILING_GARBAGE']);
    // zero padding after the gzip stream (tape blocking) is accepted, as gzip and GNU tar do
    await expect(hashTarball(chunks(Buffer.concat([gz, Buffer.alloc(100)])))).resolves.toMatchObject({ findings: [] });
    await expectRefused(Buffer.concat([gz, Buffer.alloc(100), Buffer.from('x')]), 'E_TAR_TRAILING_GARBAGE');
    await expectRefused(Buffer.concat([good, Buffer.from('garbage')]), 'E_TAR_TRAILING_GARBAGE');
    await expectRefused(gzipSync(Buffer.concat([good, Buffer.from('x')])), 'E_TAR_TRAILING_GARBAGE');
    // truncated tar inside a fine gzip; cut inside an entry; broken header checksum
    await expectRefused(gzipSync(good.subarray(0, 700)), 'E_TAR_TRUNCATED');
    await expectRefused(good.subarray(0, 1000), 'E_TAR_TRUNCATED');
    // no end-of-archive blocks at all: GNU tar and bsdtar extract it without complaint
    await expect(hashTarball(chunks(good.subarray(0, 1024)))).resolves.toMatchObject({
      findings: [],
      entries: [{ path: 'top/a' }],
    });
    await expectRefused(rawTar([rawEntry({ name: 'top/a', checksumDelta: 1 }, 'x')]), 'E_TAR_CHECKSUM');
    // a raw deflate stream is not gzip: read as plain tar, refused as such
    await expectRefused(deflateRawSync(good), ['E_TAR_CHECKSUM', 'E_TAR_TRUNCATED']);
    // but zero padding inside the tar (GNU's 10240-byte records, even larger blocking) is fine
    await expect(hashTarball(chunks(Buffer.concat([good, Buffer.alloc(20480)])))).resolves.toMatchObject({
      findings: [],
    });
  });

  it('25. content one byte off the expected tree hash: extraction succeeds, the hash tells', async () => {
    const a = await hashTarball(chunks(rawTar([file('top/a', 'hello\n')])));
    const stage = join(await tmp.make(), 's');
    const b = await safeExtract(chunks(rawTar([file('top/a', 'hellO\n')])), stage);
    expect(b.hash).not.toBe(a.hash);
  });

  it('26. two archives: the second cannot follow a link planted by the first', async () => {
    const base = await tmp.make();
    const stage = join(base, 'stage');
    await safeExtract(chunks(rawTar([dir('top/sub'), symlink('top/lib', 'sub')])), stage);
    const e = await rejectCode(safeExtract(chunks(rawTar([file('top/lib/x')])), stage));
    expect(e.code).toBe('E_EXTRACT_DEST_EXISTS');
    expect(existsSync(join(base, 'stage/top/sub/x'))).toBe(false);
    expect((await lstat(join(stage, 'top/lib'))).isSymbolicLink()).toBe(true);
  });

  it('accepts what real tools write: GNU long names, ./ prefixes, internal links, hard links to earlier files', async () => {
    const long = `top/${'d'.repeat(120)}/file`;
    const archive = rawTar([
      dir('./'),
      dir('./top'),
      gnuLongName(long),
      rawEntry({ name: long.slice(0, 100), magic: 'gnu' }, 'long\n'),
      file('./top/sub/a', 'A\n', { mode: 0o755 }),
      symlink('./top/l', 'sub/a'),
      hardlink('./top/h', 'top/sub/a'),
      pax({ comment: 'a git commit id' }, true),
    ]);
    const r = await hashTarball(chunks(archive));
    expect(r.findings).toEqual([]);
    expect(r.topDirs).toEqual(['top']);
    expect(r.entries.map((e) => `${e.mode} ${e.path}`)).toEqual([
      `100644 ${long}`,
      '100755 top/sub/a',
      '120000 top/l',
      '100755 top/h',
    ]);
    const stage = join(await tmp.make(), 's');
    const x = await safeExtract(chunks(archive), stage);
    expect(x.hash).toBe(r.hash);
    expect((await lstat(join(stage, 'top/l'))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(stage, 'top/h'))).nlink).toBe(1); // a copy, not a link
    await writeFile(join(sandbox, '.keep'), '').then(() =>
      import('node:fs/promises').then((fs) => fs.rm(join(sandbox, '.keep'))),
    );
  });
});
