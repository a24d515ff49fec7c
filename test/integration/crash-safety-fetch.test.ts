/**
 * Crash safety of `fetch`: the built CLI is
 * SIGKILLed with its process group at fractions of a full run and at points of the big
 * download. After each kill the lockfile is untouched and the cache well-formed; the rerun
 * (locks aged past their stale time) downloads nothing the cache held (requests counted on
 * the loopback server; a held git commit is reported "in cache"), publishes one copy of each
 * object, and `fetch --offline` then succeeds.
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ageLocks, makeProject, runXenrel as runCli } from '../helpers/hardening.js';
import { runInProcess } from '../helpers/in-process.js';
import {
  FRACTIONS,
  bytesSent,
  crashSuite,
  expectWellFormed,
  killAt as killIn,
  requestsSince as since,
  tarballObjects,
  referenceLock,
} from '../helpers/crash-safety.js';
import { hasCommit } from '../../src/sources/git/mirror.js';
import { Cache } from '../../src/content-cache/cache.js';
import { isLockedGit } from '../../src/model/kind.js';

const s = crashSuite();
const killAt = (args: string[], cwd: string, ms: number, until?: () => Promise<void>) =>
  killIn(s, args, cwd, ms, until);
const requestsSince = (mark: number) => since(s, mark);

describe('SIGKILL at many points leaves everything old or complete', () => {
  it('fetch: the cache is well-formed after each kill, and the rerun downloads only what was missing', async () => {
    const { tmp, w, env } = s;
    const { refLock, lock } = await referenceLock(s);
    const bodies = () => ({ [w.bigPath]: w.big, [w.smallPath]: w.small });
    const proj = await makeProject(await tmp.make('xenrel-fetch-'), w.config());
    await writeFile(join(proj, 'xenrel.lock'), refLock);
    const objects = tarballObjects(lock, bodies());
    const seabios = lock.components.seabios!;
    if (!isLockedGit(seabios)) throw new Error('fixture');

    const t0 = Date.now();
    const c0 = await tmp.make('xenrel-cache-');
    const full = await runCli(['fetch', '--cache', c0], { cwd: proj, env });
    expect(full.code, full.stderr).toBe(0);
    const total = Date.now() - t0;

    // Time-based points, plus points tied to the big download's progress.
    const points: { label: string; ms: number; until?: (mark: number) => () => Promise<void> }[] = FRACTIONS.map(
      (f) => ({
        label: `${Math.round(total * f)} ms`,
        ms: Math.round(total * f),
      }),
    );
    for (const frac of [0, 0.3, 0.7, 0.99])
      points.push({
        label: `big at ${frac * 100}%`,
        ms: 60_000,
        until: (mark) => () => bytesSent(s, w.bigPath, mark, Math.max(1, Math.floor(w.big.length * frac))),
      });

    for (const p of points) {
      const cacheDir = await tmp.make('xenrel-cache-');
      const mark = w.server.requests.length;
      const r = await killAt(['fetch', '--cache', cacheDir], proj, p.ms, p.until?.(mark));
      const when = `fetch killed at ${p.label} (exit ${r.code}, ${r.signal})`;
      expect(await readFile(join(proj, 'xenrel.lock'), 'utf8'), when).toBe(refLock);
      const audit = await expectWellFormed(cacheDir, when);
      const mirror = new Cache(cacheDir).gitMirrorDir(seabios.git);
      const hadCommit = audit.mirrors.includes(mirror) && (await hasCommit(mirror, seabios.commit));

      await ageLocks(cacheDir);
      const rerunMark = w.server.requests.length;
      // The reruns check what the kill left behind: in-process (only killed runs must spawn).
      const again = await runInProcess(['fetch', '--cache', cacheDir], { cwd: proj, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      const reqs = requestsSince(rerunMark);
      for (const o of objects) {
        if (audit.content.includes(o.sri))
          expect(
            reqs.filter((q) => q.path === o.path),
            `${when}: ${o.path} was held, yet fetched again`,
          ).toEqual([]);
      }
      if (hadCommit) expect(again.stdout, when).toMatch(/seabios: in cache/);
      const after = await expectWellFormed(cacheDir, `${when}, rerun`);
      // One copy of each object, nothing else published.
      expect(after.content.sort()).toEqual(objects.map((o) => o.sri).sort());
      expect(after.mirrors).toEqual([mirror]);
      const offline = await runInProcess(['fetch', '--offline', '--cache', cacheDir], { cwd: proj, env });
      expect(offline.code, offline.stderr).toBe(0);
    }
  }, 300_000);
});
