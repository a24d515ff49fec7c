/**
 * Concurrency: several `xenrel fetch` processes on one
 * cache, and a `vendor` racing a `fetch`, all succeed; the cache ends with one copy of each
 * object, one git mirror, and is well-formed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { auditCache, createWorld, makeProject, runXenrel, sri512, type HardeningWorld } from '../helpers/hardening.js';

const tmp = tempDirs();
let w: HardeningWorld;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  w = await createWorld(await tmp.make('xenrel-world-'), { bigBytes: 2 * 1024 * 1024, files: 100 });
  env = w.fx.env;
}, 120_000);

afterAll(async () => {
  await w?.close();
  await tmp.cleanup();
});

async function lockedProject(): Promise<string> {
  const proj = await makeProject(await tmp.make('xenrel-conc-'), w.config());
  const c = await tmp.make('xenrel-cache-');
  expect((await runXenrel(['lock', '--cache', c], { cwd: proj, env })).code).toBe(0);
  return proj;
}

describe('concurrent processes on one cache', () => {
  it('four fetches at once: all succeed, one copy of each object, one mirror', async () => {
    const proj = await lockedProject();
    const cache = await tmp.make('xenrel-cache-');
    const mark = w.server.requests.length;
    const runs = await Promise.all([0, 1, 2, 3].map(() => runXenrel(['fetch', '--cache', cache], { cwd: proj, env })));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const audit = await auditCache(cache);
    expect(audit.problems).toEqual([]);
    expect(audit.content.sort()).toEqual([sri512(w.big), sri512(w.small)].sort());
    expect(audit.mirrors).toHaveLength(1);
    // The per-URL lock makes the others wait and find it cached: each object downloaded once.
    const gets = w.server.requests.slice(mark).filter((q) => q.method === 'GET' && q.status === 200);
    expect(gets.filter((q) => q.path === w.bigPath)).toHaveLength(1);
    expect(gets.filter((q) => q.path === w.smallPath)).toHaveLength(1);
    expect((await readdir(join(cache, 'partial')).catch(() => [])).filter((n) => !n.startsWith('.'))).toEqual([]);
  }, 180_000);

  it('vendor racing fetch (and a second vendor elsewhere): all succeed, trees check, cache well-formed', async () => {
    const proj = await lockedProject();
    const other = await lockedProject();
    const cache = await tmp.make('xenrel-cache-');
    const [f, v1, v2] = await Promise.all([
      runXenrel(['fetch', '--cache', cache], { cwd: proj, env }),
      runXenrel(['vendor', '--cache', cache], { cwd: proj, env }),
      runXenrel(['vendor', '--cache', cache], { cwd: other, env }),
    ]);
    for (const r of [f, v1, v2]) expect(r.code, r.stderr).toBe(0);
    for (const d of [proj, other]) expect((await runXenrel(['vendor', '--check'], { cwd: d, env })).code).toBe(0);
    const audit = await auditCache(cache);
    expect(audit.problems).toEqual([]);
    expect(audit.content.sort()).toEqual([sri512(w.big), sri512(w.small)].sort());
    expect(audit.mirrors).toHaveLength(1);
  }, 180_000);
});
