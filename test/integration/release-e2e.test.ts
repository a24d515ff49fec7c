import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runCli } from '../helpers/cli.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { extractWith, oracleTrees } from '../helpers/tar-oracle.js';

/**
 * Releases of trees that real upstreams have, end to end with real git and real tar: a project
 * holding a 64 MiB file of zeros (firmware images are zero-padded), a tarball component whose
 * upstream tarball has `./` names (`tar -C dir -czf x .`), and an OVMF-like git component
 * whose pinned commit holds inert absolute symlinks, as edk2 does. Each is locked, vendored,
 * released, and the release verifies; what GNU tar extracts is the oracle.
 */

const tmp = tempDirs();
let fx: GitFixtures;
let edk2: TestRepo;
let server: TestHttpServer;
let dotTgz: Buffer;
let dotTree: string;
let cacheDir: string;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const DATE = { GIT_AUTHOR_DATE: '@1700000000 +0000', GIT_COMMITTER_DATE: '@1700000000 +0000' };

beforeAll(async () => {
  fx = await GitFixtures.create();
  // edk2 pins absolute symlinks in its tree; they are inert (nothing in the build follows them)
  edk2 = await fx.repo('edk2', {
    files: {
      'OvmfPkg/build.sh': { content: '#!/bin/sh\necho ovmf\n', exec: true },
      'OvmfPkg/README': 'OVMF\n',
      'BaseTools/Bin/python': { symlink: '/usr/bin/python3' },
      'BaseTools/Conf/tools_def.link': { symlink: '/etc/edk2/tools_def.txt' },
      'BaseTools/Source/rel-link': { symlink: '../../OvmfPkg/README' },
    },
  });
  await edk2.commit('edk2-stable202408');
  await edk2.tag('edk2-stable202408', { annotated: true });
  // An upstream tarball packed from inside its folder: every name starts with `./`
  const d = await tmp.make('xenrel-dot-');
  await mkdir(join(d, 'src', 'lib'), { recursive: true });
  await writeFile(join(d, 'README'), 'dot-style upstream\n');
  await writeFile(join(d, 'src', 'lib', 'a.c'), 'int a;\n');
  await writeFile(join(d, 'configure'), '#!/bin/sh\n', { mode: 0o755 });
  dotTgz = execFileSync('tar', ['-C', d, '-czf', '-', '.']);
  expect(execFileSync('tar', ['-tzf', '-'], { input: dotTgz, encoding: 'utf8' }).split('\n')).toContain(
    './src/lib/a.c',
  );
  dotTree = await tmp.make('xenrel-dot-x-');
  await writeFile(join(dotTree, 'x.tgz'), dotTgz);
  expect(extractWith('gnu', join(dotTree, 'x.tgz'), join(dotTree, 'gnu')).exit).toBe(0);
  server = await startHttpServer({ files: { '/dotlib-1.0.tar.gz': dotTgz } });
  cacheDir = await tmp.make('xenrel-cache-');
}, 120_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

/** A committed git project with `components` in its config, locked (in-process). */
async function project(components: string, files: Record<string, Buffer | string> = {}): Promise<string> {
  const dir = await tmp.make('xenrel-xen-');
  await writeFile(
    join(dir, 'xenrel.config.yaml'),
    `version: 1\nname: xen\nrelease:\n  version: 4.22.0\ncomponents:${components.startsWith('  {}') ? ' {}\n' : `\n${components}`}`,
  );
  await writeFile(join(dir, 'Makefile'), 'all:\n\t@echo xen\n');
  await writeFile(join(dir, '.gitignore'), 'out/\n');
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), c);
  }
  const lock = await runInProcess(['lock', '--cache', cacheDir], { cwd: dir, env: fx.env });
  expect(lock.code, lock.stderr).toBe(0);
  for (const args of [
    ['init', '-q'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'xen'],
  ])
    execFileSync('git', args, { cwd: dir, env: { ...fx.env, ...DATE } });
  return dir;
}

/** The release and its verify through the binary, as a packager runs them; verify --json in-process. */
async function releaseAndVerify(dir: string): Promise<{ file: string; top: string }> {
  const r = await runCli(['release', '--cache', cacheDir, '--out', join(dir, 'out')], {
    cwd: dir,
    env: fx.env,
    timeoutMs: 240_000,
  });
  expect(r.code, r.stderr).toBe(0);
  const file = join(dir, 'out', 'xen-4.22.0.tar.gz');
  const v = await runCli(['verify', file], { cwd: dir, timeoutMs: 240_000 });
  expect(v.code, `${v.stdout}\n${v.stderr}`).toBe(0);
  // what GNU tar makes of the release, and the tree hash xenrel verified it against
  const x = await tmp.make('xenrel-rel-x-');
  const g = extractWith('gnu', file, x, 240_000);
  expect(g.exit, g.stderr).toBe(0);
  const vj = await runInProcess(['verify', file, '--json'], { cwd: dir });
  const top = join(x, 'xen-4.22.0');
  // verify's whole-tree hash covers everything but the release record itself
  const info = await readFile(join(top, '.xenrel/release.json'));
  await rm(join(top, '.xenrel/release.json'));
  const [tree] = oracleTrees([x]);
  await writeFile(join(top, '.xenrel/release.json'), info);
  const verified = (JSON.parse(vj.stdout) as { verify: { tree: { actual: string } } }).verify.tree.actual;
  expect(verified).toBe(tree!.tops['xen-4.22.0']);
  return { file, top };
}

describe('release end to end', () => {
  it('releases a tree with a 64 MiB file of zeros, and the release verifies', async () => {
    const zeros = Buffer.alloc(64 << 20);
    const dir = await project('  {}\n', { 'tools/firmware/zero.img': zeros });
    const { top } = await releaseAndVerify(dir);
    const got = await readFile(join(top, 'tools/firmware/zero.img'));
    expect(got.length).toBe(64 << 20);
    expect(sha256(got)).toBe(sha256(zeros));
  }, 300_000);

  it('locks, vendors and releases a tarball component with `./` names', async () => {
    const dir = await project(
      `  dotlib:\n    url: ${server.url}/dotlib-1.0.tar.gz\n    path: stubdom/dotlib-1.0.tar.gz\n`,
    );
    // the lock-time tree hash is that of the tree GNU tar extracts
    const lock = JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8')) as {
      components: { dotlib: { tree: string } };
    };
    expect(lock.components.dotlib.tree, JSON.stringify(lock)).toBe(oracleTrees([join(dotTree, 'gnu')])[0]!.hash);
    const vend = await runInProcess(['vendor', '--cache', cacheDir], { cwd: dir, env: fx.env });
    expect(vend.code, vend.stderr).toBe(0);
    expect(sha256(await readFile(join(dir, 'stubdom/dotlib-1.0.tar.gz')))).toBe(sha256(dotTgz));
    const { top } = await releaseAndVerify(dir);
    expect(sha256(await readFile(join(top, '.xenrel/sources/dotlib/dotlib-1.0.tar.gz')))).toBe(sha256(dotTgz));
  }, 300_000);

  it('vendors and releases an OVMF component whose commit holds absolute symlinks; verify passes', async () => {
    const dir = await project(
      `  ovmf:\n    git: ${edk2.url}\n    ref: edk2-stable202408\n    path: tools/firmware/ovmf-dir-remote\n`,
    );
    const vend = await runInProcess(['vendor', '--cache', cacheDir], { cwd: dir, env: fx.env });
    expect(vend.code, vend.stderr).toBe(0);
    const placed = join(dir, 'tools/firmware/ovmf-dir-remote');
    expect(await readlink(join(placed, 'BaseTools/Bin/python'))).toBe('/usr/bin/python3');
    expect(await readlink(join(placed, 'BaseTools/Source/rel-link'))).toBe('../../OvmfPkg/README');
    expect((await stat(join(placed, 'OvmfPkg/build.sh'))).mode & 0o111).not.toBe(0);
    // the vendored tree is what git checks out of the commit
    const co = await tmp.make('xenrel-co-');
    execFileSync('git', ['clone', '-q', edk2.dir, co], { env: fx.env });
    execFileSync('rm', ['-rf', join(co, '.git')]);
    expect(oracleTrees([placed])[0]!.hash).toBe(oracleTrees([co])[0]!.hash);
    const { top } = await releaseAndVerify(dir);
    const stored = join(top, '.xenrel/sources/ovmf');
    expect(await readlink(join(stored, 'BaseTools/Conf/tools_def.link'))).toBe('/etc/edk2/tools_def.txt');
    expect(oracleTrees([stored])[0]!.hash).toBe(oracleTrees([co])[0]!.hash);
  }, 300_000);
});
