import { afterAll, beforeAll } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import type { Lockfile } from '../../src/model/lock.js';
import { tempDirs } from './tmp.js';
import { XenUpstreams, lockFixture, writeXenTree, type XenVersion } from './xen-tree.js';

export interface XenFixture {
  up: XenUpstreams;
  /** Holds every fixture component (what `xenrel lock && xenrel fetch` would leave). */
  cache: Cache;
  lock: Lockfile;
  tmp: ReturnType<typeof tempDirs>;
  /** A new Xen-like tree in a fresh folder. */
  freshTree(xenVersion?: XenVersion): Promise<string>;
}

/** The Xen-like upstreams, a filled cache and the lock, set up once per test file. */
export function xenFixtureSuite(): XenFixture {
  const tmp = tempDirs();
  const fx = {
    tmp,
    async freshTree(xenVersion: XenVersion = '4.22') {
      const dir = await tmp.make('xenrel-xen-');
      await writeXenTree(dir, fx.up, { xenVersion });
      return dir;
    },
  } as XenFixture;
  beforeAll(async () => {
    fx.up = await XenUpstreams.create();
    fx.cache = new Cache(await tmp.make('xenrel-cache-'));
    fx.lock = await lockFixture(fx.up, fx.cache);
  }, 120_000);
  afterAll(async () => {
    await fx.up?.cleanup();
    await tmp.cleanup();
  });
  return fx;
}
