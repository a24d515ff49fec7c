/**
 * The cache's cross-process lock, held by a second real process: the waiting side says once
 * that it waits, runs once the holder lets go, and gives up with E_LOCKED (exit 3) after its
 * wait time.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import { XenrelError } from '../../src/errors.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

async function newCache(): Promise<Cache> {
  const cache = new Cache(await tmp.make('xenrel-lock-'));
  await cache.init();
  return cache;
}

/** Another process holding the lock `name` for `ms`; resolves once it holds it. */
async function holder(cache: Cache, name: string, ms: number): Promise<{ done: Promise<void> }> {
  const script = `
    const lockfile = require('proper-lockfile');
    lockfile.lock(process.argv[1], { realpath: false, stale: 30000, update: 10000 }).then((release) => {
      process.stdout.write('held\\n');
      setTimeout(() => release().then(() => process.exit(0)), Number(process.argv[2]));
    });`;
  const child = spawn(process.execPath, ['-e', script, join(cache.root, 'locks', name), String(ms)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const done = new Promise<void>((r) => child.on('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('held') && resolve());
    child.on('close', () => reject(new Error('the holder exited before taking the lock')));
  });
  return { done };
}

describe('cache lock', () => {
  it('waits for another process, says so once, then runs', async () => {
    const cache = await newCache();
    const told: string[] = [];
    cache.onWait = (what) => told.push(what);
    const h = await holder(cache, 'git-abc', 1500);
    const t0 = Date.now();
    let ranAt = 0;
    await cache.withLock('git-abc', async () => {
      ranAt = Date.now();
    });
    expect(ranAt - t0).toBeGreaterThan(500);
    expect(told).toEqual(['git-abc']);
    await h.done;
    // Free now: no waiting, nothing said.
    await cache.withLock('git-abc', async () => {});
    expect(told).toEqual(['git-abc']);
  });

  it('gives up after its wait time with E_LOCKED, exit 3', async () => {
    const cache = await newCache();
    const h = await holder(cache, 'tarball-x', 3000);
    const err = await cache.withLock('tarball-x', async () => 'ran', { waitMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XenrelError);
    expect((err as XenrelError).code).toBe('E_LOCKED');
    expect((err as XenrelError).exitCode).toBe(3);
    await h.done;
  });
});
