/**
 * Bad configuration and lockfiles through the built CLI: a few dozen of the mutations the
 * parser fuzz uses (test/unit/config-fuzz.test.ts) go through `xenrel status`: exit 0 or 2,
 * a `file:line:col` message on error, no stack trace, bounded time.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ALIAS_BOMB,
  mutatedConfig,
  mutatedLock,
  structuralLock,
  VALID_CONFIG,
  VALID_LOCK_TEXT,
} from '../helpers/config-mutations.js';
import { runXenrel } from '../helpers/hardening.js';

describe('fuzzing through the CLI', () => {
  it('xenrel status on mutated configs and lockfiles: exit 0 or 2, file:line:col, no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenrel-fuzz-'));
    try {
      const configs = fc.sample(mutatedConfig, { numRuns: 24, seed: 7 });
      const locks = fc.sample(fc.oneof(mutatedLock, structuralLock), { numRuns: 12, seed: 11 });
      const runs: { config: string; lock?: string }[] = [
        { config: ALIAS_BOMB },
        ...configs.map((config) => ({ config })),
        ...locks.map((lock) => ({ config: VALID_CONFIG, lock })),
      ];
      for (const r of runs) {
        await writeFile(join(dir, 'xenrel.config.yaml'), r.config);
        await writeFile(join(dir, 'xenrel.lock'), r.lock ?? VALID_LOCK_TEXT);
        const out = await runXenrel(['status', '--cache', join(dir, '.cache')], { cwd: dir, timeoutMs: 30_000 });
        const what = `${out.stderr}\n--- config ---\n${r.config}\n--- lock ---\n${r.lock ?? '(valid)'}`;
        expect([0, 2], what).toContain(out.code);
        expect(out.stderr, what).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
        expect(out.stderr, what).not.toContain('unexpected error');
        if (out.code === 2) expect(out.stderr, what).toMatch(/^error: xenrel\.(config\.yaml|lock):\d+:\d+: /m);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
