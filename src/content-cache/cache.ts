import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { XenrelError, ExitCode } from '../errors.js';

/** Where the cache lives: --cache, else $XENREL_CACHE, else $XDG_CACHE_HOME/xenrel. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XENREL_CACHE) return resolve(env.XENREL_CACHE);
  const xdg = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(resolve(xdg), 'xenrel');
}

export const urlKey = (url: string) => createHash('sha256').update(url).digest('hex').slice(0, 32);

/**
 * The cache layout:
 *   content/     cacache store of downloaded bytes, keyed by integrity (immutable, verified on read)
 *   git/<key>.git  one bare mirror per git URL
 *   partial/<key>  resumable downloads in progress (never read as content)
 *   locks/       lock files for the few non-idempotent steps
 */
export class Cache {
  readonly root: string;
  /** Told once per lock when another process holds it and this one waits. */
  onWait?: (what: string) => void;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get contentDir() {
    return join(this.root, 'content');
  }

  gitMirrorDir(url: string): string {
    const base = url
      .replace(/\/+$/, '')
      .split('/')
      .pop()!
      .replace(/\.git$/, '')
      .replace(/[^A-Za-z0-9._-]/g, '_');
    return join(this.root, 'git', `${base}-${urlKey(url)}.git`);
  }

  partialPath(url: string): string {
    return join(this.root, 'partial', urlKey(url));
  }

  async init(): Promise<void> {
    for (const d of ['content', 'git', 'partial', 'locks']) await mkdir(join(this.root, d), { recursive: true });
  }

  /**
   * Run `fn` holding an exclusive, cross-process lock named `name`. Stale locks (a killed
   * process) are taken over after `staleMs`.
   */
  async withLock<T>(name: string, fn: () => Promise<T>, opts: { staleMs?: number; waitMs?: number } = {}): Promise<T> {
    const file = join(this.root, 'locks', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}`);
    await mkdir(join(this.root, 'locks'), { recursive: true });
    const stale = opts.staleMs ?? 30_000;
    const waitMs = opts.waitMs ?? 10 * 60_000;
    const deadline = Date.now() + waitMs;
    let release: (() => Promise<void>) | undefined;
    let told = false;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        release = await lockfile.lock(file, { realpath: false, stale, update: Math.floor(stale / 3) });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        if (!told) {
          told = true;
          this.onWait?.(name);
        }
        if (Date.now() > deadline)
          throw new XenrelError('E_LOCKED', `another xenrel process holds ${file}`, {
            exitCode: ExitCode.fetch,
            hint: 'wait for it to finish, or remove the lock if no xenrel process is running',
          });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => {});
    }
  }
}
