/**
 * Real git repositories for tests and for `npm run demo` (so: no vitest imports here).
 *
 *   const f = await GitFixtures.create();
 *   const repo = await f.repo('seabios', { files: sampleFiles() });
 *   await repo.commit('first');  await repo.tag('v1', { annotated: true });
 *   repo.url                      // file:///tmp/…/seabios
 *   const d = await f.startDaemon(); d.url(repo)   // git://127.0.0.1:PORT/seabios
 *   await f.cleanup();
 *
 * Commits use fixed names and dates (one fixed second per commit), so the same script
 * gives the same SHAs every run. Git runs with its system and global config out of the
 * way (a private HOME and GIT_CONFIG_GLOBAL), and `protocol.file.allow=always` so local
 * submodules work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** What a file in a fixture repo holds. */
export type FileSpec = string | Buffer | { content: string | Buffer; exec?: boolean } | { symlink: string };
export type FileTree = Record<string, FileSpec>;

/** A bit of everything the tree hash must handle. */
export function sampleFiles(): FileTree {
  return {
    README: 'sample upstream\n',
    Makefile: 'all:\n\t@echo built\n',
    configure: { content: '#!/bin/sh\necho configured\n', exec: true },
    'src/main.c': 'int main(void) { return 0; }\n',
    'src/lib/util.c': '/* util */\nint util(void) { return 1; }\n',
    'src/lib/deep/er/leaf.txt': 'leaf\n',
    'docs/Ünïcødé-名前.txt': 'non-ASCII name\n',
    'crlf.txt': 'line one\r\nline two\r\n',
    'link-to-readme': { symlink: 'README' },
    'src/link-up': { symlink: '../docs' },
    empty: '',
  };
}

const EPOCH = 1_700_000_000; // 2023-11-14, fixed so SHAs are stable

export class GitFixtures {
  readonly root: string;
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  private clock = 0;
  private daemons: GitDaemon[] = [];

  private constructor(root: string) {
    this.root = root;
    this.home = join(root, '.home');
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('GIT_')) delete env[k];
    Object.assign(env, {
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: join(this.home, '.gitconfig'),
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'Xenrel Test',
      GIT_AUTHOR_EMAIL: 'test@xenrel.invalid',
      GIT_COMMITTER_NAME: 'Xenrel Test',
      GIT_COMMITTER_EMAIL: 'test@xenrel.invalid',
      LC_ALL: 'C',
    });
    this.env = env;
  }

  static async create(prefix = 'xenrel-git-'): Promise<GitFixtures> {
    const f = new GitFixtures(await mkdtemp(join(tmpdir(), prefix)));
    await mkdir(f.home, { recursive: true });
    await writeFile(
      join(f.home, '.gitconfig'),
      [
        '[init]\n\tdefaultBranch = main',
        '[protocol "file"]\n\tallow = always',
        '[core]\n\tautocrlf = false',
        '[commit]\n\tgpgsign = false',
        '[tag]\n\tgpgsign = false',
        '[advice]\n\tdetachedHead = false',
        '[gc]\n\tauto = 0',
        '',
      ].join('\n'),
    );
    return f;
  }

  /** The next fixed timestamp: every commit and tag gets its own second. */
  tick(): string {
    this.clock += 1;
    return `${EPOCH + this.clock * 60} +0000`;
  }

  /** Run git with the fixture environment; throws with git's stderr on failure. */
  git(args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}, input?: string): Promise<string> {
    return run('git', args, { cwd, env: { ...this.env, ...extraEnv }, input });
  }

  /** A new non-bare repository under the fixture root, optionally with files (not committed yet). */
  async repo(name: string, opts: { files?: FileTree } = {}): Promise<TestRepo> {
    const dir = join(this.root, name);
    await mkdir(dir, { recursive: true });
    await this.git(['init', '--quiet', dir], this.root);
    const r = new TestRepo(this, name, dir);
    if (opts.files) await r.write(opts.files);
    return r;
  }

  /** Serve every repository under the root with `git daemon` on 127.0.0.1 and a free port. */
  async startDaemon(): Promise<GitDaemon> {
    const d = await GitDaemon.start(this.root, this.env);
    this.daemons.push(d);
    return d;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.daemons.splice(0).map((d) => d.stop()));
    await rm(this.root, { recursive: true, force: true });
  }
}

export class TestRepo {
  constructor(
    readonly fixtures: GitFixtures,
    readonly name: string,
    readonly dir: string,
  ) {}

  get url(): string {
    return `file://${this.dir}`;
  }

  git(...args: string[]): Promise<string> {
    return this.fixtures.git(args, this.dir);
  }

  /** Write files into the work tree (creating folders); does not stage or commit. */
  async write(files: FileTree): Promise<void> {
    for (const [path, spec] of Object.entries(files)) {
      const abs = join(this.dir, path);
      await mkdir(dirname(abs), { recursive: true });
      await rm(abs, { force: true, recursive: true });
      if (typeof spec === 'object' && 'symlink' in spec) {
        await symlink(spec.symlink, abs);
        continue;
      }
      const content = typeof spec === 'string' || Buffer.isBuffer(spec) ? spec : spec.content;
      const exec = typeof spec === 'object' && !Buffer.isBuffer(spec) && 'exec' in spec && spec.exec;
      await writeFile(abs, content);
      await chmod(abs, exec ? 0o755 : 0o644);
    }
  }

  async remove(...paths: string[]): Promise<void> {
    for (const p of paths) await unlink(join(this.dir, p));
  }

  /** Stage everything and commit with a fixed date; returns the commit id. */
  async commit(message: string, files?: FileTree): Promise<string> {
    if (files) await this.write(files);
    await this.git('add', '-A');
    const date = this.fixtures.tick();
    await this.fixtures.git(['commit', '--quiet', '--allow-empty', '-m', message], this.dir, {
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    });
    return this.head();
  }

  async head(): Promise<string> {
    return (await this.git('rev-parse', 'HEAD')).trim();
  }

  async revParse(rev: string): Promise<string> {
    return (await this.git('rev-parse', rev)).trim();
  }

  /** Tag `commit` (default HEAD); returns the tag object id for annotated tags, else the commit. */
  async tag(
    name: string,
    opts: { annotated?: boolean; message?: string; commit?: string; force?: boolean } = {},
  ): Promise<string> {
    const args = ['tag'];
    if (opts.force) args.push('-f');
    if (opts.annotated) args.push('-a', '-m', opts.message ?? `release ${name}`);
    args.push(name, opts.commit ?? 'HEAD');
    const date = this.fixtures.tick();
    await this.fixtures.git(args, this.dir, { GIT_COMMITTER_DATE: date });
    return this.revParse(`refs/tags/${name}`);
  }

  /** Point an existing tag at another commit (what upstreams do when they re-tag). */
  async moveTag(name: string, commit: string, opts: { annotated?: boolean } = {}): Promise<string> {
    return this.tag(name, { ...opts, commit, force: true });
  }

  async deleteTag(name: string): Promise<void> {
    await this.git('tag', '-d', name);
  }

  /** Create or move a branch to `commit` (default HEAD) without checking it out. */
  async branch(name: string, commit = 'HEAD'): Promise<void> {
    await this.git('branch', '-f', name, commit);
  }

  async checkout(ref: string, opts: { create?: boolean } = {}): Promise<void> {
    await this.git('checkout', '--quiet', ...(opts.create ? ['-b'] : []), ref);
  }

  /**
   * Add a submodule at `path` pointing at `sub` (its `commit`, default its HEAD): a real
   * gitlink in the index and a `.gitmodules` entry, without cloning (the path is left as
   * an empty folder, which git reads as "not checked out"). `url` overrides the URL
   * written to .gitmodules (e.g. a relative `../sub`). Commit afterwards.
   */
  async addSubmodule(
    path: string,
    sub: TestRepo,
    opts: { commit?: string; url?: string; name?: string } = {},
  ): Promise<string> {
    const commit = opts.commit ?? (await sub.head());
    const name = opts.name ?? path;
    await mkdir(join(this.dir, path), { recursive: true });
    await this.git('config', '--file', '.gitmodules', `submodule.${name}.path`, path);
    await this.git('config', '--file', '.gitmodules', `submodule.${name}.url`, opts.url ?? sub.url);
    await this.git('update-index', '--add', '--cacheinfo', `160000,${commit},${path}`);
    await this.git('add', '.gitmodules');
    return commit;
  }

  /** A throwaway clone with a checked-out work tree (what `git clone` gives a user). */
  async cloneTo(dest: string, ref?: string): Promise<string> {
    await this.fixtures.git(['clone', '--quiet', this.url, dest], this.fixtures.root);
    if (ref) await this.fixtures.git(['checkout', '--quiet', ref], dest);
    return dest;
  }
}

/** Random bytes that do not compress, deterministic from a seed (for "large repo" tests). */
export function pseudoRandomBytes(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export class GitDaemon {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly base: string,
  ) {}

  static async start(base: string, env: NodeJS.ProcessEnv): Promise<GitDaemon> {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const child = spawn(
        'git',
        [
          'daemon',
          '--verbose',
          '--reuseaddr',
          '--export-all',
          `--base-path=${base}`,
          '--listen=127.0.0.1',
          `--port=${port}`,
          base,
        ],
        {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
          detached: true,
        },
      );
      const ready = await new Promise<boolean>((resolve) => {
        let err = '';
        const timer = setTimeout(() => resolve(false), 10_000);
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('Ready to rumble')) {
            clearTimeout(timer);
            resolve(true);
          }
        });
        child.on('exit', () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (ready) {
        child.stderr!.resume();
        return new GitDaemon(port, child, base);
      }
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      if (attempt >= 3) throw new Error('git daemon did not start');
    }
  }

  /** `git://127.0.0.1:PORT/<repo name>` */
  url(repo: TestRepo | string): string {
    const rel = typeof repo === 'string' ? repo : repo.dir.slice(this.base.length + 1);
    return `git://127.0.0.1:${this.port}/${rel}`;
  }

  /** Stop the daemon and the per-connection children it forked (its process group). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      process.kill(-this.child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    await exited;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(' ')} (in ${opts.cwd}) failed with ${code}: ${err.trim()}`)),
    );
  });
}

/** A temp dir outside the fixture root (e.g. for a cache). */
export async function tempDir(prefix = 'xenrel-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
