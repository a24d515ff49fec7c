import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { hashTarball, readTar } from '../../src/archive/reader.js';
import { safeExtract } from '../../src/archive/extract.js';
import { hashDir } from '../../src/tree/walk.js';
import { treeHash } from '../../src/tree/hash.js';

/** What real tools write must read back as exactly the tree they packed. */

const tmp = tempDirs();
afterAll(() => tmp.cleanup());
let base: string;
let expected: Awaited<ReturnType<typeof hashDir>>;
let contentBytes = 0;

beforeAll(async () => {
  base = await tmp.make('xenrel-reader-');
  const top = join(base, 'proj');
  const files: Record<string, string> = {
    Makefile: 'all:\n',
    'src/main.c': 'int main(void) { return 0; }\n',
    [`${'very-long-directory-name/'.repeat(5)}and-a-long-file-name-too.c`]: 'long\n',
    'docs/r\u00e9sum\u00e9.txt': 'unicode\n',
    'scripts/build.sh': '#!/bin/sh\n',
  };
  for (const [p, d] of Object.entries(files)) {
    contentBytes += Buffer.byteLength(d);
    await mkdir(dirname(join(top, p)), { recursive: true });
    await writeFile(join(top, p), d);
  }
  await chmod(join(top, 'scripts/build.sh'), 0o755);
  await symlink('../src/main.c', join(top, 'docs/main.c'));
  await symlink(`${'t'.repeat(120)}`, join(top, 'docs/long-target'));
  expected = await hashDir(top);
  execFileSync('git', ['init', '-q', top]);
  execFileSync('git', ['-C', top, 'add', '-A']);
  execFileSync('git', ['-C', top, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'x']);
});

const rel = <T extends { path: string }>(entries: T[]): T[] =>
  entries.map((e) => ({ ...e, path: e.path.slice('proj/'.length) }));

describe('reading archives written by other tools', () => {
  const makers: [string, (out: string) => void][] = [
    [
      'GNU tar --format=gnu',
      (out) => execFileSync('tar', ['--format=gnu', '--exclude=.git', '-czf', out, '-C', base, 'proj']),
    ],
    [
      'GNU tar --format=posix',
      (out) => execFileSync('tar', ['--format=posix', '--exclude=.git', '-cJf', out, '-C', base, 'proj']),
    ],
    [
      'GNU tar -C dir . (./ prefixes)',
      (out) => execFileSync('sh', ['-c', `cd '${base}' && tar --exclude=.git -cjf '${out}' ./proj`]),
    ],
    [
      'git archive (global pax comment)',
      (out) =>
        execFileSync('sh', [
          '-c',
          `git -C '${base}/proj' archive --format=tar --prefix=proj/ HEAD | zstd -q -c > '${out}'`,
        ]),
    ],
    [
      'Python tarfile (pax)',
      (out) =>
        execFileSync('python3', [
          '-c',
          `import tarfile,sys\nt=tarfile.open(sys.argv[1],'w:gz',format=tarfile.PAX_FORMAT)\nt.add(sys.argv[2]+'/proj',arcname='proj',filter=lambda i: None if '.git' in i.name.split('/') else i)\nt.close()`,
          out,
          base,
        ]),
    ],
  ];
  for (const [name, make] of makers) {
    it(name, async () => {
      const out = join(await tmp.make(), 'a.tar');
      make(out);
      const r = await hashTarball(out);
      expect(r.findings).toEqual([]);
      expect(r.topDirs).toEqual(['proj']);
      expect(rel(r.entries).sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))).toEqual(
        expected.entries,
      );
      expect(treeHash(rel(r.entries))).toBe(expected.hash);
      const x = join(await tmp.make(), 'x');
      const ex = await safeExtract(out, x);
      expect(ex.hash).toBe(r.hash);
      expect((await hashDir(join(x, 'proj'))).hash).toBe(expected.hash);
    });
  }

  it('hands each entry to the caller with its content', async () => {
    const out = join(await tmp.make(), 'a.tar.gz');
    execFileSync('tar', ['--exclude=.git', '-czf', out, '-C', base, 'proj']);
    const seen: string[] = [];
    let bytes = 0;
    const r = await readTar(out, {
      onEntry: (e) => {
        seen.push(`${e.type} ${e.path}`);
        if (e.type === 'file') return { write: (c) => void (bytes += c.length) };
      },
    });
    expect(r.compression).toBe('gz');
    expect(seen).toContain('file proj/src/main.c');
    expect(seen).toContain('symlink proj/docs/main.c');
    expect(seen).toContain('dir proj/src');
    expect(bytes).toBe(contentBytes); // the sink got every content byte, nothing else
  });
});
