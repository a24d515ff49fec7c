import { describe, it, expect, afterAll } from 'vitest';
import { chmod, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDirs } from '../helpers/tmp.js';
import { entriesFromDir, bufferEntry, type EntrySource } from '../../src/archive/entries.js';
import { writeArchive } from '../../src/archive/write-archive.js';
import { planEntries } from '../../src/archive/writer.js';
import { gzipChunks } from '../../src/archive/gzip.js';
import { compressChunks } from '../../src/archive/compress.js';
import { hashTarball } from '../../src/archive/reader.js';
import { hashDir } from '../../src/tree/walk.js';
import { XenrelError } from '../../src/errors.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const LONG = `deep/${'long-directory-name-'.repeat(6)}/file-with-a-long-name.txt`;
const FILES: Record<string, string> = {
  README: 'hello\n',
  'a.txt': 'a\n',
  'a/b.txt': 'b\n',
  'a-b/c': 'c\n',
  'tools/run.sh': '#!/bin/sh\necho run\n',
  'docs/caf\u00e9/\u00fcber.md': 'unicode\n',
  [LONG]: 'long\n',
  'big.bin': '',
};

/** The same content with different mtimes, permissions (umask) and creation order. */
async function makeTree(variant: 0 | 1): Promise<string> {
  const root = await tmp.make('xenrel-tree-');
  const names = Object.keys(FILES);
  if (variant) names.reverse();
  for (const n of names) {
    await mkdir(join(root, n, '..'), { recursive: true, mode: variant ? 0o700 : 0o755 });
    const data = n === 'big.bin' ? bigContent() : FILES[n]!;
    await writeFile(join(root, n), data);
    const exec = n.endsWith('.sh');
    await chmod(join(root, n), exec ? (variant ? 0o700 : 0o775) : variant ? 0o600 : 0o664);
    await utimes(join(root, n), variant ? 1_000_000 : 2_000_000_000, variant ? 1_000_000 : 2_000_000_000);
  }
  await mkdir(join(root, 'empty-dir'));
  await symlink('../a.txt', join(root, 'a/link'));
  await symlink('caf\u00e9', join(root, 'docs/link-to-caf\u00e9'));
  return root;
}

let big: Buffer | undefined;
function bigContent(): Buffer {
  // 3.5 MiB: several gzip blocks, half text half pseudo-random (deterministic)
  if (big) return big;
  const parts: Buffer[] = [];
  let x = 12345;
  const rnd = Buffer.alloc(1 << 20);
  for (let i = 0; i < rnd.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    rnd[i] = x >>> 24;
  }
  parts.push(Buffer.from('line of text for the compressor\n'.repeat(80_000)), rnd, rnd.subarray(0, 1 << 19));
  return (big = Buffer.concat(parts));
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function pack(
  root: string,
  out: string,
  format: 'gz' | 'none' | 'xz' | 'zst',
  level?: number,
  extra: EntrySource[] = [],
) {
  const entries = [...(await entriesFromDir(root)), bufferEntry('xenrel.lock', '{"lockfileVersion": 1}\n'), ...extra];
  return writeArchive(entries, { out, format, level, topDir: 'xen-4.22.0', mtime: 1_700_000_000 });
}

describe('deterministic tar writer', () => {
  it('gives identical .tar and .tar.gz from two trees differing in mtimes, umask and creation order', async () => {
    const [t0, t1] = [await makeTree(0), await makeTree(1)];
    const out = await tmp.make();
    const a = await pack(t0, join(out, 'a.tar'), 'none');
    const b = await pack(t1, join(out, 'b.tar'), 'none');
    expect(sha(await readFile(join(out, 'a.tar')))).toBe(sha(await readFile(join(out, 'b.tar'))));
    expect(a.tarSha256).toBe(b.tarSha256);
    const ga = await pack(t0, join(out, 'a.tar.gz'), 'gz');
    const gb = await pack(t1, join(out, 'b.tar.gz'), 'gz');
    expect(ga.sha256).toBe(gb.sha256);
    expect(ga.tarSha256).toBe(a.tarSha256);
    expect(sha(await readFile(join(out, 'a.tar.gz')))).toBe(ga.sha256);
    // gzip agrees it is valid, and it holds exactly the tar
    execFileSync('gzip', ['-t', join(out, 'a.tar.gz')]);
    expect(sha(execFileSync('gzip', ['-dc', join(out, 'a.tar.gz')], { maxBuffer: 1 << 26 }))).toBe(a.tarSha256);
  });

  it('GNU tar lists the entries as specified and extracts exactly the tree', async () => {
    const t0 = await makeTree(0);
    const out = await tmp.make();
    const r = await pack(t0, join(out, 'x.tar.gz'), 'gz');
    const listing = execFileSync('tar', ['-tvzf', join(out, 'x.tar.gz'), '--numeric-owner'], {
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' },
    }).toString('utf8');
    const lines = listing.trim().split('\n');
    for (const l of lines) {
      expect(l).toMatch(/^(drwxr-xr-x|-rw-r--r--|-rwxr-xr-x|lrwxrwxrwx) 0\/0 /);
      expect(l).toContain('2023-11-14 22:13');
    }
    expect(lines.find((l) => l.includes('run.sh'))).toMatch(/^-rwxr-xr-x/);
    expect(lines.some((l) => l.endsWith('xen-4.22.0/empty-dir/'))).toBe(true);
    expect(listing).toContain(`xen-4.22.0/${LONG}`);
    expect(listing).toContain('xen-4.22.0/docs/caf\u00e9/\u00fcber.md');
    expect(listing).not.toContain('PaxHeaders');
    // order: what GNU `tar --sort=name` produces for the same tree
    const x = await tmp.make();
    execFileSync('tar', ['-xzf', join(out, 'x.tar.gz'), '-C', x]);
    const gnuOrder = execFileSync('sh', ['-c', `tar --sort=name -cf - -C '${x}' xen-4.22.0 | tar -tf -`], {
      env: { ...process.env, LC_ALL: 'C' },
    }).toString('utf8');
    const ours = execFileSync('tar', ['-tzf', join(out, 'x.tar.gz')], {
      env: { ...process.env, LC_ALL: 'C' },
    }).toString('utf8');
    expect(ours).toBe(gnuOrder);
    // content: the extracted tree hashes like the source plus the lock
    const extracted = await hashDir(join(x, 'xen-4.22.0'));
    const source = await hashDir(t0);
    expect(extracted.entries.filter((e) => e.path !== 'xenrel.lock')).toEqual(source.entries);
    expect(extracted.hash).toBe((await hashDir(join(x, 'xen-4.22.0'))).hash);
    expect(r.entries.length).toBe(extracted.entries.length);
    // the reader's tree hash over the archive = the writer's entries
    const read = await hashTarball(join(out, 'x.tar.gz'));
    expect(read.topDirs).toEqual(['xen-4.22.0']);
    expect(
      read.entries
        .map((e) => ({ ...e, path: e.path.slice('xen-4.22.0/'.length) }))
        .sort((p, q) => (p.path < q.path ? -1 : 1)),
    ).toEqual([...r.entries].sort((p, q) => (p.path < q.path ? -1 : 1)));
  });

  it('orders names as GNU tar --sort=name does, past U+D800 and with raw bytes', async () => {
    // Characters whose UTF-16 order differs from their UTF-8 byte order (U+E000 and U+FFFD
    // against astral ones), `/` against the bytes below and above it, and a raw 0xFF byte.
    const parts = ['a', 'a-b', 'a.b', 'a0', 'b', '\u00e9', '\ue000', '\ufffd', '\u{1f600}', 'z\u{10400}', '\udcff'];
    let seed = 7;
    const pick = () => parts[(seed = (seed * 1103515245 + 12345) >>> 0) % parts.length]!;
    const paths = new Set<string>();
    while (paths.size < 120) paths.add(Array.from({ length: 1 + (seed % 3) }, pick).join('/') + pick());
    const sources: EntrySource[] = [];
    const dirs = new Set(
      [...paths].flatMap((p) =>
        p
          .split('/')
          .slice(0, -1)
          .map((_, i, a) => a.slice(0, i + 1).join('/')),
      ),
    );
    for (const p of [...paths].reverse()) if (!dirs.has(p)) sources.push(bufferEntry(p, Buffer.from(p)));
    const out = await tmp.make();
    await writeArchive(sources, { out: join(out, 'o.tar'), format: 'none', topDir: 't', mtime: 0 });
    const x = await tmp.make();
    execFileSync('tar', ['-xf', join(out, 'o.tar'), '-C', x]);
    const env = { ...process.env, LC_ALL: 'C' };
    const gnu = execFileSync('sh', ['-c', `tar --sort=name -cf - -C '${x}' t | tar -tf -`], { env });
    expect(execFileSync('tar', ['-tf', join(out, 'o.tar')], { env }).equals(gnu)).toBe(true);
  });

  it('bsdtar (libarchive) lists and extracts exactly what GNU tar does', async () => {
    const t0 = await makeTree(0);
    const out = await tmp.make();
    await pack(t0, join(out, 'x.tar.gz'), 'gz');
    const env = { ...process.env, LC_ALL: 'C.UTF-8' };
    const gnuList = execFileSync('tar', ['-tzf', join(out, 'x.tar.gz')], { env }).toString('utf8');
    const bsdList = execFileSync('bsdtar', ['-tzf', join(out, 'x.tar.gz')], { env }).toString('utf8');
    expect(bsdList).toBe(gnuList);
    expect(bsdList).toContain(`xen-4.22.0/${LONG}`);
    expect(bsdList).toContain('xen-4.22.0/docs/caf\u00e9/\u00fcber.md');
    const g = await tmp.make();
    const b = await tmp.make();
    execFileSync('tar', ['-xzf', join(out, 'x.tar.gz'), '-C', g], { env });
    execFileSync('bsdtar', ['-xzf', join(out, 'x.tar.gz'), '-C', b], { env });
    expect((await hashDir(join(b, 'xen-4.22.0'))).entries).toEqual((await hashDir(join(g, 'xen-4.22.0'))).entries);
  });

  it('Python tarfile reads long and non-ASCII paths and link targets identically', async () => {
    const t0 = await makeTree(0);
    const out = await tmp.make();
    await pack(t0, join(out, 'x.tar'), 'none');
    const py = `import tarfile, json, sys
t = tarfile.open(sys.argv[1])
print(json.dumps([[m.name, m.type.decode(), m.linkname, m.mode, m.uid, m.uname, m.mtime] for m in t.getmembers()]))`;
    const members = JSON.parse(execFileSync('python3', ['-c', py, join(out, 'x.tar')]).toString('utf8')) as [
      string,
      string,
      string,
      number,
      number,
      string,
      number,
    ][];
    const names = members.map((m) => m[0]);
    expect(names).toContain(`xen-4.22.0/${LONG}`);
    expect(names).toContain('xen-4.22.0/docs/caf\u00e9/\u00fcber.md');
    expect(members.find((m) => m[0] === 'xen-4.22.0/docs/link-to-caf\u00e9')?.[2]).toBe('caf\u00e9');
    for (const m of members) {
      expect(m[4]).toBe(0);
      expect(m[5]).toBe('');
      expect(m[6]).toBe(1_700_000_000);
    }
    // pax headers only for the entries that need one, never named after a PID
    const raw = await readFile(join(out, 'x.tar'));
    const paxNames: string[] = [];
    for (let off = 0; off + 512 <= raw.length; ) {
      const name = raw
        .subarray(off, off + 100)
        .toString('latin1')
        .replace(/\0.*$/s, '');
      if (!name) break;
      const size = parseInt(raw.subarray(off + 124, off + 136).toString('latin1'), 8);
      if (raw[off + 156] === 0x78) paxNames.push(name);
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(paxNames.sort()).toEqual(
      [
        'xen-4.22.0/PaxHeaders/caf_',
        'xen-4.22.0/PaxHeaders/file-with-a-long-name.txt',
        'xen-4.22.0/PaxHeaders/link-to-caf_',
        `xen-4.22.0/PaxHeaders/${'long-directory-name-'.repeat(6).slice(0, 100 - 'xen-4.22.0/PaxHeaders/'.length)}`,
        'xen-4.22.0/PaxHeaders/_ber.md',
      ].sort(),
    );
  });

  it('refuses symlinks that leave the tree, duplicates and bad top directories, before writing anything', async () => {
    const out = await tmp.make();
    const cases: [EntrySource[], string, string][] = [
      // an absolute link is inert (edk2 has some), but nothing may resolve through it
      [
        [
          { kind: 'symlink', path: 'l', target: '/etc' },
          { kind: 'symlink', path: 'm', target: 'l/passwd' },
        ],
        'E_TAR_LINK_ESCAPE',
        'xen/m',
      ],
      [[{ kind: 'symlink', path: 'a/l', target: '../../x' }], 'E_TAR_LINK_ESCAPE', 'xen/a/l'],
      [
        [
          { kind: 'symlink', path: 'a/s', target: '..' },
          { kind: 'symlink', path: 'a/t', target: 's/..' },
        ],
        'E_TAR_ROOT_ENTRY',
        'xen/a/t',
      ],
      [
        [
          { kind: 'symlink', path: 'a/s', target: '..' },
          { kind: 'symlink', path: 'a/t', target: 's/../..' },
        ],
        'E_TAR_LINK_ESCAPE',
        'xen/a/t',
      ],
      [[bufferEntry('x', 'a'), bufferEntry('x', 'b')], 'E_ARCHIVE_DUPLICATE', 'x'],
      [[bufferEntry('x', 'a'), bufferEntry('x/y', 'b')], 'E_ARCHIVE_DUPLICATE', 'x/y'],
      [[bufferEntry('../x', 'a')], 'E_TAR_TRAVERSAL', '../x'],
      [[bufferEntry('README', 'a'), bufferEntry('readme', 'b')], 'E_TAR_COLLISION', 'readme'],
    ];
    for (const [entries, code, where] of cases) {
      const err = await writeArchive(entries, {
        out: join(out, 'x.tar.gz'),
        format: 'gz',
        topDir: 'xen',
        mtime: 0,
      }).catch((e: unknown) => e);
      expect(err, code).toBeInstanceOf(XenrelError);
      expect((err as XenrelError).code).toBe(code);
      expect((err as XenrelError).message).toContain(where);
    }
    expect(() => planEntries([], { topDir: 'a/b', mtime: 0 })).toThrow(/top directory/);
    expect(() => planEntries([], { topDir: 'x', mtime: -1 })).toThrow(/mtime/);
    expect(await readdir(out)).toEqual([]);
    // an internal link is fine, also to the top directory itself
    await writeArchive(
      [
        { kind: 'symlink', path: 'a/l', target: '../b' },
        { kind: 'symlink', path: 'a/top', target: '..' },
      ],
      {
        out: join(out, 'ok.tar'),
        format: 'none',
        topDir: 'xen',
        mtime: 0,
      },
    );
  });

  it('a file that changes size while packing fails the write and leaves no output', async () => {
    const root = await tmp.make();
    await writeFile(join(root, 'f'), 'short');
    const out = await tmp.make();
    const entries: EntrySource[] = [
      { kind: 'file', path: 'f', executable: false, size: 10, content: { type: 'path', abs: join(root, 'f') } },
    ];
    const err = await writeArchive(entries, {
      out: join(out, 'x.tar.gz'),
      format: 'gz',
      topDir: 'xen',
      mtime: 0,
    }).catch((e: unknown) => e);
    expect((err as XenrelError).code).toBe('E_FILE_CHANGED');
    expect(await readdir(out)).toEqual([]);
  });

  it('a write killed with SIGKILL leaves nothing under the final name', async () => {
    const src = await tmp.make();
    await writeFile(join(src, 'big'), (await import('node:crypto')).randomBytes(48 << 20)); // seconds of deflate
    const out = await tmp.make();
    const script = join(out, 'w.mts');
    await writeFile(
      script,
      `import { entriesFromDir } from ${JSON.stringify(join(repoRoot, 'src/archive/entries.ts'))};
import { writeArchive } from ${JSON.stringify(join(repoRoot, 'src/archive/write-archive.ts'))};
await writeArchive(await entriesFromDir(process.argv[2]), { out: process.argv[3], format: 'gz', level: 9, topDir: 'x', mtime: 0 });`,
    );
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', script, src, join(out, 'x.tar.gz')], {
      cwd: repoRoot,
      stdio: 'ignore',
    });
    // wait for the temp file to appear, then kill
    for (let i = 0; i < 600 && !(await readdir(out)).some((f) => f.includes('.xenrel-tmp-')); i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const left = await readdir(out);
    expect(left).not.toContain('x.tar.gz');
    expect(left.some((f) => f.startsWith('.x.tar.gz.xenrel-tmp-'))).toBe(true); // a temp, never read as the archive
  });

  it('xz and zstd round-trip to the same tar; a missing program is named', async () => {
    const t0 = await makeTree(0);
    const out = await tmp.make();
    const tar = await pack(t0, join(out, 'x.tar'), 'none');
    const xz = await pack(t0, join(out, 'x.tar.xz'), 'xz');
    const zst = await pack(t0, join(out, 'x.tar.zst'), 'zst', 3);
    expect(sha(execFileSync('xz', ['-dc', join(out, 'x.tar.xz')], { maxBuffer: 1 << 26 }))).toBe(tar.tarSha256);
    expect(sha(execFileSync('zstd', ['-dc', join(out, 'x.tar.zst')], { maxBuffer: 1 << 26 }))).toBe(tar.tarSha256);
    expect(xz.tarSha256).toBe(tar.tarSha256);
    expect(zst.tarSha256).toBe(tar.tarSha256);
    expect((await hashTarball(join(out, 'x.tar.xz'))).hash).toBe((await hashTarball(join(out, 'x.tar'))).hash);
    expect((await hashTarball(join(out, 'x.tar.zst'))).compression).toBe('zst');
    // the same again: same bytes
    const xz2 = await pack(t0, join(out, 'y.tar.xz'), 'xz');
    expect(xz2.sha256).toBe(xz.sha256);
    // bzip2 is read too (upstream tarballs)
    execFileSync('sh', ['-c', `bzip2 -c '${join(out, 'x.tar')}' > '${join(out, 'x.tar.bz2')}'`]);
    expect((await hashTarball(join(out, 'x.tar.bz2'))).hash).toBe((await hashTarball(join(out, 'x.tar'))).hash);

    const path = process.env.PATH;
    process.env.PATH = await tmp.make();
    try {
      const err = await pack(t0, join(out, 'z.tar.zst'), 'zst').catch((e: unknown) => e);
      expect((err as XenrelError).code).toBe('E_MISSING_PROGRAM');
      expect((err as XenrelError).message).toMatch(/^zstd is not installed/);
      const err2 = await hashTarball(join(out, 'x.tar.xz')).catch((e: unknown) => e);
      expect((err2 as XenrelError).code).toBe('E_MISSING_PROGRAM');
    } finally {
      process.env.PATH = path;
    }
    expect((await readdir(out)).sort()).toEqual(['x.tar', 'x.tar.bz2', 'x.tar.xz', 'x.tar.zst', 'y.tar.xz']);
  });
});

async function collect(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of src) parts.push(c);
  return Buffer.concat(parts);
}

async function* pieces(b: Buffer, size: number) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('parallel gzip', () => {
  it('has a fixed header, decompresses to the input and does not depend on chunking or concurrency', async () => {
    const input = Buffer.concat([bigContent(), Buffer.from('tail')]);
    const a = await collect(gzipChunks(pieces(input, 65536), { level: 6, concurrency: 1 }));
    const b = await collect(gzipChunks(pieces(input, 1_000_003), { level: 6, concurrency: 8 }));
    expect(sha(a)).toBe(sha(b));
    expect([...a.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const dir = await tmp.make();
    await writeFile(join(dir, 'x.gz'), a);
    execFileSync('gzip', ['-t', join(dir, 'x.gz')]);
    expect(sha(execFileSync('gzip', ['-dc', join(dir, 'x.gz')], { maxBuffer: 1 << 26 }))).toBe(sha(input));
    const nine = await collect(gzipChunks(pieces(input, 65536)));
    expect(nine[8]).toBe(2); // XFL for level 9
    expect(sha(execFileSync('gzip', ['-dc'], { input: nine, maxBuffer: 1 << 26 }))).toBe(sha(input));
    // empty input and an input of exactly one block
    expect(execFileSync('gzip', ['-dc'], { input: await collect(gzipChunks(pieces(Buffer.alloc(0), 1))) }).length).toBe(
      0,
    );
    const one = Buffer.alloc(1 << 20, 'ab');
    expect(
      sha(execFileSync('gzip', ['-dc'], { input: await collect(gzipChunks(pieces(one, 4096))), maxBuffer: 1 << 22 })),
    ).toBe(sha(one));
    await expect(gzipChunks(pieces(one, 1), { level: 0 }).next()).rejects.toThrow(RangeError);
  });

  it('gives the same bytes with UV_THREADPOOL_SIZE 1 and 4 (child processes)', async () => {
    const dir = await tmp.make();
    const script = join(dir, 'gz.mts');
    await writeFile(
      script,
      `import { gzipChunks } from ${JSON.stringify(join(repoRoot, 'src/archive/gzip.ts'))};
import { createHash } from 'node:crypto';
let x = 7; const b = Buffer.alloc(5 << 20);
for (let i = 0; i < b.length; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = (i % 3 === 0) ? (x >>> 24) : 97 + (i % 7); }
async function* src() { for (let i = 0; i < b.length; i += 100_000) yield b.subarray(i, i + 100_000); }
const h = createHash('sha256');
for await (const c of gzipChunks(src(), { level: 6 })) h.update(c);
console.log(h.digest('hex'));`,
    );
    const run = (threads: string) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
        cwd: repoRoot,
        env: { ...process.env, UV_THREADPOOL_SIZE: threads },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const one = run('1');
    expect(one).toMatch(/^[0-9a-f]{64}$/);
    expect(run('4')).toBe(one);
  });

  it('compressChunks("none") passes the tar through', async () => {
    const b = Buffer.from('abc');
    expect(await collect(compressChunks(pieces(b, 1), 'none'))).toEqual(b);
  });
});
