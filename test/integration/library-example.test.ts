/**
 * The README's "Use as a library" block, run as it is written (only `from 'xenrel'` points at
 * this checkout) on a small project with a local component: it must lock, fetch, release and
 * verify.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDirs();
afterAll(() => tmp.cleanup());

describe('the README library example', () => {
  it('runs the pipeline to a verified tarball', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- library-example:start -->\n```ts\n([\s\S]*?)```\n<!-- library-example:end -->/.exec(readme);
    expect(block, 'README has the library example').not.toBeNull();
    const code = block![1]!.replace("from 'xenrel'", `from ${JSON.stringify(join(ROOT, 'src', 'index.ts'))}`);
    expect(code).not.toContain("'xenrel'");

    const dir = await tmp.make('xenrel-lib-');
    await mkdir(join(dir, 'prebuilt'));
    await writeFile(join(dir, 'prebuilt', 'bios.bin'), 'a prebuilt firmware image\n');
    await writeFile(join(dir, 'Makefile'), 'all:\n\t@echo built\n');
    await writeFile(
      join(dir, 'xenrel.config.yaml'),
      'version: 1\nname: demo\nrelease:\n  version: "1.0"\ncomponents:\n  seabios:\n    local: prebuilt/bios.bin\n    path: tools/firmware/seabios-dir-remote/out/bios.bin\n',
    );
    await writeFile(join(dir, 'example.mts'), code);
    const r = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), ['example.mts'], {
      cwd: dir,
      env: { ...process.env, XENREL_CACHE: join(dir, '.cache') },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^1 pins locked; .*demo-1\.0\.tar\.gz: verified$/m);
    expect(JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8')).components.seabios.local).toBe(
      'prebuilt/bios.bin',
    );
  });
});
