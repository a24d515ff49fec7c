/**
 * The crash-safety suite's world and checks, one test file per command killed
 * (crash-safety-*.test.ts) so the workers share the kills: the built CLI is SIGKILLed with
 * its whole process group at a spread of points, then the cache, lockfile, vendored tree
 * or release folder is checked and the next run must succeed downloading nothing held.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from './tmp.js';
import { auditCache, createWorld, makeProject, runXenrel, spawnCli, sri512, type HardeningWorld } from './hardening.js';
import { isLockedTarball } from '../../src/model/kind.js';
import type { Lockfile } from '../../src/model/lock.js';

/** Fractions of a full run's duration at which to kill. */
export const FRACTIONS = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95];

export interface CrashSuite {
  tmp: ReturnType<typeof tempDirs>;
  w: HardeningWorld;
  env: NodeJS.ProcessEnv;
}

/** The world (seabios over git, a 3 MiB and a small tarball over HTTP), built in beforeAll. */
export function crashSuite(): CrashSuite {
  const s = { tmp: tempDirs() } as CrashSuite;
  beforeAll(async () => {
    s.w = await createWorld(await s.tmp.make('xenrel-world-'), { bigBytes: 3 * 1024 * 1024, files: 200 });
    s.env = s.w.fx.env;
  }, 120_000);
  afterAll(async () => {
    await s.w?.close();
    await s.tmp.cleanup();
  });
  return s;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start `args`, kill it after `ms` (or when `until` resolves first), wait for it to end. */
export async function killAt(s: CrashSuite, args: string[], cwd: string, ms: number, until?: () => Promise<void>) {
  const r = spawnCli(args, { cwd, env: s.env });
  await Promise.race([sleep(ms), until?.() ?? new Promise(() => {}), r.done]);
  r.kill();
  return r.done;
}

/** Wait until the server has sent at least `n` bytes of `path` since request index `from`. */
export async function bytesSent(s: CrashSuite, path: string, from: number, n: number): Promise<void> {
  for (;;) {
    const sent = s.w.server.requests
      .slice(from)
      .filter((q) => q.path === path)
      .reduce((sum, q) => sum + q.bytesSent, 0);
    if (sent >= n) return;
    await sleep(5);
  }
}

export const requestsSince = (s: CrashSuite, mark: number) => s.w.server.requests.slice(mark);

export async function expectWellFormed(cacheDir: string, when: string) {
  const a = await auditCache(cacheDir);
  expect(a.problems, `cache after ${when}`).toEqual([]);
  return a;
}

/** Tarball paths on the server for the tarballs of `lock`, keyed by their storage SRI. */
export function tarballObjects(lock: Lockfile, bodies: Record<string, Buffer>) {
  return Object.values(lock.components)
    .filter(isLockedTarball)
    .map((c) => {
      const path = new URL(c.url).pathname;
      return { path, sri: sri512(bodies[path]!) };
    });
}

/** The reference lockfile of the world's config, from an uninterrupted `lock`. */
export async function referenceLock(s: CrashSuite): Promise<{ refLock: string; lock: Lockfile }> {
  const proj = await makeProject(await s.tmp.make('xenrel-lockref-'), s.w.config());
  const cache = await s.tmp.make('xenrel-cache-');
  const full = await runXenrel(['lock', '--cache', cache], { cwd: proj, env: s.env });
  expect(full.code, full.stderr).toBe(0);
  const refLock = await readFile(join(proj, 'xenrel.lock'), 'utf8');
  await rm(cache, { recursive: true, force: true });
  return { refLock, lock: JSON.parse(refLock) as Lockfile };
}
