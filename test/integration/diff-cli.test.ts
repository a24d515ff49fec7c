import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourcesWorld } from '../helpers/sources-project.js';
import { runInProcess } from '../helpers/in-process.js';

let w: SourcesWorld;
let oldLock: string;
let newLock: string;
let dir: string;

beforeAll(async () => {
  w = await SourcesWorld.create();
  const a = await w.project();
  // Upstream moves on: two SeaBIOS commits and a new tag; dtc moves and qemu-xen follows.
  await w.seabios.commit('fix boot on old CPUs', { 'src/bios.c': 'int bios = 1;\n' });
  await w.seabios.commit('add a feature', { 'src/feature.c': 'int feature;\n' });
  await w.seabios.tag('rel-1.18.0', { annotated: true });
  await w.dtc.commit('dtc: handle overlays', { 'dtc.c': 'int dtc = 2;\n' });
  await w.qemu.addSubmodule('roms/dtc', w.dtc);
  await w.qemu.commit('update dtc');
  await w.qemu.tag('v9.1.0', { annotated: true });
  const b = await w.project({ seabiosRef: 'rel-1.18.0', qemuRef: 'v9.1.0' });
  dir = await w.tmp.make('xenrel-diff-');
  oldLock = join(dir, 'old.lock');
  newLock = join(dir, 'new.lock');
  await writeFile(oldLock, await readFile(join(a, 'xenrel.lock')));
  await writeFile(newLock, await readFile(join(b, 'xenrel.lock')));
}, 180_000);
afterAll(async () => w?.cleanup());

describe('xenrel diff', () => {
  it('lists what changed and the upstream short log of each moved pin, nested ones too', async () => {
    const r = await w.cli(dir, ['diff', 'old.lock', 'new.lock']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('~ seabios');
    expect(r.stdout).toContain('ref: rel-1.17.0 -> rel-1.18.0');
    expect(r.stdout).toContain('~ qemu-xen');
    expect(r.stdout).toContain('children[roms/dtc]');
    expect(r.stdout).not.toContain('newlib');
    const lines = r.stdout.split('\n');
    const s = lines.findIndex((l) => /^seabios [0-9a-f]{12}\.\.[0-9a-f]{12} \(2 commits\):$/.test(l));
    expect(s).toBeGreaterThan(0);
    expect(lines[s + 1]).toMatch(/^ {2}[0-9a-f]{12} add a feature$/);
    expect(lines[s + 2]).toMatch(/^ {2}[0-9a-f]{12} fix boot on old CPUs$/);
    expect(r.stdout).toMatch(/qemu-xen [0-9a-f]{12}\.\.[0-9a-f]{12} \(1 commit\):\n {2}[0-9a-f]{12} update dtc/);
    expect(r.stdout).toMatch(
      /qemu-xen\/roms\/dtc [0-9a-f]{12}\.\.[0-9a-f]{12} \(1 commit\):\n {2}[0-9a-f]{12} dtc: handle overlays/,
    );
  });

  it('--json gives the changes and the logs as data', async () => {
    const r = await w.cli(dir, ['diff', oldLock, newLock, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.changes.map((c: { name: string }) => c.name)).toEqual(['qemu-xen', 'seabios']);
    const sb = j.logs.find((l: { name: string }) => l.name === 'seabios');
    expect(sb.commits.map((c: { subject: string }) => c.subject)).toEqual(['add a feature', 'fix boot on old CPUs']);
    expect(sb.commits[0].commit).toBe(JSON.parse(await readFile(newLock, 'utf8')).components.seabios.commit);
    expect(sb.url).toBe(w.seabios.url);
  });

  it('the other way round is a downgrade; --limit truncates; an empty cache has no logs but still the diff', async () => {
    const back = await w.cli(dir, ['diff', 'new.lock', 'old.lock']);
    expect(back.stdout).toMatch(/seabios [0-9a-f.]+: the new commit is an ancestor of the old one \(a downgrade\)/);
    const lim = await w.cli(dir, ['diff', 'old.lock', 'new.lock', '--limit', '1']);
    expect(lim.stdout).toMatch(/seabios [0-9a-f.]+ \(1\+ commit\):\n {2}[0-9a-f]{12} add a feature\n {2}…/);
    const empty = await w.tmp.make('xenrel-empty-');
    const e = await runInProcess(['diff', 'old.lock', 'new.lock', '--cache', empty], { cwd: dir, env: w.env });
    expect(e.code).toBe(0);
    expect(e.stdout).toContain('ref: rel-1.17.0 -> rel-1.18.0');
    expect(e.stdout).toMatch(/seabios [0-9a-f.]+: no log \(the cache does not hold both commits/);
  });

  it('same locks: nothing to say; --exit-code is 1 only when they differ', async () => {
    const same = await w.cli(dir, ['diff', 'old.lock', 'old.lock', '--exit-code']);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('pin the same sources');
    expect((await w.cli(dir, ['diff', 'old.lock', 'new.lock', '--exit-code', '--no-log'])).code).toBe(1);
  });

  it('a missing or broken lockfile is a usage error naming it', async () => {
    const missing = await w.cli(dir, ['diff', 'old.lock', 'nope.lock']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.lock');
    await writeFile(
      join(dir, 'broken.lock'),
      '{\n  "lockfileVersion": 1,\n  "name": "xen",\n  "components": {"a": {"git": 1}}\n}\n',
    );
    const broken = await w.cli(dir, ['diff', 'old.lock', 'broken.lock']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('broken.lock:4');
    expect((await w.cli(dir, ['diff', 'old.lock', 'new.lock', '--limit', '0'])).code).toBe(2);
  });
});
