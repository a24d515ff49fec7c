import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile, stat, utimes, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import type { GitFixtures } from '../helpers/git-repos.js';
import type { TestHttpServer } from '../helpers/http-server.js';
import { startReleaseUpstreams, type ReleaseUpstreams } from '../helpers/release-project.js';
import { CLI, runCli } from '../helpers/cli.js';
import { runInProcess } from '../helpers/in-process.js';
import { run } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { hashDir } from '../../src/tree/walk.js';

const tmp = tempDirs();
let fx: GitFixtures;
let server: TestHttpServer;
let newlibTgz: Buffer;
let cacheDir: string;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let up: ReleaseUpstreams;

beforeAll(async () => {
  up = await startReleaseUpstreams(tmp);
  ({ fx, server, newlibTgz, cacheDir } = up);
});

afterAll(async () => {
  await up?.close();
  await tmp.cleanup();
});

const CONFIG = () => up.config();

/** A git project (the "Xen tree") with a config and a lock, committed. */
const gitProject = (opts: { extra?: Record<string, string> } = {}) => up.gitProject({ mktarball: true, ...opts });

// The releases run the built binary (this is its file); the locks and verifies around them
// check results and run in-process (test/helpers/in-process.ts).
const release = (dir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  runCli(['release', '--cache', cacheDir, '--out', join(dir, 'out'), ...args], {
    cwd: dir,
    env: { ...fx.env, ...env },
  });

/** A project with a large incompressible file, which keeps the writer busy long enough to be stopped. */
async function slowProject(): Promise<{ dir: string; out: string }> {
  const big = Buffer.alloc(64 << 20);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
  const dir = await gitProject();
  await writeFile(join(dir, 'blob.bin'), big);
  execFileSync('git', ['add', 'blob.bin'], { cwd: dir, env: fx.env });
  execFileSync('git', ['commit', '-q', '-m', 'blob'], { cwd: dir, env: fx.env });
  const out = join(dir, 'out');
  await mkdir(out);
  return { dir, out };
}

describe('xenrel release', () => {
  it('cuts byte-identical tarballs from two clones with different paths, umask and mtimes', async () => {
    const a = await gitProject();
    const b = join(await tmp.make('xenrel-clone-'), 'deeper', 'xen');
    execFileSync('git', ['clone', '-q', a, b], { env: fx.env });
    await writeFile(join(b, 'xenrel.lock'), await readFile(join(a, 'xenrel.lock')));
    execFileSync('git', ['add', 'xenrel.lock'], { cwd: b, env: fx.env });
    // Different mtimes and a restrictive umask in the second clone.
    await utimes(join(b, 'Makefile'), new Date(0), new Date(0));
    const ra = await release(a);
    expect(ra.code, ra.stderr).toBe(0);
    const rb = await new Promise<number>((resolve) => {
      const c = spawn(
        'sh',
        [
          '-c',
          `umask 077 && exec "${process.execPath}" "${CLI}" release --cache "${cacheDir}" --out "${join(b, 'out')}"`,
        ],
        {
          cwd: b,
          env: { ...process.env, ...fx.env },
          stdio: 'ignore',
        },
      );
      c.on('close', (code) => resolve(code ?? 1));
    });
    expect(rb).toBe(0);
    const ta = await readFile(join(a, 'out', 'xen-4.22.0.tar.gz'));
    const tb = await readFile(join(b, 'out', 'xen-4.22.0.tar.gz'));
    expect(sha256(ta)).toBe(sha256(tb));
    // SHA256SUMS is in `sha256sum -c` form and checks.
    // The release record beside it is the same bytes too, and listed.
    const rec = await readFile(join(a, 'out', 'xen-4.22.0.release.json'));
    expect(sha256(rec)).toBe(sha256(await readFile(join(b, 'out', 'xen-4.22.0.release.json'))));
    expect(await readFile(join(a, 'out', 'SHA256SUMS'), 'utf8')).toBe(
      `${sha256(rec)}  xen-4.22.0.release.json\n${sha256(ta)}  xen-4.22.0.tar.gz\n`,
    );
    execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(a, 'out') });
    expect(ra.stdout).toContain(`${sha256(ta)}  xen-4.22.0.tar.gz`);
  });

  it('cuts the same bytes as another user (uid 65534, umask 027)', async () => {
    // Only a tarball component: the other user cannot read the root-owned git fixtures.
    const make = async (parent: string) => {
      const dir = join(parent, 'xen');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'xenrel.config.yaml'), CONFIG().replace(/ {2}seabios:\n( {4}.*\n){3}/, ''));
      await writeFile(join(dir, 'Makefile'), 'all:\n');
      for (const args of [
        ['init', '-q'],
        ['add', '-A'],
        ['commit', '-q', '-m', 'xen'],
      ])
        execFileSync('git', args, {
          cwd: dir,
          env: { ...fx.env, GIT_AUTHOR_DATE: '@1700000000 +0000', GIT_COMMITTER_DATE: '@1700000000 +0000' },
        });
      return dir;
    };
    const mine = await make(await tmp.make('xenrel-root-'));
    expect((await runInProcess(['lock', '--cache', cacheDir], { cwd: mine, env: fx.env })).code).toBe(0);
    expect((await release(mine)).code).toBe(0);

    const theirs = await tmp.make('xenrel-nobody-');
    const dir = await make(theirs);
    await writeFile(join(dir, 'xenrel.lock'), await readFile(join(mine, 'xenrel.lock')));
    await writeFile(join(theirs, '.gitconfig'), '[safe]\n\tdirectory = *\n');
    execFileSync('chown', ['-R', '65534:65534', theirs]);
    execFileSync('chmod', ['755', theirs]);
    // Not spawnSync: the HTTP server the release downloads from lives in this process.
    const r = await run(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'sh',
        '-c',
        `umask 027 && exec "${process.execPath}" "${CLI}" release --cache "${join(theirs, 'cache')}" --out "${join(theirs, 'out')}" -q`,
      ],
      {
        cwd: dir,
        env: { ...process.env, HOME: theirs, GIT_CONFIG_GLOBAL: join(theirs, '.gitconfig'), XDG_CONFIG_HOME: theirs },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(await readFile(join(theirs, 'out', 'xen-4.22.0.tar.gz')))).toBe(
      sha256(await readFile(join(mine, 'out', 'xen-4.22.0.tar.gz'))),
    );
  });

  it('holds the project, each component once, the lock and release.json; GNU tar extracts exactly that', async () => {
    const dir = await gitProject();
    const r = await release(dir);
    expect(r.code, r.stderr).toBe(0);
    const x = await tmp.make('xenrel-x-');
    execFileSync('tar', ['-xzf', join(dir, 'out', 'xen-4.22.0.tar.gz'), '-C', x]);
    expect(await readdir(x)).toEqual(['xen-4.22.0']);
    const top = join(x, 'xen-4.22.0');
    const lock = JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8'));
    expect((await hashDir(join(top, '.xenrel', 'sources', 'seabios'))).hash).toBe(lock.components.seabios.tree);
    expect(sha256(await readFile(join(top, '.xenrel', 'sources', 'newlib', 'newlib-1.16.0.tar.gz')))).toBe(
      sha256(newlibTgz),
    );
    // Materialised paths are not carried: the store is the one copy.
    await expect(stat(join(top, 'tools/firmware/seabios-dir-remote'))).rejects.toThrow();
    expect(await readFile(join(top, 'xenrel.lock'), 'utf8')).toBe(await readFile(join(dir, 'xenrel.lock'), 'utf8'));
    expect((await stat(join(top, 'tools/misc/mktarball'))).mode & 0o777).toBe(0o755);
    expect(await readFile(join(top, '.config'), 'utf8')).toContain('override GIT := $(XEN_ROOT)/.xenrel/bin/git');
    const info = JSON.parse(await readFile(join(top, '.xenrel', 'release.json'), 'utf8'));
    expect(info).toMatchObject({ releaseInfoVersion: 1, name: 'xen-4.22.0', compression: 'gz' });
    expect(info.components.seabios.tree).toBe(lock.components.seabios.tree);
    // The whole-tree hash covers everything but release.json itself.
    const whole = await hashDir(top, { ignoreNames: [], ignorePaths: ['.xenrel/release.json'] });
    expect(info.tree).toBe(whole.hash);
    // Owners, modes and times are normalised, the mtime is the commit time.
    const listing = execFileSync(
      'tar',
      ['--numeric-owner', '--full-time', '-tvzf', join(dir, 'out', 'xen-4.22.0.tar.gz')],
      { encoding: 'utf8' },
    );
    for (const line of listing.trim().split('\n')) {
      expect(line).toMatch(/^[-dl](rw-r--r--|rwxr-xr-x|rwxrwxrwx) 0\/0 /);
      expect(line).toContain('2023-11-14 22:13:20');
    }
  });

  it('SOURCE_DATE_EPOCH wins over the commit time', async () => {
    const dir = await gitProject();
    expect((await release(dir, [], { SOURCE_DATE_EPOCH: '1767225600' })).code).toBe(0);
    const listing = execFileSync('tar', ['--full-time', '-tvzf', join(dir, 'out', 'xen-4.22.0.tar.gz')], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    expect(listing).toContain('2026-01-01 00:00:00');
    expect((await release(dir, [], { SOURCE_DATE_EPOCH: 'yesterday' })).code).toBe(2);
  });

  it('refuses a dirty work tree unless --allow-dirty, and never touches it', async () => {
    const dir = await gitProject();
    await writeFile(join(dir, 'Makefile'), 'all:\n\t@echo changed\n');
    const before = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: dir,
      encoding: 'utf8',
    });
    const r = await release(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('uncommitted changes: Makefile');
    expect(r.stderr).toContain('--allow-dirty');
    const ok = await release(dir, ['--allow-dirty']);
    expect(ok.code, ok.stderr).toBe(0);
    const x = await tmp.make();
    execFileSync('tar', ['-xzf', join(dir, 'out', 'xen-4.22.0.tar.gz'), '-C', x]);
    expect(await readFile(join(x, 'xen-4.22.0', 'Makefile'), 'utf8')).toContain('changed');
    expect(execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dir, encoding: 'utf8' })).toBe(
      before,
    );
    expect(execFileSync('git', ['stash', 'list'], { cwd: dir, encoding: 'utf8' })).toBe('');
  });

  it('takes a plain folder whole, and needs a version for it', async () => {
    const dir = await tmp.make('xenrel-plain-');
    await writeFile(join(dir, 'xenrel.config.yaml'), CONFIG().replace('release:\n  version: 4.22.0\n', ''));
    await writeFile(join(dir, 'README'), 'plain\n');
    expect((await runInProcess(['lock', '--cache', cacheDir], { cwd: dir, env: fx.env })).code).toBe(0);
    const r = await release(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no release version');
    const ok = await release(dir, ['--prefix', 'xen-snapshot', '--format', 'xz']);
    expect(ok.code, ok.stderr).toBe(0);
    const file = join(dir, 'out', 'xen-snapshot.tar.xz');
    execFileSync('xz', ['-t', file]);
    const names = execFileSync('tar', ['-tJf', file], { encoding: 'utf8' }).split('\n');
    expect(names).toContain('xen-snapshot/README');
    expect(names.some((n) => n.startsWith('xen-snapshot/out'))).toBe(false);
    expect((await runInProcess(['verify', file], { cwd: dir })).code).toBe(0);
  });

  it('releases a tree with names Windows cannot hold (QEMU has hw/misc/aux.c); verify --portable names them', async () => {
    const dir = await gitProject({ extra: { 'hw/misc/aux.c': '/* QEMU AUX bus */\n', 'include/con.h': '/* */\n' } });
    const r = await release(dir);
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, 'out', 'xen-4.22.0.tar.gz');
    expect((await runInProcess(['verify', file], { cwd: dir })).code).toBe(0);
    const strict = await runInProcess(['verify', file, '--portable'], { cwd: dir });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('E_TAR_WINDOWS_NAME: xen-4.22.0/hw/misc/aux.c');
  });

  it('zstd output verifies, and a bad --format is a usage error', async () => {
    const dir = await gitProject();
    const r = await release(dir, ['--format', 'zst']);
    expect(r.code, r.stderr).toBe(0);
    execFileSync('zstd', ['-t', '-q', join(dir, 'out', 'xen-4.22.0.tar.zst')]);
    expect((await release(dir, ['--format', 'rar'])).code).toBe(2);
  });

  it('warns when the config or lock it was cut with is not committed at the commit it names', async () => {
    const dir = await gitProject();
    const clean = await release(dir);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).not.toContain('not committed');
    execFileSync('git', ['rm', '-q', '--cached', 'xenrel.config.yaml'], { cwd: dir, env: fx.env });
    execFileSync('git', ['commit', '-q', '-m', 'config kept out of git'], { cwd: dir, env: fx.env });
    const r = await release(dir);
    expect(r.code, r.stderr).toBe(0);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
    expect(r.stderr).toContain(
      `warning: xenrel.config.yaml is not committed as used: release.json names commit ${head.slice(0, 12)}`,
    );
    // git agrees: the commit does not hold it.
    expect(() =>
      execFileSync('git', ['cat-file', '-e', 'HEAD:xenrel.config.yaml'], { cwd: dir, stdio: 'ignore' }),
    ).toThrow();
  });

  it('an --out that cannot be a folder is E_FS (exit 3) before any work, and nothing is made', async () => {
    const dir = await gitProject();
    const file = join(dir, 'a-file');
    await writeFile(file, 'x\n');
    for (const out of [file, join(file, 'sub')]) {
      const r = await runCli(['release', '--cache', cacheDir, '--out', out, '--json'], { cwd: dir, env: fx.env });
      expect(r.code, r.stderr).toBe(3);
      const j = JSON.parse(r.stdout);
      expect(j.errors[0].code).toBe('E_FS');
      expect(j.errors[0].message).toContain(out);
      expect(j.errors[0].message).toContain('is not a folder');
      expect(await readFile(file, 'utf8')).toBe('x\n');
    }
    const nested = join(dir, 'new', 'deeper');
    expect((await release(dir, ['--out', nested])).code).toBe(0);
    expect(await readdir(nested)).toContain('xen-4.22.0.tar.gz');
  });

  it('a release killed mid-write leaves nothing under the final name; the next one succeeds', async () => {
    const { dir, out } = await slowProject();
    const child = spawn(process.execPath, [CLI, 'release', '--cache', cacheDir, '--out', out, '--level', '9'], {
      cwd: dir,
      env: { ...process.env, ...fx.env },
      stdio: 'ignore',
    });
    const deadline = Date.now() + 60_000;
    let killedMidWrite = false;
    while (Date.now() < deadline) {
      const names = await readdir(out);
      if (names.some((n) => n.includes('.xenrel-tmp-'))) {
        child.kill('SIGKILL');
        killedMidWrite = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => child.on('close', r));
    expect(killedMidWrite).toBe(true);
    // Under the final name there is nothing, or (the kill landed just after the rename) a
    // complete tarball that verifies: never a partial one.
    const left = await readdir(out);
    if (left.includes('xen-4.22.0.tar.gz'))
      expect((await runInProcess(['verify', join(out, 'xen-4.22.0.tar.gz')], { cwd: dir })).code).toBe(0);
    else expect(left).not.toContain('SHA256SUMS');
    // The killed run's staging folder in $TMPDIR is there until the next release removes it.
    const staged = async () => (await readdir(tmpdir())).filter((n) => n.startsWith(`xenrel-release-${child.pid}-`));
    expect(await staged()).toHaveLength(1);
    const again = await release(dir);
    expect(again.code, again.stderr).toBe(0);
    expect(await staged()).toEqual([]);
    expect((await readdir(out)).sort()).toEqual([
      'SHA256SUMS',
      'xen-4.22.0.release.json',
      'xen-4.22.0.spdx.json',
      'xen-4.22.0.tar.gz',
      'xen-4.22.0.tar.gz.intoto.jsonl',
    ]);
    await rm(join(dir, 'blob.bin'));
  });

  it('Ctrl-C (SIGINT) mid-write removes the temp file and the staging folder, says so, exits 130', async () => {
    const { dir, out } = await slowProject();
    const tmp2 = await tmp.make('xenrel-tmpdir-');
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, [CLI, 'release', '--cache', cacheDir, '--out', out, '--level', '9'], {
        cwd: dir,
        env: { ...process.env, ...fx.env, TMPDIR: tmp2 },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      const deadline = Date.now() + 60_000;
      let midWrite = false;
      while (Date.now() < deadline) {
        if ((await readdir(out)).some((n) => n.includes('.xenrel-tmp-'))) {
          child.kill(signal);
          midWrite = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const code = await closed;
      expect(midWrite).toBe(true);
      expect(code, stderr).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(stderr).toMatch(new RegExp(`interrupted \\(${signal}\\): removed \\d+ unfinished temporary file`));
      // Nothing half made is left: no temp file, no tarball, no staging folder.
      expect(await readdir(out)).toEqual([]);
      expect((await readdir(tmp2)).filter((n) => n.startsWith('xenrel-release-'))).toEqual([]);
    }
    await rm(join(dir, 'blob.bin'));
  });
});

describe('xenrel verify (CLI)', () => {
  it('names a modified file under its component, in text and --json; --lock checks an independent lock', async () => {
    const dir = await gitProject();
    expect((await release(dir)).code).toBe(0);
    const tarball = join(dir, 'out', 'xen-4.22.0.tar.gz');
    const x = await tmp.make();
    execFileSync('tar', ['-xzf', tarball, '-C', x]);
    await writeFile(join(x, 'xen-4.22.0', '.xenrel', 'sources', 'seabios', 'src', 'bios.c'), 'int backdoor;\n');
    const forged = join(x, 'forged.tar.gz');
    execFileSync('tar', ['-czf', forged, '-C', x, 'xen-4.22.0']);

    const r = await runInProcess(['verify', forged, '--lock', join(dir, 'xenrel.lock')], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/modified\s+seabios/);
    expect(r.stdout).toContain('modified .xenrel/sources/seabios/src/bios.c');
    const j = JSON.parse(
      (await runInProcess(['verify', forged, '--lock', join(dir, 'xenrel.lock'), '--json'], { cwd: dir })).stdout,
    );
    expect(j.exitCode).toBe(1);
    const sb = j.verify.components.find((c: { name: string }) => c.name === 'seabios');
    expect(sb).toMatchObject({ status: 'modified', modified: ['.xenrel/sources/seabios/src/bios.c'] });
    expect(j.verify.components.find((c: { name: string }) => c.name === 'newlib').status).toBe('ok');

    // The vendored-tree form: a folder.
    const d = await runInProcess(['verify', join(x, 'xen-4.22.0'), '--lock', join(dir, 'xenrel.lock')], { cwd: dir });
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('modified .xenrel/sources/seabios/src/bios.c');

    expect((await runInProcess(['verify', join(x, 'nope.tar.gz')], { cwd: dir })).code).toBe(2);

    // A tarball nothing vouches for (git archive of the project: no lock, no release.json)
    // is safe to extract, and said to be unverified, not "verified".
    const plain = join(x, 'plain.tar.gz');
    execFileSync('sh', ['-c', `git archive --prefix=xen-4.22.0/ HEAD | gzip -n > '${plain}'`], { cwd: dir });
    const p = await runInProcess(['verify', plain], { cwd: dir });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`${plain}: safe to extract (`);
    expect(p.stdout).toContain('but NOT verified');
    expect(p.stdout).not.toContain(': verified (');
  });

  it('--upstream re-fetches every pin and fails when upstream no longer has the locked bytes', async () => {
    const dir = await gitProject();
    expect((await release(dir)).code).toBe(0);
    const tarball = join(dir, 'out', 'xen-4.22.0.tar.gz');
    const ok = await runInProcess(['verify', tarball, '--upstream'], { cwd: dir, env: fx.env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('upstream newlib: same content as the lock');
    server.setFile('/newlib-1.16.0.tar.gz', Buffer.concat([newlibTgz, Buffer.from('x')]));
    try {
      const bad = await runInProcess(['verify', tarball, '--upstream'], { cwd: dir, env: fx.env });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/MISMATCH newlib/);
    } finally {
      server.setFile('/newlib-1.16.0.tar.gz', newlibTgz);
    }
  });
});
