/**
 * The package as npm would publish it (npm's own file list, `npm pack --dry-run`), and its
 * executable as a plain `env` runs it: BusyBox's, which has no `-S`.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/netns.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

describe('the published package', () => {
  it('ships the built CLI and every module it imports, and no source map', async () => {
    const r = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      main: string;
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.prepack).toBeTruthy();
    for (const p of [...Object.values(pkg.bin), pkg.main, 'config/xen.yaml'])
      expect(files, p).toContain(p.replace(/^\.\//, ''));
    expect([...files].filter((f) => f.endsWith('.map'))).toEqual([]);
    // Every relative import of every shipped module resolves to a shipped file.
    for (const f of [...files].filter((x) => x.endsWith('.js'))) {
      // Comment lines left out: bundled dependencies name types as import('./x') in JSDoc
      const text = (await readFile(join(ROOT, f), 'utf8'))
        .split('\n')
        .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l))
        .join('\n');
      for (const m of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = join(f, '..', m[1]!);
        expect(files, `${f} imports ${m[1]}`).toContain(target);
      }
    }
  });

  it('the executable starts under BusyBox env (no -S), as its shebang asks', async () => {
    const cli = join(ROOT, 'dist', 'cli.js');
    const shebang = (await readFile(cli, 'utf8')).split('\n')[0]!;
    expect(shebang).toBe('#!/usr/bin/env node');
    // What the kernel does with `#!/usr/bin/env node`, with BusyBox as /usr/bin/env.
    const r = await run('busybox', ['env', ...shebang.slice('#!/usr/bin/env '.length).split(' '), cli, '--version'], {
      cwd: ROOT,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
