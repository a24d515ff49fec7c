import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp folder per call; `cleanup()` removes them all (call it in afterAll/afterEach). */
export function tempDirs() {
  const made: string[] = [];
  return {
    async make(prefix = 'xenrel-test-'): Promise<string> {
      const d = await mkdtemp(join(tmpdir(), prefix));
      made.push(d);
      return d;
    },
    async cleanup(): Promise<void> {
      await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
