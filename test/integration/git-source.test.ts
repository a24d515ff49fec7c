import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import { XenrelError } from '../../src/errors.js';
import { checkRef, refMovedError, resolveRef } from '../../src/sources/git/refs.js';
import { ensureCommit, ensureMirror, hasCommit } from '../../src/sources/git/mirror.js';
import { exportTree, gitTreeEntries } from '../../src/sources/git/tree.js';
import { fetchGit, lockGit } from '../../src/sources/git/source.js';
import { readGitmodules } from '../../src/sources/git/submodules.js';
import { treeHash } from '../../src/tree/hash.js';
import { hashDir } from '../../src/tree/walk.js';
import type { ProgressSink } from '../../src/types.js';
import { GitFixtures, pseudoRandomBytes, sampleFiles, type TestRepo } from '../helpers/git-repos.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

let fx: GitFixtures;
let up: TestRepo;
let c1: string; // first commit (tag v1.0, lightweight)
let c2: string; // second commit (tag v2.0, annotated; branch main)
let v2TagObject: string;
let n = 0;

async function newCache(): Promise<Cache> {
  const c = new Cache(join(fx.root, `cache-${++n}`));
  await c.init();
  return c;
}

async function expectXenrelError(p: Promise<unknown>, code: string, exitCode: number): Promise<XenrelError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(XenrelError);
  const x = err as XenrelError;
  expect(x.code).toBe(code);
  expect(x.exitCode).toBe(exitCode);
  return x;
}

function recorder(): ProgressSink & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (m) => warnings.push(m), info: (m) => infos.push(m) };
}

beforeAll(async () => {
  fx = await GitFixtures.create();
  up = await fx.repo('upstream', { files: sampleFiles() });
  c1 = await up.commit('first');
  await up.tag('v1.0');
  c2 = await up.commit('second', { 'src/main.c': 'int main(void) { return 2; }\n', NEWS: 'v2\n' });
  v2TagObject = await up.tag('v2.0', { annotated: true });
});

afterAll(async () => {
  await fx?.cleanup();
});

describe('resolving refs and locking', () => {
  it('locks a lightweight tag to its commit and the tree hash of a real checkout', async () => {
    const cache = await newCache();
    const locked = await lockGit(
      'seabios',
      { git: up.url, ref: 'v1.0', path: 'tools/firmware/seabios-dir-remote', license: 'LGPL-3.0-only' },
      cache,
    );
    expect(locked.commit).toBe(c1);
    expect(locked).toMatchObject({
      git: up.url,
      ref: 'v1.0',
      path: 'tools/firmware/seabios-dir-remote',
      license: 'LGPL-3.0-only',
    });
    const checkout = await up.cloneTo(join(fx.root, 'checkout-v1'), 'v1.0');
    expect(locked.tree).toBe((await hashDir(checkout)).hash);
  });

  it('locks an annotated tag to the commit it points at and reports the tag object', async () => {
    const cache = await newCache();
    const r = await resolveRef(up.url, 'v2.0', cache);
    expect(r).toMatchObject({ commit: c2, refKind: 'tag', tagObject: v2TagObject, warnings: [] });
    expect(v2TagObject).not.toBe(c2);
    const locked = await lockGit('x', { git: up.url, ref: 'v2.0', path: 'x' }, cache);
    expect(locked.commit).toBe(c2);
    expect(locked).not.toHaveProperty('tagObject'); // the lockfile schema is strict
    // Offline, refs come from the mirror, with a warning that upstream may have moved.
    const offline = await resolveRef(up.url, 'v2.0', cache, { offline: true });
    expect(offline).toMatchObject({ commit: c2, refKind: 'tag', tagObject: v2TagObject });
    expect(offline.warnings.join()).toMatch(/offline/);
    expect((await resolveRef(up.url, 'v1.0', cache, { offline: true })).commit).toBe(c1);
  });

  it('locks a branch with a warning that branches float', async () => {
    const cache = await newCache();
    const progress = recorder();
    const locked = await lockGit('mini-os', { git: up.url, ref: 'main', path: 'extras/mini-os-remote' }, cache, {
      progress,
    });
    expect(locked.commit).toBe(c2);
    expect(progress.warnings.join('\n')).toMatch(/mini-os: .*branch.*float/);
    expect((await resolveRef(up.url, 'main', cache)).refKind).toBe('branch');
  });

  it('locks a full commit id, and rejects one that does not exist upstream', async () => {
    const cache = await newCache();
    const locked = await lockGit('ovmf', { git: up.url, ref: c1, path: 'ovmf' }, cache);
    expect(locked.commit).toBe(c1);
    const missing = 'ba91d0292e593df8528b66f99c1b0b14fadc8e16';
    const err = await expectXenrelError(
      lockGit('ovmf', { git: up.url, ref: missing, path: 'ovmf' }, cache),
      'E_REF_NOT_FOUND',
      3,
    );
    expect(err.message).toContain(missing);
    expect(err.message).toContain(up.url);
  });

  it('expands an abbreviated commit id that is unique in the mirror', async () => {
    const cache = await newCache();
    const locked = await lockGit('x', { git: up.url, ref: c1.slice(0, 9), path: 'x' }, cache);
    expect(locked.commit).toBe(c1);
    const r = await resolveRef(up.url, c2.slice(0, 7), cache);
    expect(r).toMatchObject({ commit: c2, refKind: 'commit' });
  });

  it('names URL, ref and close tags for an unknown ref (exit 3)', async () => {
    const cache = await newCache();
    const err = await expectXenrelError(resolveRef(up.url, 'v2.O', cache, { label: 'qemu-xen' }), 'E_REF_NOT_FOUND', 3);
    expect(err.message).toContain('qemu-xen');
    expect(err.message).toContain('"v2.O"');
    expect(err.message).toContain(up.url);
    expect(err.message).toContain('v2.0');
    expect(err.hint).toContain('v2.0');
  });

  it('fails with E_FETCH_FAILED naming the URL when the repository does not exist', async () => {
    const cache = await newCache();
    const url = `file://${join(fx.root, 'no-such-repo')}`;
    const err = await expectXenrelError(resolveRef(url, 'v1', cache), 'E_FETCH_FAILED', 3);
    expect(err.message).toContain(url);
  });
});

describe('moved tags', () => {
  it('detects a moved tag (both commits, whether the trees differ) and still fetches the locked commit', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('moving', { files: { 'a.txt': 'one\n' } });
      const first = await r.commit('one');
      await r.tag('rel-1', { annotated: true });
      const cache = await newCache();
      const locked = await lockGit('seabios', { git: r.url, ref: 'rel-1', path: 'p' }, cache);
      expect(await checkRef(r.url, 'rel-1', locked.commit, cache)).toEqual({ moved: false });

      // Re-tag onto a commit with the same content: only the commit changed.
      const same = await r.commit('re-roll, same tree');
      await r.moveTag('rel-1', same, { annotated: true });
      expect(await checkRef(r.url, 'rel-1', first, cache)).toEqual({ moved: true, newCommit: same, treesEqual: true });

      // Re-tag onto different content.
      const other = await r.commit('changed', { 'a.txt': 'two\n' });
      await r.moveTag('rel-1', other, { annotated: true });
      const check = await checkRef(r.url, 'rel-1', first, cache);
      expect(check).toEqual({ moved: true, newCommit: other, treesEqual: false });
      const err = refMovedError('seabios', r.url, 'rel-1', first, check);
      expect(err).toMatchObject({ code: 'E_REF_MOVED', exitCode: 1 });
      expect(err.message).toContain(first);
      expect(err.message).toContain(other);
      expect(err.message).toContain('different content');

      // The lock pins the commit: fetching it still works, in the same cache and in a new one.
      expect(await fetchGit('seabios', locked, cache)).toMatchObject({ cached: true });
      const fresh = await newCache();
      expect(await fetchGit('seabios', locked, fresh)).toMatchObject({ cached: false });
      // The mirror keeps the pinned commit even though no upstream ref names it any more.
      const { mirrorDir } = await ensureCommit(r.url, first, fresh, { offline: true });
      expect(await f.git(['--git-dir', mirrorDir, 'show-ref', `refs/xenrel/pins/${first}`], f.root)).toContain(first);
    } finally {
      await f.cleanup();
    }
  });
});

describe('fetching', () => {
  it('fetches once; the second fetch needs no upstream at all', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('gone-soon', { files: sampleFiles() });
      await r.commit('c');
      await r.tag('v1');
      const cache = await newCache();
      const locked = await lockGit('c', { git: r.url, ref: 'v1', path: 'c' }, await newCache());
      expect(await fetchGit('c', locked, cache)).toMatchObject({ cached: false });
      await rm(r.dir, { recursive: true, force: true });
      expect(await fetchGit('c', locked, cache)).toMatchObject({ cached: true });
      expect(await fetchGit('c', locked, cache, { offline: true })).toMatchObject({ cached: true });
      // And the remembered verification is only a speed-up: without it the content is hashed again.
      const { mirrorDir } = await fetchGit('c', locked, cache);
      await rm(join(mirrorDir, 'xenrel-verified'), { recursive: true, force: true });
      expect(await fetchGit('c', locked, cache)).toMatchObject({ cached: true });
    } finally {
      await f.cleanup();
    }
  });

  it('a ref lock left by a killed git does not block the next fetch', async () => {
    const cache = await newCache();
    const locked = await lockGit('k', { git: up.url, ref: 'v1.0', path: 'k' }, cache);
    const { mirrorDir } = await fetchGit('k', locked, cache);
    const pin = `refs/xenrel/pins/${locked.commit}`;
    const gitIn = (...args: string[]) => spawnSync('git', ['--git-dir', mirrorDir, ...args], { encoding: 'utf8' });
    expect(gitIn('update-ref', '-d', pin).status).toBe(0);
    // What a git killed inside `update-ref` or `fetch` leaves behind.
    await mkdir(join(mirrorDir, 'refs', 'xenrel', 'pins'), { recursive: true });
    for (const f of [`${pin}.lock`, 'packed-refs.lock']) await writeFile(join(mirrorDir, f), '');
    // git itself refuses to move the ref while the lock file is there.
    const refused = gitIn('update-ref', pin, locked.commit);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('cannot lock ref');
    expect(await fetchGit('k', locked, cache, { offline: true })).toMatchObject({ cached: true });
    expect(gitIn('show-ref', '--verify', '--quiet', pin).status).toBe(0);
    expect(existsSync(join(mirrorDir, `${pin}.lock`)) || existsSync(join(mirrorDir, 'packed-refs.lock'))).toBe(false);
  });

  it('a pin whose commit object is gone is not taken as cached: the commit is fetched again', async () => {
    const cache = await newCache();
    const locked = await lockGit('p', { git: up.url, ref: 'v1.0', path: 'p' }, cache);
    const mirrorDir = cache.gitMirrorDir(up.url);
    const gitIn = (...args: string[]) => spawnSync('git', ['--git-dir', mirrorDir, ...args], { encoding: 'utf8' });
    expect((await ensureCommit(up.url, locked.commit, cache)).fetched).toBe(false);
    expect(gitIn('show-ref', '--verify', '--quiet', `refs/xenrel/pins/${locked.commit}`).status).toBe(0);
    // A damaged cache: the refs stay, every object goes.
    await rm(join(mirrorDir, 'objects'), { recursive: true, force: true });
    await mkdir(join(mirrorDir, 'objects', 'pack'), { recursive: true });
    expect(gitIn('cat-file', '-e', `${locked.commit}^{commit}`).status).not.toBe(0);
    await expectXenrelError(ensureCommit(up.url, locked.commit, cache, { offline: true }), 'E_OFFLINE_MISSING', 3);
    expect((await ensureCommit(up.url, locked.commit, cache)).fetched).toBe(true);
    expect(gitIn('cat-file', '-e', `${locked.commit}^{commit}`).status).toBe(0);
  });

  it('offline with no mirror, or a mirror without the commit: E_OFFLINE_MISSING, exit 3', async () => {
    const cache = await newCache();
    const locked = await lockGit('c', { git: up.url, ref: 'v1.0', path: 'c' }, await newCache());
    const err = await expectXenrelError(fetchGit('newlib', locked, cache, { offline: true }), 'E_OFFLINE_MISSING', 3);
    expect(err.message).toContain('newlib');
    expect(err.message).toContain(up.url);
    expect(existsSync(cache.gitMirrorDir(up.url))).toBe(false);

    const f = await GitFixtures.create();
    try {
      const r = await f.repo('grows', { files: { a: 'a\n' } });
      await r.commit('a');
      const cache2 = await newCache();
      await ensureMirror(r.url, cache2);
      const later = await r.commit('b', { b: 'b\n' });
      const e2 = await expectXenrelError(ensureCommit(r.url, later, cache2, { offline: true }), 'E_OFFLINE_MISSING', 3);
      expect(e2.message).toContain(later);
      expect((await ensureCommit(r.url, later, cache2)).fetched).toBe(true);
    } finally {
      await f.cleanup();
    }
  });

  it('rejects content that does not match the locked tree hash (E_TREE_MISMATCH, exit 3)', async () => {
    const cache = await newCache();
    const locked = await lockGit('c', { git: up.url, ref: 'v1.0', path: 'c' }, cache);
    const wrong = { ...locked, tree: treeHash([]) };
    const err = await expectXenrelError(fetchGit('seabios', wrong, cache), 'E_TREE_MISMATCH', 3);
    expect(err.message).toContain('seabios');
    expect(err.message).toContain(wrong.tree);
    expect(err.message).toContain(locked.tree);
  });

  it('works over the git smart protocol (git daemon on 127.0.0.1), and not at all once it stops', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('served', { files: sampleFiles() });
      const commit = await r.commit('c');
      await r.tag('v1', { annotated: true });
      const daemon = await f.startDaemon();
      const url = daemon.url(r);
      expect(url).toMatch(/^git:\/\/127\.0\.0\.1:\d+\/served$/);
      const cache = await newCache();
      const locked = await lockGit('served', { git: url, ref: 'v1', path: 's' }, cache);
      expect(locked.commit).toBe(commit);
      expect(locked.tree).toBe((await hashDir(await r.cloneTo(join(f.root, 'co')))).hash);
      const fetchCache = await newCache();
      expect(await fetchGit('served', locked, fetchCache)).toMatchObject({ cached: false });
      await daemon.stop();
      expect(await fetchGit('served', locked, fetchCache)).toMatchObject({ cached: true });
      // Proof that the daemon really is gone: anything needing the network now fails.
      await expectXenrelError(resolveRef(url, 'v1', fetchCache), 'E_FETCH_FAILED', 3);
    } finally {
      await f.cleanup();
    }
  });

  it('a first clone killed mid-fetch leaves nothing under the mirror name; the next run succeeds', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('big');
      const files: Record<string, Buffer> = {};
      // More than fetch.unpackLimit (100) objects, so git streams one pack (tmp_pack_*) rather than loose objects.
      for (let i = 0; i < 160; i++) files[`blob-${i}.bin`] = pseudoRandomBytes(160 << 10, i + 1);
      const commit = await r.commit('big', files);
      const cache = await newCache();
      const mirror = cache.gitMirrorDir(r.url);
      const gitParent = join(cache.root, 'git');

      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'test/helpers/git-mirror-child.ts'), r.url, cache.root],
        {
          cwd: ROOT,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      // Wait until git is receiving objects into the temporary mirror, then kill the whole group.
      let caught = false;
      for (let i = 0; i < 3000 && child.exitCode === null; i++) {
        const temps = (await readdir(gitParent).catch(() => [] as string[])).filter((x) => x.includes('.xenrel-tmp-'));
        const objects = temps.length ? join(gitParent, temps[0]!, 'objects') : '';
        const packs = objects ? await readdir(join(objects, 'pack')).catch(() => [] as string[]) : [];
        const loose = objects
          ? (await readdir(objects).catch(() => [] as string[])).filter((d) => /^[0-9a-f]{2}$/.test(d))
          : [];
        if (packs.some((p) => p.startsWith('tmp_pack')) || loose.length) {
          process.kill(-child.pid!, 'SIGKILL');
          caught = true;
          break;
        }
        await new Promise((res) => setTimeout(res, 5));
      }
      await exited;
      expect(caught, 'the clone finished before it could be killed; make the repo bigger').toBe(true);
      expect(existsSync(mirror)).toBe(false);
      expect((await readdir(gitParent)).some((x) => x.includes('.xenrel-tmp-'))).toBe(true);

      // The dead process's lock goes stale; the next run takes over, cleans up and clones.
      const dir = await ensureMirror(r.url, cache, { lockStaleMs: 2000 });
      expect(dir).toBe(mirror);
      expect(await hasCommit(dir, commit)).toBe(true);
      expect((await readdir(gitParent)).filter((x) => x.includes('.xenrel-tmp-'))).toEqual([]);
    } finally {
      await f.cleanup();
    }
  });
});

describe('content from raw git objects', () => {
  it('gitTreeEntries equals hashDir of a real checkout: exec bits, symlinks, non-ASCII names, empty files', async () => {
    const cache = await newCache();
    const { mirrorDir } = await ensureCommit(up.url, c2, cache);
    const tree = await gitTreeEntries(mirrorDir, c2);
    const checkout = await up.cloneTo(join(fx.root, 'checkout-c2'), c2);
    const disk = await hashDir(checkout);
    expect(tree.entries).toEqual(disk.entries);
    expect(treeHash(tree.entries)).toBe(disk.hash);
    const byPath = new Map(tree.entries.map((e) => [e.path, e]));
    expect(byPath.get('configure')?.mode).toBe('100755');
    expect(byPath.get('link-to-readme')?.mode).toBe('120000');
    expect(byPath.get('docs/Ünïcødé-名前.txt')?.mode).toBe('100644');
    expect(tree.gitlinks).toEqual([]);
  });

  it('hashes raw blobs: .gitattributes eol/export-subst/export-ignore do not change the tree hash, and are reported', async () => {
    // Decision (see src/sources/git/tree.ts): the tree hash is of the raw git content at the
    // commit. A checkout would convert line endings here and `git archive` would expand
    // $Format$ and drop docs/; neither may change what the lock records.
    const f = await GitFixtures.create();
    try {
      const files = {
        VERSION: 'commit $Format:%H$\n',
        'unix.txt': 'lf only\nsecond\n',
        'docs/guide.md': 'guide\n',
        'tool.sh': { content: '#!/bin/sh\necho hi\n', exec: true },
      };
      const r = await f.repo('attrs', { files });
      await r.commit('content first, so the blobs keep their bytes');
      const attrs = '*.txt text eol=crlf\nVERSION export-subst\ndocs export-ignore\n* ident\n';
      const commit = await r.commit('attributes', {
        '.gitattributes': attrs,
        'sub/.gitattributes': 'gen/* export-ignore -export-subst\n',
      });

      const cache = await newCache();
      const { mirrorDir } = await ensureCommit(r.url, commit, cache);
      const tree = await gitTreeEntries(mirrorDir, commit);

      // Expected: the same bytes written plainly into a folder without git.
      const plain = await f.repo('plain-copy', {
        files: { ...files, '.gitattributes': attrs, 'sub/.gitattributes': 'gen/* export-ignore -export-subst\n' },
      });
      expect(treeHash(tree.entries)).toBe((await hashDir(plain.dir)).hash);

      // The attributes are live: a real checkout differs (CRLF), git archive differs too.
      const checkout = await r.cloneTo(join(f.root, 'co'));
      expect((await hashDir(checkout)).hash).not.toBe(treeHash(tree.entries));
      expect(tree.attributes).toEqual({ exportSubst: ['VERSION'], exportIgnore: ['docs', 'sub/gen/*'] });
    } finally {
      await f.cleanup();
    }
  });

  it('exportTree writes the same tree (modes, symlinks) and refuses a non-empty destination', async () => {
    const cache = await newCache();
    const { mirrorDir } = await ensureCommit(up.url, c2, cache);
    const dest = join(fx.root, 'export-c2');
    const entries = await exportTree(mirrorDir, c2, dest);
    const disk = await hashDir(dest);
    expect(disk.entries).toEqual(entries);
    expect(treeHash(entries)).toBe(treeHash((await gitTreeEntries(mirrorDir, c2)).entries));
    expect((await stat(join(dest, 'configure'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dest, 'README'))).mode & 0o777).toBe(0o644);
    expect((await lstat(join(dest, 'src/link-up'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dest, 'src/link-up'))).toBe('../docs');
    await expectXenrelError(exportTree(mirrorDir, c2, dest), 'E_DEST_NOT_EMPTY', 2);
  });

  it('exportTree streams files larger than the in-memory limit, with the same hash', async () => {
    const f = await GitFixtures.create();
    try {
      const big = pseudoRandomBytes(3 << 20, 7);
      const r = await f.repo('large', {
        files: { 'big.bin': big, 'bin/tool': { content: big.subarray(0, (1 << 20) + 1), exec: true }, small: 's\n' },
      });
      const commit = await r.commit('large files');
      const cache = await newCache();
      const { mirrorDir } = await ensureCommit(r.url, commit, cache);
      const dest = join(f.root, 'out');
      const entries = await exportTree(mirrorDir, commit, dest);
      expect(await hashDir(dest)).toEqual({ hash: treeHash(entries), entries });
      expect(treeHash(entries)).toBe((await hashDir(await r.cloneTo(join(f.root, 'co')))).hash);
      expect((await stat(join(dest, 'bin/tool'))).mode & 0o777).toBe(0o755);
      expect((await stat(join(dest, 'big.bin'))).size).toBe(3 << 20);
    } finally {
      await f.cleanup();
    }
  });

  it('exportTree refuses symlinks that leave the tree, directly or through another link', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('evil', { files: { 'ok.txt': 'ok\n', evil: { symlink: '../../../etc/passwd' } } });
      const bad1 = await r.commit('escape');
      await r.remove('evil');
      const bad2 = await r.commit('chain', { 'a/b/l': { symlink: '..' }, 'a/b/m': { symlink: 'l/../..' } });
      await r.remove('a/b/l', 'a/b/m');
      const bad3 = await r.commit('root', { self: { symlink: '.' } });
      const cache = await newCache();
      for (const [i, c] of [bad1, bad2, bad3].entries()) {
        const { mirrorDir } = await ensureCommit(r.url, c, cache);
        const dest = join(f.root, `out-${i}`);
        const err = await expectXenrelError(exportTree(mirrorDir, c, dest), 'E_GIT_TREE', 1);
        expect(err.message).toMatch(/refusing symlink/);
        // Links are created last and checked first: no link exists in the staging folder.
        expect(
          await readdir(dest, { recursive: true }).then((l) =>
            l.filter((p) => p !== 'ok.txt' && !['a', 'a/b'].includes(p)),
          ),
        ).toEqual([]);
        // Hashing (no writes) still works: the tree hash describes the content as it is.
        expect((await gitTreeEntries(mirrorDir, c)).entries.length).toBeGreaterThan(0);
      }
    } finally {
      await f.cleanup();
    }
  });
});

describe('hostile trees and edge cases', () => {
  it('exportTree refuses entries named "..", ".git" (any case) that a crafted tree can hold', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('crafted', { files: { 'ok.txt': 'ok\n' } });
      await r.commit('base');
      const blob = (await r.git('hash-object', '-w', 'ok.txt')).trim();
      const cache = await newCache();
      for (const name of ['..', '.git', '.GIT']) {
        // `git mktree` writes what it is told; a malicious upstream can publish this.
        const inner = (await f.git(['mktree'], r.dir, {}, `100644 blob ${blob}\tconfig\n`)).trim();
        const tree = (
          await f.git(['mktree'], r.dir, {}, `100644 blob ${blob}\tok.txt\n040000 tree ${inner}\t${name}\n`)
        ).trim();
        const commit = (
          await f.git(['commit-tree', tree, '-m', 'crafted'], r.dir, {
            GIT_AUTHOR_DATE: f.tick(),
            GIT_COMMITTER_DATE: f.tick(),
          })
        ).trim();
        await r.tag(`crafted-${name.replace(/\./g, 'dot')}`, { commit });
        const { mirrorDir } = await ensureCommit(r.url, commit, cache);
        const dest = join(f.root, `out-${name}`);
        const err = await expectXenrelError(exportTree(mirrorDir, commit, dest), 'E_GIT_TREE', 1);
        expect(err.message).toContain('unsafe path');
        expect(await readdir(dest)).toEqual([]);
      }
    } finally {
      await f.cleanup();
    }
  });

  it('refuses an abbreviated commit id that matches several commits (exit 2, candidates listed)', async () => {
    const f = await GitFixtures.create();
    try {
      const r = await f.repo('many');
      // Enough commits that two share a 4-hex prefix (the dates are fixed, so the ids are too).
      const lines: string[] = [];
      for (let i = 0; i < 1200; i++)
        lines.push(
          `commit refs/heads/main`,
          `committer T <t@x.invalid> ${1_700_000_000 + i} +0000`,
          `data <<EOF`,
          `c${i}`,
          `EOF`,
          '',
        );
      await f.git(['fast-import', '--quiet'], r.dir, {}, `${lines.join('\n')}\n`);
      const ids = (await r.git('rev-list', 'main')).trim().split('\n');
      const seen = new Map<string, string>();
      let prefix = '';
      for (const id of ids) {
        const p = id.slice(0, 4);
        if (seen.has(p)) {
          prefix = p;
          break;
        }
        seen.set(p, id);
      }
      expect(prefix).not.toBe('');
      const cache = await newCache();
      const err = await expectXenrelError(resolveRef(r.url, prefix, cache), 'E_REF_AMBIGUOUS', 2);
      for (const id of ids.filter((x) => x.startsWith(prefix))) expect(err.message).toContain(id);
      // One more hex digit than the shortest unique prefix is enough.
      const one = ids[0]!;
      expect((await resolveRef(r.url, one.slice(0, 12), cache)).commit).toBe(one);
    } finally {
      await f.cleanup();
    }
  });

  it('concurrent fetches into one cache all succeed with one mirror', async () => {
    const cache = await newCache();
    const locked = await lockGit('c', { git: up.url, ref: 'v2.0', path: 'c' }, await newCache());
    const results = await Promise.all([1, 2, 3, 4].map(() => fetchGit('c', locked, cache)));
    expect(new Set(results.map((x) => x.mirrorDir)).size).toBe(1);
    // One of them cloned; the others waited for it and fetched nothing themselves.
    expect(results.filter((x) => !x.cached)).toHaveLength(1);
    expect((await readdir(join(cache.root, 'git'))).filter((x) => !x.startsWith('.'))).toHaveLength(1);
    expect((await readdir(join(cache.root, 'git'))).filter((x) => x.includes('xenrel-tmp'))).toEqual([]);
  });
});

describe('submodules', () => {
  it('reports gitlinks separately and reads .gitmodules (relative URLs resolved, nested submodules)', async () => {
    const f = await GitFixtures.create();
    try {
      const leaf = await f.repo('leaf', { files: { 'leaf.c': 'leaf\n' } });
      const leafCommit = await leaf.commit('leaf');
      const mid = await f.repo('mid', { files: { 'mid.c': 'mid\n' } });
      await mid.addSubmodule('third_party/leaf', leaf);
      const midCommit = await mid.commit('mid with leaf');
      const top = await f.repo('top', { files: { 'top.c': 'top\n' } });
      await top.addSubmodule('sub/mid', mid, { url: '../mid', name: 'mid' });
      const topCommit = await top.commit('top with mid');

      const cache = await newCache();
      const { mirrorDir } = await ensureCommit(top.url, topCommit, cache);
      const tree = await gitTreeEntries(mirrorDir, topCommit);
      expect(tree.gitlinks).toEqual([{ path: 'sub/mid', commit: midCommit }]);
      expect(tree.entries.map((e) => e.path)).toEqual(['.gitmodules', 'top.c']);

      const subs = await readGitmodules(mirrorDir, topCommit, top.url);
      expect(subs).toEqual([{ name: 'mid', path: 'sub/mid', url: mid.url, rawUrl: '../mid', commit: midCommit }]);

      // Nested: the child's own .gitmodules, read from the child's mirror.
      const { mirrorDir: midMirror } = await ensureCommit(subs[0]!.url, subs[0]!.commit!, cache);
      expect(await readGitmodules(midMirror, midCommit, subs[0]!.url)).toEqual([
        { name: 'third_party/leaf', path: 'third_party/leaf', url: leaf.url, rawUrl: leaf.url, commit: leafCommit },
      ]);
      const { mirrorDir: leafMirror } = await ensureCommit(leaf.url, leafCommit, cache);
      expect(await readGitmodules(leafMirror, leafCommit, leaf.url)).toEqual([]);

      const locked = await lockGit('ovmf', { git: top.url, ref: 'main', path: 'ovmf' }, cache, {
        progress: recorder(),
      });
      expect(locked.commit).toBe(topCommit);
    } finally {
      await f.cleanup();
    }
  });
});
