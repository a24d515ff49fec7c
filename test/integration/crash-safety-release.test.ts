/**
 * Crash safety of `release`: the built CLI is
 * SIGKILLed at fractions of a full run. After each kill the output folder has nothing under
 * the final name unless it is the complete, byte-identical tarball (and SHA256SUMS); the
 * rerun (locks aged past their stale time) downloads nothing, writes the same bytes and
 * leaves no temporary names.
 */
import { describe, expect, it } from 'vitest';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ageLocks, commitProject, fileSha256, makeProject, runXenrel as runCli } from '../helpers/hardening.js';
import {
  FRACTIONS,
  crashSuite,
  expectWellFormed,
  killAt as killIn,
  requestsSince as since,
} from '../helpers/crash-safety.js';

const s = crashSuite();
const killAt = (args: string[], cwd: string, ms: number, until?: () => Promise<void>) =>
  killIn(s, args, cwd, ms, until);
const requestsSince = (mark: number) => since(s, mark);

describe('SIGKILL at many points leaves everything old or complete', () => {
  it('release: nothing under the final name unless complete and identical; the rerun downloads nothing', async () => {
    const { tmp, w, env } = s;
    const cacheDir = await tmp.make('xenrel-cache-');
    const proj = await makeProject(join(await tmp.make('xenrel-rel-'), 'xen'), w.config());
    expect((await runCli(['lock', '--cache', cacheDir], { cwd: proj, env })).code).toBe(0);
    commitProject(proj, env);
    const out = join(proj, '..', 'out');
    const name = 'xen-4.22.0.tar.gz';
    const t0 = Date.now();
    const full = await runCli(['release', '--cache', cacheDir, '--out', out], { cwd: proj, env });
    expect(full.code, full.stderr).toBe(0);
    const total = Date.now() - t0;
    const ref = (await fileSha256(join(out, name)))!;
    const refSums = await readFile(join(out, 'SHA256SUMS'), 'utf8');
    expect(refSums).toContain(`${ref}  ${name}\n`);

    for (const f of FRACTIONS) {
      await rm(out, { recursive: true, force: true });
      const r = await killAt(['release', '--cache', cacheDir, '--out', out], proj, Math.round(total * f));
      const when = `release killed at ${Math.round(total * f)} ms (exit ${r.code}, ${r.signal})`;
      const got = await fileSha256(join(out, name));
      if (got !== undefined) expect(got, `${when}: a tarball under the final name`).toBe(ref);
      const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8').catch(() => undefined);
      if (sums !== undefined) expect(sums, when).toBe(refSums);
      await expectWellFormed(cacheDir, when);
      await ageLocks(cacheDir);

      const mark = w.server.requests.length;
      const again = await runCli(['release', '--cache', cacheDir, '--out', out], { cwd: proj, env });
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      expect(requestsSince(mark)).toEqual([]);
      expect(await fileSha256(join(out, name))).toBe(ref);
      expect(await readFile(join(out, 'SHA256SUMS'), 'utf8')).toBe(refSums);
      const listing = await readdir(out);
      expect(listing, when).toContain(name);
      expect(
        listing.filter((n) => /xenrel-(tmp|old)-/.test(n)),
        `${when}: leftovers in the output folder`,
      ).toEqual([]);
    }
  }, 300_000);
});
