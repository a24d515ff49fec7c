/**
 * Crash safety of `vendor`: a tree vendored at v1
 * is re-vendored at v2 and SIGKILLed at fractions of a full run. After each kill every
 * vendored component (store and materialised path) is entirely old or new, never a mix, and
 * the vendored lock copy is old or new; the rerun (locks aged past their stale time) repairs
 * with no download, `vendor --check` passes and no temporary names are left.
 */
import { describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  ageLocks,
  copyTree,
  fileSha256,
  makeProject,
  readLockIfAny,
  runXenrel as runCli,
} from '../helpers/hardening.js';
import { runInProcess } from '../helpers/in-process.js';
import {
  FRACTIONS,
  crashSuite,
  expectWellFormed,
  killAt as killIn,
  requestsSince as since,
} from '../helpers/crash-safety.js';
import { hashDir } from '../../src/tree/walk.js';
import { isLockedGit } from '../../src/model/kind.js';

const s = crashSuite();
const killAt = (args: string[], cwd: string, ms: number, until?: () => Promise<void>) =>
  killIn(s, args, cwd, ms, until);
const requestsSince = (mark: number) => since(s, mark);

describe('SIGKILL at many points leaves everything old or complete', () => {
  it('vendor: each component is entirely old or new after a kill; the rerun repairs with no download', async () => {
    const { tmp, w, env } = s;
    // Template: v1 vendored, then the config and lock moved to v2 (seabios v2, big 2.0).
    const cacheDir = await tmp.make('xenrel-cache-');
    const template = join(await tmp.make('xenrel-vendor-'), 'tree');
    await makeProject(template, w.config('v1'));
    // Set-up and the reruns after each kill run in-process; the timed run and the killed ones spawn.
    const run = (dir: string, args: string[]) => runInProcess([...args, '--cache', cacheDir], { cwd: dir, env });
    expect((await run(template, ['lock'])).code).toBe(0);
    expect((await run(template, ['vendor'])).code).toBe(0);
    const v1 = (await readLockIfAny(join(template, 'xenrel.lock')))!;
    const v1Text = await readFile(join(template, 'xenrel.lock'), 'utf8');
    await writeFile(join(template, 'xenrel.config.yaml'), w.config('v2', { bigPath: '/dl/big-2.0.tar.gz' }));
    expect((await run(template, ['lock'])).code).toBe(0);
    expect((await run(template, ['fetch'])).code).toBe(0);
    const v2 = (await readLockIfAny(join(template, 'xenrel.lock')))!;
    const v2Text = await readFile(join(template, 'xenrel.lock'), 'utf8');
    expect(v2.components.seabios).not.toEqual(v1.components.seabios);

    const work = join(await tmp.make('xenrel-vendor-work-'), 'tree');
    copyTree(template, work);
    const t0 = Date.now();
    expect((await runCli(['vendor', '--cache', cacheDir], { cwd: work, env })).code).toBe(0);
    const total = Date.now() - t0;

    const allowed = async (name: string, abs: string): Promise<string> => {
      const [a, b] = [v1.components[name]!, v2.components[name]!];
      if (isLockedGit(a) && isLockedGit(b)) {
        const h = (await hashDir(abs).catch(() => undefined))?.hash;
        return h === a.tree ? 'old' : h === b.tree ? 'new' : `neither (${h})`;
      }
      const sha = await fileSha256(abs);
      const want = (c: typeof a) =>
        Buffer.from((c as { integrity: string }).integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
      const sha512 =
        sha &&
        createHash('sha512')
          .update(await readFile(abs))
          .digest('hex');
      return sha512 === want(a) ? 'old' : sha512 === want(b) ? 'new' : `neither (${sha})`;
    };

    for (const f of FRACTIONS) {
      copyTree(template, work);
      const r = await killAt(['vendor', '--cache', cacheDir], work, Math.round(total * f));
      const when = `vendor killed at ${Math.round(total * f)} ms (exit ${r.code}, ${r.signal})`;
      for (const [name, c] of Object.entries(v2.components)) {
        const store = join(work, '.xenrel/sources', name, isLockedGit(c) ? '' : c.path.split('/').pop()!);
        expect(await allowed(name, store), `${when}: store of ${name}`).toMatch(/^(old|new)$/);
        expect(await allowed(name, join(work, c.path)), `${when}: ${c.path}`).toMatch(/^(old|new)$/);
      }
      const copy = await readFile(join(work, '.xenrel/xenrel.lock'), 'utf8');
      expect([v1Text, v2Text], `${when}: vendored lock copy`).toContain(copy);
      await expectWellFormed(cacheDir, when);
      await ageLocks(cacheDir);

      const mark = w.server.requests.length;
      const again = await run(work, ['vendor']);
      expect(again.code, `${when}: rerun: ${again.stderr}`).toBe(0);
      expect(requestsSince(mark), `${when}: the rerun downloaded`).toEqual([]);
      const check = await runInProcess(['vendor', '--check'], { cwd: work, env });
      expect(check.code, `${when}: vendor --check: ${check.stdout}${check.stderr}`).toBe(0);
      for (const dir of ['.xenrel/sources', 'tools/firmware', 'stubdom'])
        expect(
          (await readdir(join(work, dir))).filter((n) => /xenrel-(tmp|old)-/.test(n)),
          `${when}: leftovers in ${dir}`,
        ).toEqual([]);
    }
  }, 300_000);
});
