import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { makeTarball } from '../helpers/make-tarball.js';

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let qemu: TestRepo;
let minios: TestRepo;
let server: TestHttpServer;
const c: Record<string, string> = {};

beforeAll(async () => {
  fx = await GitFixtures.create();
  seabios = await fx.repo('seabios', { files: { 'src/bios.c': 'int bios;\n' } });
  c.s16 = await seabios.commit('seabios 1.16');
  await seabios.tag('rel-1.16.0', { annotated: true });
  c.fix = await seabios.commit('fix the boot menu', { 'src/menu.c': 'int menu;\n' });
  c.s17 = await seabios.commit('seabios 1.17', { 'src/bios.c': 'int bios = 17;\n' });
  await seabios.tag('rel-1.17.0', { annotated: true });
  await seabios.tag('rel-1.17.0-rc1', { commit: c.fix });
  qemu = await fx.repo('qemu-xen', { files: { VERSION: '4.22\n' } });
  c.q22 = await qemu.commit('4.22');
  await qemu.tag('qemu-xen-4.22.0');
  c.q23 = await qemu.commit('4.23', { VERSION: '4.23\n' });
  await qemu.tag('qemu-xen-4.23.0');
  minios = await fx.repo('mini-os', { files: { 'Config.mk': 'X=1\n' } });
  c.m1 = await minios.commit('first');
  await minios.branch('stable-4.22');
  server = await startHttpServer({
    files: {
      '/extfiles/zlib-1.2.3.tar.gz': await makeTarball('zlib-1.2.3', { 'zlib.h': '/* 1.2.3 */\n' }),
      '/extfiles/zlib-1.3.1.tar.gz': await makeTarball('zlib-1.3.1', { 'zlib.h': '/* 1.3.1 */\n' }),
    },
  });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

/** A Xen-ish tree (a git work tree) whose config was written as `init` would. */
async function xenProject() {
  const dir = await tmp.make('xenrel-xen-');
  const configMk = `# Xen's Config.mk (fixture)
XEN_EXTFILES_URL ?= ${server.url}/extfiles

SEABIOS_UPSTREAM_URL ?= ${seabios.url}
# Wed Nov 13 2024
SEABIOS_UPSTREAM_REVISION ?= rel-1.16.0

QEMU_UPSTREAM_URL ?= ${qemu.url}
QEMU_UPSTREAM_REVISION ?= qemu-xen-4.22.0
MINIOS_UPSTREAM_URL ?= ${minios.url}
MINIOS_UPSTREAM_REVISION ?= stable-4.22
`;
  await writeFile(join(dir, 'Config.mk'), configMk);
  const config = `# xenrel config for the Xen tree at ., written by \`xenrel init\`.
version: 1
name: xen
mirrors: []
components:
  # SEABIOS_UPSTREAM_URL (Config.mk:4), SEABIOS_UPSTREAM_REVISION (Config.mk:6)
  seabios:
    git: ${seabios.url}
    ref: rel-1.16.0
    path: tools/firmware/seabios-dir-remote
    license: LGPL-3.0-only
    vars: [SEABIOS_UPSTREAM_URL, SEABIOS_UPSTREAM_REVISION]

  qemu-xen:
    git: ${qemu.url}
    ref: qemu-xen-4.22.0
    path: tools/qemu-xen-dir-remote
    vars: [QEMU_UPSTREAM_URL, QEMU_UPSTREAM_REVISION]

  mini-os:
    git: ${minios.url}
    ref: stable-4.22
    path: extras/mini-os-remote

  zlib:
    url: ${server.url}/extfiles/zlib-1.2.3.tar.gz
    path: stubdom/zlib-1.2.3.tar.gz
`;
  await writeFile(join(dir, 'xenrel.config.yaml'), config);
  await writeFile(join(dir, '.gitignore'), '.cache-xenrel/\n');
  const cache = join(dir, '.cache-xenrel');
  const run = (args: string[]) => runInProcess([...args, '--cache', cache], { cwd: dir, env: fx.env });
  expect((await run(['lock'])).code).toBe(0);
  await fx.git(['init', '--quiet'], dir);
  await fx.git(['add', '-A'], dir);
  await fx.git(['commit', '--quiet', '-m', 'tree'], dir);
  return { dir, run, configMk, config };
}

describe('status --upstream', () => {
  it('lists newer tags of the series, moved branches, changed tarballs; an unreachable upstream is reported, not fatal', async () => {
    const p = await xenProject();
    let r = await p.run(['status', '--upstream', '--json']);
    expect(r.code, r.stderr).toBe(0);
    let up = Object.fromEntries(
      (JSON.parse(r.stdout).upstream as { name: string }[]).map((u) => [u.name, u]),
    ) as Record<string, Record<string, unknown>>;
    expect(up.seabios).toMatchObject({ refKind: 'tag', newer: ['rel-1.17.0'], moved: false, locked: c.s16 });
    expect(up['qemu-xen']).toMatchObject({ refKind: 'tag', newer: ['qemu-xen-4.23.0'] });
    expect(up['mini-os']).toMatchObject({ refKind: 'branch', moved: false, newer: [] });
    expect(up.zlib).toMatchObject({ kind: 'tarball', changed: false });

    // The branch moves, the tarball is replaced upstream, and qemu's upstream disappears.
    const m2 = await minios.commit('second', { 'Config.mk': 'X=2\n' });
    await minios.branch('stable-4.22', m2);
    server.setFile('/extfiles/zlib-1.2.3.tar.gz', await makeTarball('zlib-1.2.3', { 'zlib.h': '/* tampered */\n' }));
    const { rename } = await import('node:fs/promises');
    await rename(qemu.dir, `${qemu.dir}.gone`);
    try {
      r = await p.run(['status', '--upstream', '--json']);
      expect(r.code).toBe(0);
      up = Object.fromEntries((JSON.parse(r.stdout).upstream as { name: string }[]).map((u) => [u.name, u])) as Record<
        string,
        Record<string, unknown>
      >;
      expect(up['mini-os']).toMatchObject({ moved: true, current: m2, locked: c.m1 });
      expect(up.zlib).toMatchObject({ changed: true });
      expect((up['qemu-xen']!.error as { code: string }).code).toBe('E_FETCH_FAILED');
      expect(up.seabios).toMatchObject({ newer: ['rel-1.17.0'] });

      const human = await p.run(['status', '--upstream']);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/seabios\s+git\s+rel-1\.16\.0\s+newer: rel-1\.17\.0/);
      expect(human.stdout).toMatch(/mini-os .*branch moved to [0-9a-f]{12}/);
      expect(human.stdout).toMatch(/zlib .*upstream bytes CHANGED/);
      expect(human.stdout).toMatch(/qemu-xen .*error: /);
      expect(human.stderr).toContain('qemu-xen: could not check upstream');
    } finally {
      await rename(`${qemu.dir}.gone`, qemu.dir);
      server.setFile('/extfiles/zlib-1.2.3.tar.gz', await makeTarball('zlib-1.2.3', { 'zlib.h': '/* 1.2.3 */\n' }));
    }
  });
});

describe('bump', () => {
  it('moves a tag pin in the config and Config.mk, re-locks, and prints the upstream log', async () => {
    const p = await xenProject();
    const r = await p.run(['bump', 'seabios']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`seabios: rel-1.16.0 (${c.s16!.slice(0, 12)}) -> rel-1.17.0 (${c.s17!.slice(0, 12)})`);
    expect(r.stdout).toContain('Upstream changes in seabios (2 commits):');
    expect(r.stdout).toContain(`  ${c.s17!.slice(0, 12)} seabios 1.17\n  ${c.fix!.slice(0, 12)} fix the boot menu\n`);
    expect(r.stdout).toMatch(/Config\.mk:6: SEABIOS_UPSTREAM_REVISION \?= rel-1\.17\.0/);
    // Only the pin's bytes changed, in both files.
    expect(await readFile(join(p.dir, 'xenrel.config.yaml'), 'utf8')).toBe(
      p.config.replace('ref: rel-1.16.0', 'ref: rel-1.17.0'),
    );
    expect(await readFile(join(p.dir, 'Config.mk'), 'utf8')).toBe(
      p.configMk.replace('REVISION ?= rel-1.16.0', 'REVISION ?= rel-1.17.0'),
    );
    const lock = JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8'));
    expect(lock.components.seabios).toMatchObject({ ref: 'rel-1.17.0', commit: c.s17 });
    // Agrees with init --check's view and with lock: nothing stale, and bumping again says so.
    expect((await p.run(['lock', '--check'])).code).toBe(0);
    const again = await p.run(['bump', 'seabios']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('rel-1.17.0 is the newest tag of its series upstream');
  });

  it('--to a given tag (backwards too), --json, a branch pin, a tarball version', async () => {
    const p = await xenProject();
    await fx.git(['commit', '--quiet', '--allow-empty', '-m', 'x'], p.dir);
    let r = await p.run(['bump', 'qemu-xen', '--to', 'qemu-xen-4.23.0', '--json']);
    expect(r.code, r.stdout).toBe(0);
    const j = JSON.parse(r.stdout).bump;
    expect(j).toMatchObject({
      from: { pin: 'qemu-xen-4.22.0', commit: c.q22 },
      to: { pin: 'qemu-xen-4.23.0', commit: c.q23 },
      direction: 'forward',
      log: [{ commit: c.q23, subject: '4.23' }],
    });
    expect(j.treeEdits).toEqual([
      expect.objectContaining({
        file: 'Config.mk',
        variable: 'QEMU_UPSTREAM_REVISION',
        after: 'QEMU_UPSTREAM_REVISION ?= qemu-xen-4.23.0',
      }),
    ]);
    await fx.git(['commit', '--quiet', '-am', 'bump qemu'], p.dir);

    r = await p.run(['bump', 'seabios', '--to', 'rel-1.17.0-rc1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Upstream changes in seabios (1 commit):');
    await fx.git(['commit', '--quiet', '-am', 'rc'], p.dir);
    r = await p.run(['bump', 'seabios', '--to', 'rel-1.16.0']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('rel-1.16.0 is older than rel-1.17.0-rc1');
    expect(r.stdout).toContain('Removed in seabios (1 commit):');
    await fx.git(['commit', '--quiet', '-am', 'back'], p.dir);

    // A branch pin without --to: the lock takes the branch's new commit; the config stays.
    const m3 = await minios.commit('third', { 'Config.mk': 'X=3\n' });
    await minios.branch('stable-4.22', m3);
    const before = await readFile(join(p.dir, 'xenrel.config.yaml'), 'utf8');
    r = await p.run(['bump', 'mini-os']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`-> stable-4.22 (${m3.slice(0, 12)})`);
    expect(r.stdout).toContain(`${m3.slice(0, 12)} third`);
    expect(await readFile(join(p.dir, 'xenrel.config.yaml'), 'utf8')).toBe(before);
    expect(JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).components['mini-os'].commit).toBe(m3);
    await fx.git(['commit', '--quiet', '-am', 'minios'], p.dir);

    // A tarball: the version in the URL is replaced; re-locked with the new bytes.
    r = await p.run(['bump', 'zlib', '--to', '1.3.1']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(p.dir, 'xenrel.config.yaml'), 'utf8')).toContain(
      `url: ${server.url}/extfiles/zlib-1.3.1.tar.gz\n`,
    );
    const lock = JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8'));
    expect(lock.components.zlib.url).toBe(`${server.url}/extfiles/zlib-1.3.1.tar.gz`);
  });

  it('clear errors: unknown component, unknown ref, tarball without --to, dirty files; nothing is changed', async () => {
    const p = await xenProject();
    const lockText = await readFile(join(p.dir, 'xenrel.lock'), 'utf8');
    let r = await p.run(['bump', 'seabio']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "seabios"');

    r = await p.run(['bump', 'seabios', '--to', 'rel-1.71.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot bump seabios: ref "rel-1\.71\.0" not found .*close: .*rel-1\.17\.0/);

    r = await p.run(['bump', 'zlib']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--to VERSION or --to URL');

    r = await p.run(['bump', 'zlib', '--to', '9.9.9']);
    expect(r.code).toBe(3); // the new URL does not exist: everything is put back

    await writeFile(join(p.dir, 'Config.mk'), `${p.configMk}# local edit\n`);
    r = await p.run(['bump', 'seabios']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('uncommitted changes: Config.mk');
    expect(r.stderr).toContain('--allow-dirty');

    expect(await readFile(join(p.dir, 'xenrel.config.yaml'), 'utf8')).toBe(p.config);
    expect(await readFile(join(p.dir, 'Config.mk'), 'utf8')).toBe(`${p.configMk}# local edit\n`);
    expect(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).toBe(lockText);

    r = await p.run(['bump', 'seabios', '--allow-dirty', '--config-only']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(p.dir, 'Config.mk'), 'utf8')).toBe(`${p.configMk}# local edit\n`);
  });
});
