/**
 * Fixtures and checks shared by the hardening tests (crash safety, disk full, concurrency):
 * a small project with a git component and two tarballs on a loopback server, a way to run
 * the built CLI in its own process group (so SIGKILL takes git children with it, as a build
 * farm killing a job does), and checks that the cache, lockfile and vendored tree are
 * well-formed.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import cacache from 'cacache';
import { CLI as BUILT_CLI, type CliResult } from './cli.js';
import { GitFixtures, pseudoRandomBytes, type TestRepo } from './git-repos.js';
import { startHttpServer, type TestHttpServer } from './http-server.js';
import { parseLockText } from '../../src/lock/lockfile.js';
import type { Lockfile } from '../../src/model/lock.js';

/** The built CLI; XENREL_TEST_CLI points at another build (a private one while others rebuild dist/). */
export const CLI = process.env.XENREL_TEST_CLI ?? BUILT_CLI;

/** Run the CLI to the end (like runCli, but honouring XENREL_TEST_CLI). */
export async function runXenrel(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  const { code, stdout, stderr } = await spawnCli(args, opts).done;
  return { code, stdout, stderr };
}

export interface Running {
  done: Promise<CliResult & { signal: NodeJS.Signals | null; ms: number }>;
  /** SIGKILL the CLI and everything it started. */
  kill(): void;
  pid: number;
}

/** The built CLI in a new process group. */
export function spawnCli(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; wrap?: string[]; timeoutMs?: number },
): Running {
  const full = [...(opts.wrap ?? []), process.execPath, CLI, ...args];
  const child = spawn(full[0]!, full.slice(1), {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const started = Date.now();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(kill, opts.timeoutMs ?? 120_000);
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null; ms: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the CLI left running in its group (git) goes too.
      kill();
      resolve({ code: code ?? 128, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { done, kill, pid: child.pid! };
}

export const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A tar.gz of one folder `top/` with these files, made by GNU tar. */
export function makeTarGz(workDir: string, top: string, files: Record<string, Buffer | string>): Buffer {
  const d = join(workDir, `tgz-${randomBytes(4).toString('hex')}`);
  for (const [p, c] of Object.entries(files)) {
    const abs = join(d, top, p);
    execFileSync('mkdir', ['-p', join(abs, '..')]);
    execFileSync('sh', ['-c', 'cat > "$1"', 'sh', abs], { input: c });
  }
  return execFileSync(
    'tar',
    ['-C', d, '--sort=name', '--owner=0', '--group=0', '--mtime=@1700000000', '-czf', '-', top],
    { maxBuffer: 1 << 30 },
  );
}

export interface HardeningWorld {
  fx: GitFixtures;
  seabios: TestRepo;
  server: TestHttpServer;
  /** Paths on the server. */
  bigPath: string;
  smallPath: string;
  big: Buffer;
  small: Buffer;
  /** Config text for the project (seabios at `ref`). */
  config(ref?: string, opts?: { bigPath?: string }): string;
  close(): Promise<void>;
}

/**
 * seabios (git, a few hundred files, tags v1 and v2 with different content), a 6 MiB
 * incompressible tarball and a small one, both on a loopback server.
 */
export async function createWorld(
  workDir: string,
  opts: { bigBytes?: number; files?: number } = {},
): Promise<HardeningWorld> {
  const fx = await GitFixtures.create();
  const files: Record<string, string | Buffer> = { Makefile: 'all:\n\techo seabios\n' };
  for (let i = 0; i < (opts.files ?? 300); i++)
    files[`src/d${i % 17}/f${i}.c`] = `int f${i} = ${i};\n${'/* pad */\n'.repeat(i % 50)}`;
  files['blob.bin'] = pseudoRandomBytes(512 * 1024, 7);
  const seabios = await fx.repo('seabios', { files });
  await seabios.commit('v1');
  await seabios.tag('v1', { annotated: true });
  await seabios.commit('v2', { 'src/d0/f0.c': 'int f0 = 42;\n', NEWS: 'v2\n' });
  await seabios.tag('v2', { annotated: true });
  const big = makeTarGz(workDir, 'big-1.0', {
    'data.bin': pseudoRandomBytes(opts.bigBytes ?? 6 * 1024 * 1024, 3),
    README: 'big\n',
  });
  const big2 = makeTarGz(workDir, 'big-2.0', {
    'data.bin': pseudoRandomBytes(opts.bigBytes ?? 6 * 1024 * 1024, 4),
    README: 'big 2\n',
  });
  const small = makeTarGz(workDir, 'small-1.0', { 'a.c': 'int a;\n' });
  const server = await startHttpServer({
    files: { '/dl/big-1.0.tar.gz': big, '/dl/big-2.0.tar.gz': big2, '/dl/small-1.0.tar.gz': small },
    chunkSize: 64 * 1024,
  });
  return {
    fx,
    seabios,
    server,
    bigPath: '/dl/big-1.0.tar.gz',
    smallPath: '/dl/small-1.0.tar.gz',
    big,
    small,
    config: (ref = 'v1', o = {}) => `version: 1
name: xen
release:
  version: 4.22.0
components:
  seabios:
    git: ${seabios.url}
    ref: ${ref}
    path: tools/firmware/seabios-dir-remote
  big:
    url: ${server.url}${o.bigPath ?? '/dl/big-1.0.tar.gz'}
    path: stubdom/big-1.0.tar.gz
  small:
    url: ${server.url}/dl/small-1.0.tar.gz
    path: stubdom/small-1.0.tar.gz
`,
    async close() {
      await server.close();
      await fx.cleanup();
    },
  };
}

/** A project folder holding `config` and a Makefile (a plain folder, not a git work tree). */
export async function makeProject(dir: string, config: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'xenrel.config.yaml'), config);
  await writeFile(join(dir, 'Makefile'), 'all:\n\t@echo xen\n');
  return dir;
}

export function commitProject(dir: string, env: NodeJS.ProcessEnv): void {
  for (const args of [
    ['init', '-q'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'xen'],
  ])
    execFileSync('git', args, {
      cwd: dir,
      env: { ...env, GIT_AUTHOR_DATE: '@1700000000 +0000', GIT_COMMITTER_DATE: '@1700000000 +0000' },
    });
}

async function* walkFiles(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walkFiles(p);
    else yield p;
  }
}

function fileHash(file: string, algo: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash(algo);
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export interface CacheAudit {
  /** Problems found; empty means well-formed. */
  problems: string[];
  /** sha512 SRIs of the content objects held (each re-hashed right). */
  content: string[];
  /** Mirror folders (final names) that passed `git fsck --connectivity-only`. */
  mirrors: string[];
}

/**
 * Every content object re-hashes to its name (cacache layout content-v2/sha512/aa/bb/rest),
 * the index reads, and every git mirror under its final name passes
 * `git fsck --connectivity-only`. Temp names (`.*.xenrel-tmp-*`, cacache's tmp/) are
 * ignored: they are never read as content.
 */
export async function auditCache(cacheDir: string): Promise<CacheAudit> {
  const problems: string[] = [];
  const content: string[] = [];
  const base = join(cacheDir, 'content', 'content-v2');
  for await (const f of walkFiles(base)) {
    const rel = relative(base, f).split('/');
    const [algo, a, b, rest] = rel as [string, string, string, string];
    if (rel.length !== 4) {
      problems.push(`unexpected file in the content store: ${f}`);
      continue;
    }
    const want = a + b + rest;
    const got = await fileHash(f, algo);
    if (got !== want) problems.push(`content object ${f} re-hashes to ${got}`);
    else content.push(`${algo}-${Buffer.from(want, 'hex').toString('base64')}`);
  }
  try {
    await cacache.ls(join(cacheDir, 'content'));
  } catch (err) {
    problems.push(`the cacache index does not read: ${(err as Error).message}`);
  }
  const mirrors: string[] = [];
  for (const name of await readdir(join(cacheDir, 'git')).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const dir = join(cacheDir, 'git', name);
    const r = spawnSync('git', ['--git-dir', dir, 'fsck', '--connectivity-only', '--no-progress'], {
      encoding: 'utf8',
    });
    if (r.status !== 0)
      problems.push(`git mirror ${name} fails fsck: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    else mirrors.push(dir);
  }
  return { problems, content, mirrors };
}

/** The SRI cacache stores a buffer under. */
export const sri512 = (b: Buffer) => `sha512-${createHash('sha512').update(b).digest('base64')}`;

/** Parse a lockfile if present: undefined when absent, throws when half-written. */
export async function readLockIfAny(file: string): Promise<Lockfile | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLockText(text, file);
}

export async function fileSha256(file: string): Promise<string | undefined> {
  if (!(await stat(file).catch(() => undefined))) return undefined;
  return fileHash(file, 'sha256');
}

/**
 * Let the cache's locks left by a killed process go stale now instead of after their 30 s:
 * what the next run then does (take the lock over, clean up, finish) is what it would do
 * half a minute later, without the test sitting through the wait. A lock is stale when its
 * mtime is older than the stale time (proper-lockfile); a live holder would refresh it.
 */
export async function ageLocks(cacheDir: string, seconds = 3600): Promise<string[]> {
  const dir = join(cacheDir, 'locks');
  const held = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.lock'));
  const then = Date.now() / 1000 - seconds;
  for (const n of held) await utimes(join(dir, n), then, then);
  return held;
}

/** Copy a folder (cp -a), for resetting state between kill points. */
export function copyTree(from: string, to: string): void {
  execFileSync('rm', ['-rf', to]);
  execFileSync('cp', ['-a', from, to]);
}

/** Can this process mount a tmpfs in a private mount namespace? (root, or user namespaces) */
export function canMountTmpfs(): boolean {
  return (
    spawnSync('unshare', [
      '-rm',
      'sh',
      '-c',
      'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d" && rmdir "$d"',
    ]).status === 0
  );
}
