import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

describe('xenrel CLI basics', () => {
  it('lists every command with a summary', async () => {
    const dir = await tmp.make();
    const r = await runCli(['--help'], { cwd: dir });
    expect(r.code).toBe(0);
    for (const cmd of ['hash', 'lock', 'fetch', 'status']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} +\\S`, 'm'));
  });

  it('exits 2 on an unknown command or option', async () => {
    const dir = await tmp.make();
    expect((await runCli(['frobnicate'], { cwd: dir })).code).toBe(2);
    const r = await runCli(['hash', '--bogus', '.'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--bogus');
  });

  it('hash prints the tree hash, and --json one document', async () => {
    const dir = await tmp.make();
    await mkdir(join(dir, 'd'));
    await writeFile(join(dir, 'd', 'f'), 'x');
    const r = await runCli(['hash', 'd'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    const j = await runCli(['hash', 'd', '--json'], { cwd: dir });
    expect(JSON.parse(j.stdout)).toMatchObject({
      command: 'hash',
      ok: true,
      exitCode: 0,
      tree: r.stdout.trim(),
      files: 1,
    });
  });

  it('hash says the same through its start-up path as through the option parser', async () => {
    const dir = await tmp.make();
    await mkdir(join(dir, 'd', 'sub'), { recursive: true });
    await writeFile(join(dir, 'd', 'f'), 'x');
    await writeFile(join(dir, 'd', 'sub', 'run'), 'y', { mode: 0o755 });
    // `--config=…` is no plain flag: it sends the run through clipanion (hash reads no config).
    for (const args of [['d', '--manifest'], ['d', '--manifest', '--json'], ['missing'], ['missing', '--json', '-q']]) {
      const fast = await runCli(['hash', ...args], { cwd: dir });
      const parsed = await runCli(['hash', '--config=unused', ...args], { cwd: dir });
      expect(fast, args.join(' ')).toEqual(parsed);
    }
    const missing = await runCli(['hash', 'missing'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: missing: no such folder');
    const file = await runCli(['hash', 'd/f'], { cwd: dir });
    expect(file.stderr).toContain('error: d/f: not a folder');
  });

  it('a malformed config exits 2 with file:line:col and no stack trace', async () => {
    const dir = await tmp.make();
    await writeFile(
      join(dir, 'xenrel.config.yaml'),
      'version: 1\nname: xen\ncomponents:\n  seabios:\n    git: https://example.org/seabios.git\n    reff: v1\n    path: x\n',
    );
    const r = await runCli(['status'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'xenrel.config.yaml:6:5: components.seabios.reff: unknown key "reff" (did you mean "ref"?)',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const j = await runCli(['status', '--json'], { cwd: dir });
    const doc = JSON.parse(j.stdout);
    expect(doc.errors[0].code).toBe('E_CONFIG');
    expect(doc.errors[0].details.issues).toContainEqual(
      expect.objectContaining({ file: 'xenrel.config.yaml', line: 6, col: 5, path: 'components.seabios.reff' }),
    );
  });

  it('a malformed lockfile exits 2 naming its line', async () => {
    const dir = await tmp.make();
    await writeFile(join(dir, 'xenrel.config.yaml'), 'version: 1\nname: xen\ncomponents: {}\n');
    await writeFile(join(dir, 'xenrel.lock'), '{\n  "lockfileVersion": 1,\n  "name": "xen",\n  "components": {,}\n}\n');
    const r = await runCli(['status'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/xenrel\.lock:4:\d+: invalid JSON/);
  });

  it('no config at all is a usage error with a hint', async () => {
    const dir = await tmp.make();
    await writeFile(join(dir, 'package.json'), '{}');
    const r = await runCli(['lock'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no xenrel config found');
    expect(r.stderr).toContain('hint:');
  });
});
