import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { GitFixtures } from '../helpers/git-repos.js';
import { startReleaseUpstreams, type ReleaseUpstreams } from '../helpers/release-project.js';
import { runCli } from '../helpers/cli.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { hashDir } from '../../src/tree/walk.js';

// `release --reproduce` cuts a real release again in a child process (another path, umask,
// locale, time zone, mtimes and, as root, user) and must say exactly where it differs.

const tmp = tempDirs();
let fx: GitFixtures;
let cacheDir: string;
const root = process.getuid?.() === 0;

let up: ReleaseUpstreams;

beforeAll(async () => {
  up = await startReleaseUpstreams(tmp);
  ({ fx, cacheDir } = up);
});

afterAll(async () => {
  await up?.close();
  await tmp.cleanup();
});

/** A committed git project with a config, a lock and two components. */
const gitProject = () => up.gitProject({ mktarball: true, tag: 'v4.22.0' });

const TARBALL = 'xen-4.22.0.tar.gz';
const ENV = () => ({ ...fx.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' });
/** The binary: `--reproduce` cuts the release again in a child of its own process. */
const cli = (dir: string, args: string[]) => runCli([...args, '--cache', cacheDir], { cwd: dir, env: ENV() });
/** The release to reproduce, cut in-process: what the test checks is the reproduction. */
const cut = (dir: string, args: string[]) =>
  runInProcess(['release', ...args, '--cache', cacheDir], { cwd: dir, env: ENV() });
const sha256 = async (f: string) =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

/** Rewrites one header of an uncompressed tar in place (the mode field), fixing its checksum. */
function setMode(tar: Buffer, entry: string, mode: number): void {
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar
      .subarray(off, off + 100)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    const size = Number.parseInt(tar.subarray(off + 124, off + 136).toString('latin1'), 8) || 0;
    if (name === entry) {
      tar.write(`${mode.toString(8).padStart(7, '0')}\0`, off + 100, 8, 'latin1');
      tar.fill(0x20, off + 148, off + 156);
      let sum = 0;
      for (let i = off; i < off + 512; i++) sum += tar[i]!;
      tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 8, 'latin1');
      return;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${entry} not in the tar`);
}

describe('release --reproduce', () => {
  it('cuts the same bytes again from what a real release records', async () => {
    const dir = await gitProject();
    const r = await cut(dir, ['--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    const tarball = join(dir, 'out', TARBALL);
    const before = await hashDir(cacheDir);
    const p = await cli(dir, ['release', '--reproduce', tarball]);
    expect(p.code, p.stderr).toBe(0);
    expect(
      p.stdout.endsWith(`\nreproduced ${TARBALL} byte for byte: sha256 ${await sha256(tarball)}\n`),
      p.stdout,
    ).toBe(true);
    expect(p.stdout).toMatch(
      /^varied: path \/\S+\/checkout-\d+, file mtimes \(random\), umask 0077 \(yours 00\d\d\), LC_ALL=C \(yours C\.UTF-8\), TZ=XRT-14 \(yours UTC\)/m,
    );
    // As root the release ran as another user, on a copy of the cache; otherwise it says so.
    if (root) expect(p.stdout).toMatch(/, user nobody \(uid 65534, yours 0\), with a copy of the cache$/m);
    else expect(p.stdout).toContain('the user was not varied: not running as root');
    expect((await hashDir(cacheDir)).hash).toBe(before.hash);
    // The work tree is left as it was.
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: dir, encoding: 'utf8' })).toBe('?? out/\n');
  });

  it('names the file that was not committed when the release was cut with --allow-dirty', async () => {
    const dir = await gitProject();
    await writeFile(join(dir, 'Makefile'), 'all:\n\t@echo XEN\n');
    const r = await cut(dir, ['--out', join(dir, 'out'), '--allow-dirty']);
    expect(r.code, r.stderr).toBe(0);
    const p = await cli(dir, ['release', '--reproduce', join(dir, 'out', TARBALL)]);
    expect(p.code, p.stdout + p.stderr).toBe(1);
    expect(p.stdout).toContain(
      `${TARBALL} names no commit (it was cut from a folder or with uncommitted changes): reproducing from HEAD`,
    );
    const lines = p.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('NOT reproduced'));
    expect(lines[at]).toMatch(
      new RegExp(
        `^NOT reproduced: ${TARBALL.replace(/\./g, '\\.')} has sha256 [0-9a-f]{64}, the reproduction [0-9a-f]{64}$`,
      ),
    );
    // "all:\n\t@echo " is 12 bytes: the change is at byte 12 of the entry.
    expect(lines).toContain('  also: xen-4.22.0/Makefile: content differs at byte 12 of the entry');
    // release.json (earlier in the tarball) records the tree the change is in.
    expect(lines[at + 1]).toMatch(
      /^ {2}first difference: xen-4\.22\.0\/\.xenrel\/release\.json: (content differs at byte \d+ of the entry|size differs)/,
    );
  });

  it('names the entry and the header field a hand-edited tarball changed', async () => {
    const dir = await gitProject();
    const r = await cut(dir, ['--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    const tar = gunzipSync(await readFile(join(dir, 'out', TARBALL)));
    setMode(tar, 'xen-4.22.0/tools/misc/mktarball', 0o700);
    const edited = join(await tmp.make('xenrel-edited-'), TARBALL);
    await writeFile(edited, gzipSync(tar, { level: 9 }));
    const p = await cli(dir, ['release', '--reproduce', edited]);
    expect(p.code, p.stdout + p.stderr).toBe(1);
    const lines = p.stdout.split('\n');
    expect(lines.slice(lines.findIndex((l) => l.startsWith('NOT reproduced')) + 1)).toEqual([
      `  first difference: xen-4.22.0/tools/misc/mktarball: mode differs (0700 in ${TARBALL}, 0755 in the reproduction)`,
      '',
    ]);
  });

  it('names the first compressed byte when only the compression differs', async () => {
    const dir = await gitProject();
    const r = await cut(dir, ['--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    const regzipped = join(await tmp.make('xenrel-regz-'), TARBALL);
    await writeFile(regzipped, gzipSync(gunzipSync(await readFile(join(dir, 'out', TARBALL))), { level: 1 }));
    const p = await cli(dir, ['release', '--reproduce', regzipped]);
    expect(p.code, p.stdout + p.stderr).toBe(1);
    expect(p.stdout).toMatch(
      /^ {2}first difference: the tar streams are identical; the compressed files differ first at byte \d+, in the gzip header: the extra flags \(compression level\)$/m,
    );
    expect(p.stdout).toContain('the compression level is not recorded in a tarball: pass the --level it was cut with');
  });

  it('takes the format from the tarball, and the level it is given', async () => {
    const dir = await gitProject();
    const r = await cut(dir, ['--out', join(dir, 'out'), '--format', 'xz', '--level', '3']);
    expect(r.code, r.stderr).toBe(0);
    const tarball = join(dir, 'out', 'xen-4.22.0.tar.xz');
    const p = await cli(dir, ['release', '--reproduce', tarball, '--level', '3']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    expect(p.stdout).toContain(`\nreproduced xen-4.22.0.tar.xz byte for byte: sha256 ${await sha256(tarball)}\n`);
    // At the default level (6) the xz stream differs, and only it: the tar inside is the same.
    const other = await cli(dir, ['release', '--reproduce', tarball]);
    expect(other.code, other.stdout + other.stderr).toBe(1);
    expect(other.stdout).toMatch(
      /^ {2}first difference: the tar streams are identical; the compressed files differ first at byte \d+, in the compressed data/m,
    );
  });

  it('refuses options it takes from the tarball', async () => {
    const dir = await gitProject();
    const p = await cli(dir, ['release', '--reproduce', 'x.tar.gz', '--prefix', 'y']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('--reproduce takes --prefix from the tarball: leave it out');
  });
});
