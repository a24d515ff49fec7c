import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourcesWorld, sha256Hex } from '../helpers/sources-project.js';
import { spdxErrors } from '../helpers/sbom-validate.js';
import { hashDir } from '../../src/tree/walk.js';

let w: SourcesWorld;
let dir: string;

beforeAll(async () => {
  w = await SourcesWorld.create();
  dir = await w.project();
}, 120_000);
afterAll(async () => w?.cleanup());

describe('xenrel release: SBOM and summary', () => {
  it('puts the SPDX SBOM inside the tarball and beside it (same bytes), inside the whole-tree hash', async () => {
    const r = await w.cli(dir, ['release', '--out', 'out']);
    expect(r.code, r.stderr).toBe(0);
    const beside = await readFile(join(dir, 'out', 'xen-4.22.0.spdx.json'), 'utf8');
    expect(spdxErrors(JSON.parse(beside))).toEqual([]);
    expect(JSON.parse(beside).name).toBe('xen-4.22.0');
    const x = await w.tmp.make('xenrel-x-');
    execFileSync('tar', ['-xzf', join(dir, 'out', 'xen-4.22.0.tar.gz'), '-C', x]);
    const top = join(x, 'xen-4.22.0');
    expect(await readFile(join(top, '.xenrel', 'sbom.spdx.json'), 'utf8')).toBe(beside);
    const info = JSON.parse(await readFile(join(top, '.xenrel', 'release.json'), 'utf8'));
    expect(info.tree).toBe((await hashDir(top, { ignoreNames: [], ignorePaths: ['.xenrel/release.json'] })).hash);
    // The SBOM's time is the release's (SOURCE_DATE_EPOCH), not the clock.
    expect(JSON.parse(beside).creationInfo.created).toBe('2026-01-01T00:00:00Z');
    const v = await w.cli(dir, ['verify', join(dir, 'out', 'xen-4.22.0.tar.gz')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // Cut again: the same SBOM bytes.
    expect((await w.cli(dir, ['release', '--out', 'out'])).code).toBe(0);
    expect(await readFile(join(dir, 'out', 'xen-4.22.0.spdx.json'), 'utf8')).toBe(beside);
  });

  it('ends with a summary: components and nested sources, versions, sizes, sha256, a verify command that works', async () => {
    const r = await w.cli(dir, ['release', '--out', 'out']);
    expect(r.code, r.stderr).toBe(0);
    const tgz = await readFile(join(dir, 'out', 'xen-4.22.0.tar.gz'));
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => /^COMPONENT\s+VERSION\s+SIZE$/.test(l));
    expect(head).toBeGreaterThanOrEqual(0);
    expect(lines[head + 1]).toMatch(/^newlib\s+newlib-1\.16\.0\.tar\.gz\s+\d+(\.\d+)? [KM]?i?B$/);
    expect(lines[head + 2]).toMatch(/^qemu-xen\s+v9\.0\.0 \([0-9a-f]{12}\)\s+-$/);
    expect(lines[head + 3]).toMatch(/^ {2}qemu-xen\/roms\/dtc\s+submodule \([0-9a-f]{12}\)\s+-$/);
    expect(lines[head + 4]).toMatch(/^seabios\s+rel-1\.17\.0 \([0-9a-f]{12}\)\s+-$/);
    expect(r.stdout).toContain(`${sha256Hex(tgz)}  xen-4.22.0.tar.gz`);
    expect(r.stdout).toContain('SBOM (SPDX 2.3): out/xen-4.22.0.spdx.json');
    const i = lines.indexOf('packagers verify it with:');
    expect(lines[i + 1]).toBe('  cd out && sha256sum -c SHA256SUMS');
    // The printed command, run where the user stands, checks out.
    expect(execFileSync('sh', ['-c', lines[i + 1]!.trim()], { cwd: dir, encoding: 'utf8' })).toContain(
      'xen-4.22.0.tar.gz: OK',
    );
    const j = JSON.parse((await w.cli(dir, ['release', '--out', 'out', '--json'])).stdout);
    expect(j.sbom).toBe('out/xen-4.22.0.spdx.json');
  });
});
