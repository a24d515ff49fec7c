/**
 * Every call form the shim must serve or refuse, driven directly
 * against a hand-made store and lock, under dash and bash, and with a PATH holding only
 * the few tools the shim needs (no git, no wget, no curl, no Node).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssri from 'ssri';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { treeHash } from '../../src/tree/hash.js';
import { hashDir, walkTree } from '../../src/tree/walk.js';
import type { Lockfile } from '../../src/model/lock.js';
import { installShim } from '../../src/vendoring/shim.js';
import { binWith, runShim as runShimIn, type ShimResult } from '../helpers/shim-run.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const SEA_URL = 'https://example.invalid/git/seabios.git';
const TB_URL = 'https://example.invalid/extfiles/tb-1.0.tar.gz';
const LEFT_URL = 'https://example.invalid/git/qemu-xen.git';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const NOT_IN_LOCK = 'not in .xenrel/xenrel.lock — add it to xenrel.config.yaml and run xenrel lock && xenrel vendor';

interface Fixture {
  root: string;
  lock: Lockfile;
  tbBytes: Buffer;
}

/** A tree with a store placed by hand: a folder component, a file component, one left out. */
async function handMade(): Promise<Fixture> {
  const root = await tmp.make('xenrel-shim-');
  const store = join(root, '.xenrel/sources/seabios');
  const files: Record<string, string> = {
    README: 'seabios\n',
    'src/post.c': 'int post;\n',
    'dir with space/a file.txt': 'spaces\n',
    'scripts/build.sh': '#!/bin/sh\n',
  };
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(store, p, '..'), { recursive: true });
    await writeFile(join(store, p), c);
  }
  await chmod(join(store, 'scripts/build.sh'), 0o755);
  await symlink('README', join(store, 'link-to-readme'));
  const { hash } = await hashDir(store);
  const tbBytes = Buffer.from('pretend this is a tarball\n');
  await mkdir(join(root, '.xenrel/sources/tb'), { recursive: true });
  await writeFile(join(root, '.xenrel/sources/tb/tb-1.0.tar.gz'), tbBytes);
  const lock: Lockfile = {
    lockfileVersion: 1,
    name: 'shim-test',
    components: {
      seabios: {
        git: SEA_URL,
        ref: 'rel-1.17.0',
        commit: COMMIT,
        tree: hash,
        path: 'tools/firmware/seabios-dir-remote',
      },
      tb: {
        url: TB_URL,
        integrity: ssri.fromData(tbBytes, { algorithms: ['sha512'] }).toString(),
        size: tbBytes.length,
        path: 'stubdom/tb-1.0.tar.gz',
      },
      'qemu-xen': {
        git: LEFT_URL,
        ref: 'qemu-xen-4.22.0',
        commit: 'f'.repeat(40),
        tree: hash,
        path: 'tools/qemu-xen-dir-remote',
      },
    },
  };
  await installShim(root, lock, { without: ['qemu-xen'] });
  await mkdir(join(root, 'tools/firmware'), { recursive: true });
  await mkdir(join(root, 'stubdom'), { recursive: true });
  return { root, lock, tbBytes };
}

function runShim(
  shell: string,
  f: Fixture,
  tool: 'git' | 'fetch',
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ShimResult> {
  return runShimIn(shell, f.root, tool, args, {
    ...opts,
    env: { XENREL_SHIM_LOG: join(f.root, 'shim.log'), ...opts.env },
  });
}

const exists = async (p: string) => Boolean(await stat(p).catch(() => undefined));

/** A bin folder with only what the shim needs: proves it uses nothing else (no git, no wget). */
async function minimalPath(): Promise<string> {
  return binWith(await tmp.make('xenrel-minbin-'), [
    'sh',
    'dash',
    'bash',
    'cp',
    'mv',
    'rm',
    'mkdir',
    'ls',
    'cut',
    'sort',
    'comm',
    'tr',
    'readlink',
    'dirname',
    'basename',
    'sha256sum',
    'sha512sum',
    'find',
    'sed',
    'tar',
    'gzip',
    'cat',
  ]);
}

describe('shim scripts', () => {
  test('parse under sh -n and dash -n', async () => {
    const f = await handMade();
    for (const shell of ['sh', 'dash', 'bash']) {
      for (const tool of ['git', 'fetch'] as const) {
        const r = await new Promise<number>((res) =>
          spawn(shell, ['-n', join(f.root, '.xenrel/bin', tool)], { stdio: 'ignore' }).on('close', (c) => res(c ?? 1)),
        );
        expect(r, `${shell} -n ${tool}`).toBe(0);
      }
    }
    expect((await stat(join(f.root, '.xenrel/bin/git'))).mode & 0o777).toBe(0o755);
    expect((await readFile(join(f.root, '.xenrel/bin/git'), 'utf8')).startsWith('#!/bin/sh\n')).toBe(true);
  });
});

describe.each(['dash', 'bash'])('shim under %s', (shell) => {
  let f: Fixture;
  let minPath: string;
  beforeAll(async () => {
    f = await handMade();
    minPath = await minimalPath();
  });
  const git = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
    runShim(shell, f, 'git', args, opts);
  const fetch = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
    runShim(shell, f, 'fetch', args, opts);
  const fw = () => join(f.root, 'tools/firmware');

  test('the git-checkout.sh sequence (4.21+ and 4.19 forms) with no git on PATH', async () => {
    const env = { PATH: minPath };
    for (const [dir, checkout] of [
      ['a-remote.tmp', ['fetch', 'origin', 'rel-1.17.0']],
      ['b-remote.tmp', ['checkout', '-b', 'dummy', 'rel-1.17.0']],
    ] as const) {
      const clone = await git(['clone', SEA_URL, dir], { cwd: fw(), env });
      expect(clone.stderr).toBe('');
      expect(clone.code).toBe(0);
      const cwd = join(fw(), dir);
      expect(await exists(join(cwd, '.git'))).toBe(false);
      expect(treeHash(await walkTree(cwd))).toBe((f.lock.components.seabios as { tree: string }).tree);
      for (const args of [checkout, ['branch', '-D', 'dummy'], ['checkout', '-b', 'dummy', 'FETCH_HEAD']]) {
        const r = await git([...args], { cwd, env });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
    }
  });

  test('URL spelling: trailing .git and slashes do not matter; the revision does', async () => {
    for (const [i, url] of [SEA_URL.replace(/\.git$/, ''), `${SEA_URL}/`].entries()) {
      const r = await git(['clone', '-q', url, `spell-${i}`], { cwd: fw() });
      expect(r.code, r.stderr).toBe(0);
    }
    const cwd = join(fw(), 'spell-0');
    for (const rev of ['rel-1.17.0', 'refs/tags/rel-1.17.0', COMMIT, COMMIT.slice(0, 12), 'FETCH_HEAD', 'HEAD']) {
      expect((await git(['fetch', 'origin', rev], { cwd })).code, rev).toBe(0);
      expect((await git(['reset', '--hard', rev], { cwd })).code, rev).toBe(0);
    }
    const bad = await git(['fetch', 'origin', 'rel-1.18.0'], { cwd });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toBe(`xenrel shim: refusing to fetch ${SEA_URL} (rel-1.18.0): ${NOT_IN_LOCK}\n`);
    const badCheckout = await git(['checkout', '-b', 'dummy', 'master'], { cwd });
    expect(badCheckout.stderr).toBe(`xenrel shim: refusing to fetch ${SEA_URL} (master): ${NOT_IN_LOCK}\n`);
    const badBranch = await git(['clone', '-b', 'master', SEA_URL, 'spell-x'], { cwd: fw() });
    expect(badBranch.code).not.toBe(0);
    expect(await exists(join(fw(), 'spell-x'))).toBe(false);
  });

  test('an unlisted repository is refused with one message, and nothing is created', async () => {
    const url = 'https://example.invalid/git/grub.git';
    const r = await git(['clone', url, 'grub-dir-remote.tmp'], { cwd: fw() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`xenrel shim: refusing to fetch ${url}: ${NOT_IN_LOCK}\n`);
    expect(await exists(join(fw(), 'grub-dir-remote.tmp'))).toBe(false);
  });

  test('a left-out component is refused as such', async () => {
    const r = await git(['clone', LEFT_URL, 'qemu-xen-dir-remote.tmp'], { cwd: join(f.root, 'tools') });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /^xenrel shim: refusing to fetch https:\/\/example\.invalid\/git\/qemu-xen\.git: component qemu-xen was left out on purpose \(xenrel vendor --without qemu-xen\)/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readFile(join(f.root, '.xenrel/WITHOUT'), 'utf8')).toContain('--with-system-qemu');
  });

  test('force-update: fetch origin is a no-op, reset --hard restores locked files and keeps untracked ones', async () => {
    const cwd = join(f.root, 'tools/firmware/seabios-dir-remote');
    expect((await git(['clone', SEA_URL, cwd])).code).toBe(0);
    await writeFile(join(cwd, 'src/post.c'), 'local edit\n');
    await writeFile(join(cwd, '.config'), 'CONFIG_XEN=y\n');
    await import('node:fs/promises').then((fs) => fs.rm(join(cwd, 'README')));
    // A symlink where a locked file belongs is replaced, not written through.
    const outside = join(await tmp.make('xenrel-outside-'), 'victim');
    await writeFile(outside, 'untouched\n');
    await import('node:fs/promises').then((fs) => fs.rm(join(cwd, 'scripts/build.sh')));
    await symlink(outside, join(cwd, 'scripts/build.sh'));
    expect((await git(['fetch', 'origin'], { cwd })).code).toBe(0);
    const r = await git(['reset', '--hard', 'rel-1.17.0'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(cwd, 'src/post.c'), 'utf8')).toBe('int post;\n');
    expect(await readFile(join(cwd, 'README'), 'utf8')).toBe('seabios\n');
    expect(await readFile(join(cwd, '.config'), 'utf8')).toBe('CONFIG_XEN=y\n');
    expect(await readFile(outside, 'utf8')).toBe('untouched\n');
    expect(treeHash(await walkTree(cwd, { ignorePaths: ['.config'] }))).toBe(
      (f.lock.components.seabios as { tree: string }).tree,
    );
    // In the component's own path the shim knows what it is, even without a clone record.
    expect((await git(['submodule', 'update', '--init', '--recursive'], { cwd })).code).toBe(0);
    expect((await git(['rev-parse', 'HEAD'], { cwd })).stdout.toString()).toBe(`${COMMIT}\n`);
    const status = await git(['status'], { cwd });
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/^xenrel shim: git status is not available in .*: xenrel placed seabios/);
  });

  test('git archive --prefix of a served clone (the iPXE fallback)', async () => {
    const cwd = join(fw(), 'ipxe.git');
    expect((await git(['clone', SEA_URL, 'ipxe.git'], { cwd: fw() })).code).toBe(0);
    const r = await git(['archive', '--format=tar', '--prefix=ipxe/', COMMIT], { cwd, env: { PATH: minPath } });
    expect(r.code, r.stderr).toBe(0);
    const listing = await new Promise<string>((res) => {
      const c = spawn('tar', ['-tf', '-'], { stdio: ['pipe', 'pipe', 'ignore'] });
      let s = '';
      c.stdout.on('data', (d) => (s += d));
      c.on('close', () => res(s));
      c.stdin.end(r.stdout);
    });
    expect(listing.split('\n')).toEqual(
      expect.arrayContaining([
        'ipxe/README',
        'ipxe/src/post.c',
        'ipxe/dir with space/a file.txt',
        'ipxe/link-to-readme',
      ]),
    );
    expect(
      listing
        .split('\n')
        .filter(Boolean)
        .every((l) => l.startsWith('ipxe/')),
    ).toBe(true);
    const remote = await git(['archive', '--remote=https://example.invalid/x.git', 'HEAD'], { cwd });
    expect(remote.code).not.toBe(0);
  });

  test('network commands outside a served folder are refused; local ones go to the real git', async () => {
    const plain = await tmp.make('xenrel-plain-');
    const fetchR = await git(['fetch', 'origin', 'main'], { cwd: plain });
    expect(fetchR.code).not.toBe(0);
    expect(fetchR.stderr).toBe(`xenrel shim: refusing to fetch origin (main): ${NOT_IN_LOCK}\n`);
    for (const args of [['ls-remote', SEA_URL], ['pull'], ['submodule', 'update', '--init'], ['remote', 'update']]) {
      const r = await git(args, { cwd: plain });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^xenrel shim: refusing to /);
    }
    const init = await git(['init', '-q', 'repo'], { cwd: plain });
    expect(init.code, init.stderr).toBe(0);
    expect(await exists(join(plain, 'repo/.git'))).toBe(true);
    const noGit = await git(['init', '-q', 'repo2'], { cwd: plain, env: { PATH: minPath } });
    expect(noGit.code).not.toBe(0);
    expect(noGit.stderr).toBe('xenrel shim: git init: no real git on PATH, and the xenrel shim only serves fetches\n');
  });

  test('a real git or wget on PATH is never used for a fetch', async () => {
    const trap = await tmp.make('xenrel-trap-');
    const marker = join(trap, 'called');
    for (const t of ['git', 'wget', 'curl']) {
      await writeFile(join(trap, t), `#!/bin/sh\necho "$0 $*" >> '${marker}'\nexit 0\n`);
      await chmod(join(trap, t), 0o755);
    }
    const env = { PATH: `${trap}:${minPath}` };
    expect((await git(['clone', 'https://example.invalid/unlisted.git', 'x'], { cwd: fw(), env })).code).not.toBe(0);
    expect(
      (await fetch(['-c', '-O', join(trap, 'out'), 'https://example.invalid/unlisted.tar.gz'], { env })).code,
    ).not.toBe(0);
    expect((await git(['ls-remote', SEA_URL], { env })).code).not.toBe(0);
    expect(await exists(marker)).toBe(false);
  });

  test('FETCHER forms: -c -O OUT URL, -o OUT URL, OUT URL; each verified and written whole', async () => {
    const sd = join(f.root, 'stubdom');
    const env = { PATH: minPath };
    for (const [i, args] of [
      ['-c', '-O', 'f0.tar.gz', TB_URL],
      ['-o', 'f1.tar.gz', TB_URL],
      ['f2.tar.gz', TB_URL],
    ].entries()) {
      const r = await fetch(args, { cwd: sd, env });
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(sd, `f${i}.tar.gz`))).toEqual(f.tbBytes);
    }
    expect((await readdir(sd)).filter((n) => n.includes('xenrel-tmp'))).toEqual([]);
    const bad = await fetch(['-c', '-O', 'nope.tar.gz', 'https://example.invalid/extfiles/nope-1.0.tar.gz'], {
      cwd: sd,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toBe(
      `xenrel shim: refusing to fetch https://example.invalid/extfiles/nope-1.0.tar.gz: ${NOT_IN_LOCK}\n`,
    );
    expect(await exists(join(sd, 'nope.tar.gz'))).toBe(false);
    const usage = await fetch(['only-one-arg'], { cwd: sd });
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toMatch(/^xenrel shim: usage: fetch/);
  });

  test('XENREL_SHIM_LOG gets one line per call: tool, folder, call, outcome', async () => {
    const logFix = await handMade();
    const log = join(logFix.root, 'calls.log');
    const env = { XENREL_SHIM_LOG: log };
    await runShim(shell, logFix, 'fetch', ['out.tar.gz', TB_URL], { cwd: join(logFix.root, 'stubdom'), env });
    await runShim(shell, logFix, 'fetch', ['out2.tar.gz', 'https://example.invalid/x.tar.gz'], {
      cwd: join(logFix.root, 'stubdom'),
      env,
    });
    await runShim(shell, logFix, 'git', ['clone', SEA_URL, 'sea'], { cwd: join(logFix.root, 'tools/firmware'), env });
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]!.split('\t')).toEqual([
      'fetch',
      join(logFix.root, 'stubdom'),
      `out.tar.gz ${TB_URL}`,
      'served tb -> out.tar.gz',
    ]);
    expect(lines[1]!.split('\t')[3]).toMatch(/^refused: refusing to fetch https:\/\/example\.invalid\/x\.tar\.gz/);
    expect(lines[2]!.split('\t')[3]).toBe(`served seabios ${COMMIT} -> sea`);
  });
});
