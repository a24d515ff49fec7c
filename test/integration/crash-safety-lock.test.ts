/**
 * Crash safety of `lock`: the built
 * CLI is SIGKILLed with its process group at points of a full run. After each kill the
 * lockfile is absent or complete (it parses and equals the reference) and the cache is
 * well-formed (every content object re-hashes to its name, every git mirror under its final
 * name passes `git fsck --connectivity-only`); the rerun, its locks aged past their stale
 * time (ageLocks), writes the reference lockfile.
 */
import { describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ageLocks, makeProject, readLockIfAny, runXenrel as runCli } from '../helpers/hardening.js';
import { crashSuite, expectWellFormed, killAt as killIn } from '../helpers/crash-safety.js';

const s = crashSuite();
const killAt = (args: string[], cwd: string, ms: number, until?: () => Promise<void>) =>
  killIn(s, args, cwd, ms, until);

describe('SIGKILL at many points leaves everything old or complete', () => {
  it('lock: the lockfile is absent or complete; the cache stays well-formed', async () => {
    const { tmp, w, env } = s;
    const proj = await makeProject(await tmp.make('xenrel-lockref-'), w.config());
    const cache = await tmp.make('xenrel-cache-');
    const full = await runCli(['lock', '--cache', cache], { cwd: proj, env });
    expect(full.code, full.stderr).toBe(0);
    const refLock = await readFile(join(proj, 'xenrel.lock'), 'utf8');
    const t0 = Date.now();
    await rm(join(proj, 'xenrel.lock'));
    const cache2 = await tmp.make('xenrel-cache-');
    expect((await runCli(['lock', '--cache', cache2], { cwd: proj, env })).code).toBe(0);
    const total = Date.now() - t0;

    for (const f of [0.2, 0.6, 0.95]) {
      await rm(join(proj, 'xenrel.lock'), { force: true });
      const c = await tmp.make('xenrel-cache-');
      const r = await killAt(['lock', '--cache', c], proj, Math.round(total * f));
      const when = `lock killed at ${Math.round(total * f)} ms (exit ${r.code}, ${r.signal})`;
      const got = await readLockIfAny(join(proj, 'xenrel.lock'));
      if (got) expect(await readFile(join(proj, 'xenrel.lock'), 'utf8'), when).toBe(refLock);
      await expectWellFormed(c, when);
      await ageLocks(c);
      const again = await runCli(['lock', '--cache', c], { cwd: proj, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      expect(await readFile(join(proj, 'xenrel.lock'), 'utf8')).toBe(refLock);
      await expectWellFormed(c, `${when}, rerun`);
    }
  }, 300_000);
});
