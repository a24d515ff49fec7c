import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, symlink, writeFile, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures } from '../helpers/git-repos.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { readBlobHashes, writeBlobHashes } from '../../src/release/blob-hash-cache.js';

// A release of a git project reads the commit from git objects; these tests hold it to
// what `git archive` (Xen's mktarball) gives, with GNU tar and diff as the judges.

const tmp = tempDirs();
let fx: GitFixtures;
const EPOCH = '1700000000';
const gitEnv = () => ({ ...fx.env, GIT_AUTHOR_DATE: `@${EPOCH} +0000`, GIT_COMMITTER_DATE: `@${EPOCH} +0000` });
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8' });

beforeAll(async () => {
  fx = await GitFixtures.create();
});
afterAll(async () => {
  await fx?.cleanup();
  await tmp.cleanup();
});

const CONFIG = 'version: 1\nname: proj\nrelease:\n  version: "1.0"\ncomponents: {}\n';
const LOCK = '{\n  "components": {},\n  "lockfileVersion": 1,\n  "name": "proj"\n}\n';

/** A committed project with what git archive treats specially, and names whose order differs between git and GNU tar. */
async function project(opts: { attributes?: boolean } = {}): Promise<string> {
  const dir = await tmp.make('xenrel-gitproj-');
  const put = async (p: string, c: string | Buffer, mode = 0o644) => {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), c);
    await chmod(join(dir, p), mode);
  };
  await put('xenrel.config.yaml', CONFIG);
  await put('xenrel.lock', LOCK);
  await put('.config', 'CONFIG_X=y\n');
  // git sorts `a-b`, `a.c` before `a/`; GNU tar --sort=name puts `a/` first.
  await put('a/file', 'a\n');
  await put('a-b/c/f', 'ab\n');
  await put('a.c', 'int a;\n');
  await put('tools/libs.mk', 'LIBS\n');
  await put('tools/libs/x.c', 'int x;\n');
  await put('tools/run.sh', '#!/bin/sh\necho run\n', 0o755);
  await put(`${'d'.repeat(70)}/${'e'.repeat(70)}/long-name.txt`, 'long path\n');
  await put('docs/Ünïcødé.txt', 'ü\n');
  await mkdir(join(dir, 'docs', 'in'), { recursive: true });
  await symlink('../Ünïcødé.txt', join(dir, 'docs', 'in', 'up'));
  await symlink('a/file', join(dir, 'link'));
  // Enough content to span many read chunks of git's stream.
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 9)) >>> 0, i);
  await put('blobs/firmware.bin', big);
  await put('empty', '');
  if (opts.attributes) {
    await put('.gitarchive-info', 'Commit: $Format:%H %ct$\n');
    await put('secret/key', 'do not ship\n');
    await put('junk.tmp', 'scratch\n');
    await put('crlf.txt', 'one\ntwo\n');
    await put('id.c', '/* $Id$ */\n');
    await put(
      '.gitattributes',
      '.gitarchive-info export-subst\nsecret export-ignore\n*.tmp export-ignore\ncrlf.txt text eol=crlf\nid.c ident\n',
    );
  }
  git(dir, 'init', '-q');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'proj');
  // A submodule entry: git archive writes it as an empty directory.
  git(dir, 'update-index', '--add', '--cacheinfo', `160000,${git(dir, 'rev-parse', 'HEAD').trim()},mod/sub`);
  git(dir, 'commit', '-q', '-m', 'sub');
  await mkdir(join(dir, 'mod', 'sub'), { recursive: true });
  return dir;
}

const release = (dir: string, cache: string, out: string, env: NodeJS.ProcessEnv = {}) =>
  runInProcess(['release', '--cache', cache, '--out', out, '--level', '6'], { cwd: dir, env: { ...gitEnv(), ...env } });

const extract = async (tarball: string, args: string[] = ['-xzf']) => {
  const x = await tmp.make('xenrel-x-');
  execFileSync('tar', [...args, tarball, '-C', x]);
  return x;
};

/** `find` listing of type, exec bit and path: what diff -r does not compare. */
const kinds = (dir: string) =>
  execFileSync(
    'sh',
    [
      '-c',
      `cd "${dir}" && find . -mindepth 1 \\( -type f -perm -u+x -printf 'x %P\\n' \\) -o \\( -type f -printf 'f %P\\n' \\) -o -printf '%y %P\\n' | LC_ALL=C sort`,
    ],
    { encoding: 'utf8' },
  );

/** A release of `dir` with an empty cache, extracted by GNU tar, beside `git archive HEAD` extracted; xenrel's `.xenrel` removed. */
async function releasedAndArchived(dir: string): Promise<{ ours: string; theirs: string; cache: string }> {
  const cache = await tmp.make('xenrel-cache-');
  const r = await release(dir, cache, join(dir, 'out'));
  expect(r.code, r.stderr).toBe(0);
  const ours = join(await extract(join(dir, 'out', 'proj-1.0.tar.gz')), 'proj-1.0');
  const theirs = await tmp.make('xenrel-ga-');
  execFileSync('sh', ['-c', `git archive --format=tar HEAD | tar -xf - -C "${theirs}"`], { cwd: dir, env: gitEnv() });
  await rm(join(ours, '.xenrel'), { recursive: true });
  return { ours, theirs, cache };
}

describe('release of a git project, from git objects', () => {
  it('holds what `git archive` of the commit holds (export-ignore, export-subst, eol, ident, submodule), per GNU tar and diff', async () => {
    const dir = await project({ attributes: true });
    // xenrel's own part is added (and .config gets its block): everything else is git archive's.
    const { ours, theirs } = await releasedAndArchived(dir);
    for (const f of ['.config']) {
      expect(await readFile(join(ours, f), 'utf8')).toContain(await readFile(join(theirs, f), 'utf8'));
      await rm(join(ours, f));
      await rm(join(theirs, f));
    }
    execFileSync('diff', ['-r', '--no-dereference', theirs, ours]);
    expect(kinds(ours)).toBe(kinds(theirs));
    // The attributes did act (so the comparison above means something).
    const names = await readdir(ours);
    expect(names).not.toContain('secret');
    expect(names).not.toContain('junk.tmp');
    expect(await readFile(join(ours, 'crlf.txt'), 'utf8')).toBe('one\r\ntwo\r\n');
    expect(await readFile(join(ours, '.gitarchive-info'), 'utf8')).toBe(
      `Commit: ${git(dir, 'rev-parse', 'HEAD').trim()} ${EPOCH}\n`,
    );
    expect(await readFile(join(ours, 'id.c'), 'utf8')).toMatch(/^\/\* \$Id: [0-9a-f]{40} \$ \*\/\n$/);
    expect((await stat(join(ours, 'mod', 'sub'))).isDirectory()).toBe(true);
    expect((await runInProcess(['verify', join(dir, 'out', 'proj-1.0.tar.gz')], { cwd: dir })).code).toBe(0);
  });

  it('hashes a checked-out file only when its bytes are the blob: edited, replaced and missing files come from git', async () => {
    const dir = await project();
    // Work-tree changes git is told to overlook, so the release does not refuse them as dirty.
    const hidden = ['a.c', 'tools/run.sh', 'link', 'a/file', 'blobs/firmware.bin', 'docs/Ünïcødé.txt'];
    git(dir, 'update-index', '--assume-unchanged', ...hidden);
    await writeFile(join(dir, 'a.c'), 'int b;\n'); // same size, other bytes
    await writeFile(join(dir, 'tools/run.sh'), '#!/bin/sh\necho changed\n');
    await rm(join(dir, 'link'));
    await symlink('a.c', join(dir, 'link'));
    await rm(join(dir, 'a/file'));
    await symlink('../a.c', join(dir, 'a/file')); // a symlink where git has a file
    await rm(join(dir, 'blobs/firmware.bin'));
    await writeFile(join(dir, 'docs/Ünïcødé.txt'), 'ü\r\n'); // as an eol conversion would leave it
    expect(git(dir, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    const { ours, theirs, cache } = await releasedAndArchived(dir);
    for (const d of [ours, theirs]) await rm(join(d, '.config'));
    execFileSync('diff', ['-r', '--no-dereference', theirs, ours]);
    expect(kinds(ours)).toBe(kinds(theirs));
    // The blob-hash cache holds git's hashes, not the edited files'.
    const blobSha = (p: string) =>
      execFileSync('sh', ['-c', `git cat-file blob HEAD:'${p}' | sha256sum`], { cwd: dir, encoding: 'utf8' }).slice(
        0,
        64,
      );
    const cached = await readBlobHashes(cache);
    for (const p of ['a.c', 'tools/run.sh', 'a/file', 'docs/Ünïcødé.txt', 'tools/libs.mk'])
      expect(cached.get(git(dir, 'rev-parse', `HEAD:${p}`).trim())?.sha256, p).toBe(blobSha(p));
  });

  it('cuts the same bytes from the git project as from a folder holding that commit', async () => {
    for (const attributes of [false, true]) {
      const dir = await project({ attributes });
      const cache = await tmp.make('xenrel-cache-');
      const fromGit = await release(dir, cache, join(dir, 'out'));
      expect(fromGit.code, fromGit.stderr).toBe(0);
      // The folder: a clone's checkout without .git, or (with attributes) git archive's content.
      const folder = join(await tmp.make('xenrel-folder-'), 'proj');
      if (attributes) {
        await mkdir(folder);
        execFileSync('sh', ['-c', `git archive --format=tar HEAD | tar -xf - -C "${folder}"`], {
          cwd: dir,
          env: gitEnv(),
        });
      } else {
        git(dir, 'clone', '-q', dir, folder);
        await rm(join(folder, '.git'), { recursive: true });
        await mkdir(join(folder, 'mod', 'sub'), { recursive: true });
      }
      const out = await tmp.make('xenrel-out-');
      const fromDir = await release(folder, cache, out, { SOURCE_DATE_EPOCH: EPOCH });
      expect(fromDir.code, fromDir.stderr).toBe(0);
      // Only release.json may differ: a git project's names the commit it was cut from.
      const a = join(dir, 'out', 'proj-1.0.tar.gz');
      const b = join(out, 'proj-1.0.tar.gz');
      const listing = (t: string) =>
        execFileSync('tar', ['-tvzf', t, '--full-time', '--numeric-owner'], { encoding: 'utf8' }).replace(
          /^.* proj-1\.0\/\.xenrel\/release\.json$/m,
          '',
        );
      expect(listing(a), `attributes: ${attributes}`).toBe(listing(b));
      const [xa, xb] = [await extract(a), await extract(b)];
      const info = async (x: string) => JSON.parse(await readFile(join(x, 'proj-1.0/.xenrel/release.json'), 'utf8'));
      const [ia, ib] = [await info(xa), await info(xb)];
      expect(ia.project.commit).toBe(git(dir, 'rev-parse', 'HEAD').trim());
      expect(ib.project.commit).toBeUndefined();
      delete ia.project.commit;
      expect(ia).toEqual(ib);
      await rm(join(xa, 'proj-1.0/.xenrel/release.json'));
      await rm(join(xb, 'proj-1.0/.xenrel/release.json'));
      execFileSync('diff', ['-r', '--no-dereference', xa, xb]);
    }
  });

  it("keeps each blob's sha256 in the cache; a re-release gives the same bytes; a wrong cached hash fails the release, never passes it", async () => {
    const dir = await project();
    const cache = await tmp.make('xenrel-cache-');
    expect((await release(dir, cache, join(dir, 'out1'))).code).toBe(0);
    const saved = await readBlobHashes(cache);
    // Every file blob of the commit, with the sha256 sha256sum gives for `git cat-file blob`.
    const blobs = git(dir, 'ls-tree', '-r', 'HEAD')
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('100'))
      .map((l) => l.split(/\s+/)[2]!);
    for (const oid of new Set(blobs)) {
      const sum = execFileSync('sh', ['-c', `git cat-file blob ${oid} | sha256sum`], {
        cwd: dir,
        encoding: 'utf8',
      }).split(' ')[0];
      const size = execFileSync('git', ['cat-file', '-s', oid], { cwd: dir, encoding: 'utf8' }).trim();
      expect(saved.get(oid), oid).toEqual({ size: Number(size), sha256: sum });
    }
    expect((await release(dir, cache, join(dir, 'out2'))).code).toBe(0);
    expect(
      (await readFile(join(dir, 'out2', 'proj-1.0.tar.gz'))).equals(
        await readFile(join(dir, 'out1', 'proj-1.0.tar.gz')),
      ),
    ).toBe(true);

    // Poison the entry of one file: the read-back verify catches the wrong release.json.
    const victim = git(dir, 'rev-parse', 'HEAD:a.c').trim();
    await writeBlobHashes(cache, new Map([...saved, [victim, { ...saved.get(victim)!, sha256: '0'.repeat(64) }]]));
    const bad = await release(dir, cache, join(dir, 'out3'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('does not verify');
    expect(await readdir(join(dir, 'out3')).catch(() => [])).not.toContain('proj-1.0.tar.gz');
    // The cache was dropped with it: the next release recomputes and succeeds.
    const again = await release(dir, cache, join(dir, 'out3'));
    expect(again.code, again.stderr).toBe(0);
    expect(
      (await readFile(join(dir, 'out3', 'proj-1.0.tar.gz'))).equals(
        await readFile(join(dir, 'out1', 'proj-1.0.tar.gz')),
      ),
    ).toBe(true);
  });

  it('a damaged repository (a blob missing) is a clear error and leaves no tarball', async () => {
    const dir = await project();
    const oid = git(dir, 'rev-parse', 'HEAD:a.c').trim();
    await rm(join(dir, '.git', 'objects', oid.slice(0, 2), oid.slice(2)));
    const r = await release(dir, await tmp.make('xenrel-cache-'), join(dir, 'out'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`git object ${oid} is missing`);
    expect(r.stderr).not.toMatch(/unexpected error|at .*\.js:\d+/);
    expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
  });
});
