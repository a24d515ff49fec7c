import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, rename, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { hashDir } from '../../src/tree/walk.js';
import { makeTarball } from '../helpers/make-tarball.js';

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let minios: TestRepo;
let server: TestHttpServer;
let newlibTgz: Buffer;
let zlibTgz: Buffer;

beforeAll(async () => {
  fx = await GitFixtures.create();
  seabios = await fx.repo('seabios', {
    files: {
      Makefile: 'all:\n\techo seabios\n',
      'src/bios.c': 'int bios;\n',
      'scripts/build.sh': { content: '#!/bin/sh\n', exec: true },
    },
  });
  await seabios.commit('first');
  await seabios.tag('rel-1.16.0');
  await seabios.commit('second', { 'src/bios.c': 'int bios = 2;\n' });
  await seabios.tag('rel-1.17.0', { annotated: true });
  minios = await fx.repo('mini-os', { files: { 'Config.mk': 'X=1\n' } });
  await minios.commit('first');
  await minios.branch('stable');
  newlibTgz = await makeTarball('newlib-1.16.0', { README: 'newlib\n', 'libc/a.c': 'int a;\n' });
  zlibTgz = await makeTarball('zlib-1.2.3', { 'zlib.h': '/* zlib */\n' });
  server = await startHttpServer({
    files: { '/extfiles/newlib-1.16.0.tar.gz': newlibTgz, '/extfiles/zlib-1.2.3.tar.gz': zlibTgz },
  });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

function config(opts: { seabiosRef?: string; miniosRef?: string } = {}) {
  return `version: 1
name: xen
components:
  seabios:
    git: ${seabios.url}
    ref: ${opts.seabiosRef ?? 'rel-1.17.0'}
    path: tools/firmware/seabios-dir-remote
    license: LGPL-3.0-only
  mini-os:
    git: ${minios.url}
    ref: ${opts.miniosRef ?? 'stable'}
    path: extras/mini-os-remote
  newlib:
    url: ${server.url}/extfiles/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
  zlib:
    url: ${server.url}/extfiles/zlib-1.2.3.tar.gz
    path: stubdom/zlib-1.2.3.tar.gz
`;
}

async function project(text = config()) {
  const dir = await tmp.make('xenrel-proj-');
  await writeFile(join(dir, 'xenrel.config.yaml'), text);
  const cache = join(dir, '.cache-xenrel');
  const run = (args: string[]) =>
    runInProcess(args.includes('--cache') ? args : [...args, '--cache', cache], { cwd: dir, env: fx.env });
  return { dir, cache, run };
}

describe('lock, fetch and status', () => {
  it('locks git and tarball components, byte-identically when nothing changed', async () => {
    const p = await project();
    const r = await p.run(['lock']);
    expect(r.stderr).toMatch(/warning: mini-os: ref "stable" .*branch.*float/);
    expect(r.code).toBe(0);
    const text = await readFile(join(p.dir, 'xenrel.lock'), 'utf8');
    const lock = JSON.parse(text);
    expect(lock.lockfileVersion).toBe(1);
    const sb = lock.components.seabios;
    expect(sb.commit).toBe(await seabios.revParse('rel-1.17.0^{commit}'));
    const clone = await seabios.cloneTo(join(await tmp.make(), 'c'), 'rel-1.17.0');
    expect(sb.tree).toBe((await hashDir(clone)).hash);
    expect(sb.license).toBe('LGPL-3.0-only');
    const nl = lock.components.newlib;
    expect(nl.size).toBe(newlibTgz.length);
    expect(nl.integrity).toMatch(/^sha512-/);
    expect(nl.tree).toMatch(/^sha256-/);

    // Unchanged inputs: nothing rewritten, no network at all (upstreams gone).
    const before = (await stat(join(p.dir, 'xenrel.lock'))).mtimeMs;
    const requests = server.requests.length;
    await rename(seabios.dir, `${seabios.dir}.away`);
    try {
      const again = await p.run(['lock']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('up to date');
    } finally {
      await rename(`${seabios.dir}.away`, seabios.dir);
    }
    expect(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).toBe(text);
    expect((await stat(join(p.dir, 'xenrel.lock'))).mtimeMs).toBe(before);
    expect(server.requests.length).toBe(requests);
  });

  it('lock --check finds a moved tag, changed upstream bytes and config edits, and writes nothing', async () => {
    const p = await project();
    expect((await p.run(['lock'])).code).toBe(0);
    const text = await readFile(join(p.dir, 'xenrel.lock'), 'utf8');
    expect((await p.run(['lock', '--check'])).code).toBe(0);

    const old = await seabios.revParse('rel-1.17.0^{commit}');
    const moved = await seabios.commit('retag', { 'src/bios.c': 'int bios = 3;\n' });
    await seabios.moveTag('rel-1.17.0', moved, { annotated: true });
    server.setFile('/extfiles/zlib-1.2.3.tar.gz', await makeTarball('zlib-1.2.3', { 'zlib.h': '/* evil */\n' }));
    try {
      const r = await p.run(['lock', '--check']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`~ seabios: rel-1.17.0 now points to ${moved} (different content)`);
      expect(r.stdout).toContain(`commit: ${old} -> ${moved}`);
      expect(r.stdout).toContain('~ zlib: the upstream bytes changed');
      expect(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).toBe(text);

      const j = JSON.parse((await p.run(['lock', '--check', '--json'])).stdout);
      expect(j.exitCode).toBe(1);
      expect(j.drift.map((d: { name: string }) => d.name).sort()).toEqual(['seabios', 'zlib']);

      // --update re-resolves only the named component.
      const u = await p.run(['lock', '--update', 'seabios']);
      expect(u.code).toBe(0);
      const lock = JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8'));
      expect(lock.components.seabios.commit).toBe(moved);
      expect(lock.components.zlib.integrity).toBe(JSON.parse(text).components.zlib.integrity);

      const bad = await p.run(['lock', '--update', 'seabois']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('did you mean "seabios"?');
    } finally {
      await seabios.moveTag('rel-1.17.0', old, { annotated: true });
      server.setFile('/extfiles/zlib-1.2.3.tar.gz', zlibTgz);
    }

    await writeFile(join(p.dir, 'xenrel.config.yaml'), config({ seabiosRef: 'rel-1.16.0' }));
    const c = await p.run(['lock', '--check']);
    expect(c.code).toBe(1);
    expect(c.stdout).toContain('~ seabios: the config changed');
    expect(c.stdout).toContain('ref: rel-1.17.0 -> rel-1.16.0');
  });

  it('lock --check --offline compares the config with the lock and touches no upstream', async () => {
    const p = await project();
    expect((await p.run(['lock'])).code).toBe(0);
    // Upstream moved and is unreachable: the online check fails, the offline one cannot see it.
    const old = await seabios.revParse('rel-1.17.0^{commit}');
    const moved = await seabios.commit('retag offline', { 'src/bios.c': 'int bios = 9;\n' });
    await seabios.moveTag('rel-1.17.0', moved, { annotated: true });
    await rename(seabios.dir, `${seabios.dir}.away`);
    try {
      const online = await p.run(['lock', '--check']);
      expect(online.code, online.stderr).toBe(3);
      const requests = server.requests.length;
      const r = await p.run(['lock', '--check', '--offline']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('checked against the config, offline');
      expect(server.requests.length).toBe(requests);

      await writeFile(
        join(p.dir, 'xenrel.config.yaml'),
        config({ seabiosRef: 'rel-1.16.0' }).replace(/ {2}zlib:\n( {4}.*\n)+/, ''),
      );
      const c = await p.run(['lock', '--check', '--offline', '--json']);
      expect(c.code).toBe(1);
      const j = JSON.parse(c.stdout);
      const seabiosDrift = j.drift.find((d: { name: string }) => d.name === 'seabios');
      expect(seabiosDrift.fields).toEqual([{ field: 'ref', old: 'rel-1.17.0', new: 'rel-1.16.0' }]);
      expect(j.drift.find((d: { name: string }) => d.name === 'zlib').kind).toBe('removed');
      expect(server.requests.length).toBe(requests);
    } finally {
      await rename(`${seabios.dir}.away`, seabios.dir);
      await seabios.moveTag('rel-1.17.0', old, { annotated: true });
    }
    const wrong = await p.run(['lock', '--offline']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--offline goes with --check');
  });

  it('metadata-only edits (license, groups, vars) download nothing and lock --check tells them from a moved pin', async () => {
    const p = await project();
    expect((await p.run(['lock'])).code).toBe(0);
    const text = await readFile(join(p.dir, 'xenrel.lock'), 'utf8');

    // Fields the lock does not hold: nothing to report, nothing rewritten.
    const extras = config()
      .replace(
        '    path: stubdom/zlib-1.2.3.tar.gz\n',
        '    path: stubdom/zlib-1.2.3.tar.gz\n    groups: [stubdom]\n    vars: [ZLIB_URL]\n    description: compression\n',
      )
      .replace('    path: extras/mini-os-remote\n', '    path: extras/mini-os-remote\n    groups: [stubdom]\n');
    expect(extras).not.toBe(config());
    await writeFile(join(p.dir, 'xenrel.config.yaml'), extras);
    const quiet = await p.run(['lock', '--check', '--json']);
    expect(quiet.code).toBe(0);
    expect(JSON.parse(quiet.stdout)).toMatchObject({ drift: [], metadata: [] });

    // A license edited and one added: metadata, the check passes and says so.
    const relicensed = extras
      .replace('license: LGPL-3.0-only', 'license: LGPL-3.0-or-later')
      .replace(
        '    path: stubdom/newlib-1.16.0.tar.gz\n',
        '    path: stubdom/newlib-1.16.0.tar.gz\n    license: BSD-3-Clause\n',
      );
    await writeFile(join(p.dir, 'xenrel.config.yaml'), relicensed);
    const c = await p.run(['lock', '--check']);
    expect(c.code).toBe(0);
    expect(c.stdout).toContain('every pin holds; metadata changed in the config');
    expect(c.stdout).toContain('= seabios: metadata only, the pin holds');
    expect(c.stdout).toContain('    license: LGPL-3.0-only -> LGPL-3.0-or-later');
    expect(c.stdout).toContain('= newlib: metadata only, the pin holds');
    expect(c.stdout).toContain('    license: (none) -> BSD-3-Clause');
    expect(c.stdout).not.toContain('out of date');
    const j = JSON.parse((await p.run(['lock', '--check', '--json'])).stdout);
    expect(j.exitCode).toBe(0);
    expect(j.drift).toEqual([]);
    expect(j.metadata.map((m: { name: string; kind: string }) => [m.name, m.kind])).toEqual([
      ['newlib', 'metadata'],
      ['seabios', 'metadata'],
    ]);
    expect(j.metadata[1].fields).toEqual([{ field: 'license', old: 'LGPL-3.0-only', new: 'LGPL-3.0-or-later' }]);
    expect(await readFile(join(p.dir, 'xenrel.lock'), 'utf8')).toBe(text);
    const st = JSON.parse((await p.run(['status', '--json'])).stdout).components;
    expect(st.map((x: { name: string; lockState: string }) => [x.name, x.lockState])).toEqual([
      ['mini-os', 'locked'],
      ['newlib', 'metadata'],
      ['seabios', 'metadata'],
      ['zlib', 'locked'],
    ]);
    // Before a re-lock the SBOM already carries the config's licenses, not the lock's stale copy.
    const sbom = await p.run(['sbom', '--format', 'cyclonedx']);
    expect(sbom.code, sbom.stderr).toBe(0);
    expect(sbom.stdout).toContain('LGPL-3.0-or-later');
    expect(sbom.stdout).not.toContain('LGPL-3.0-only');
    expect(sbom.stdout).toContain('BSD-3-Clause');

    // lock copies the licenses in with every upstream gone: no clone, no ls-remote, no GET.
    const requests = server.requests.length;
    await rename(seabios.dir, `${seabios.dir}.away`);
    await rename(minios.dir, `${minios.dir}.away`);
    try {
      const l = await p.run(['lock']);
      expect(l.stderr).toBe('');
      expect(l.code).toBe(0);
      expect(l.stdout).toContain('= seabios: metadata only, the pin holds');
    } finally {
      await rename(`${seabios.dir}.away`, seabios.dir);
      await rename(`${minios.dir}.away`, minios.dir);
    }
    expect(server.requests.length).toBe(requests);
    const before = JSON.parse(text);
    const after = JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8'));
    expect(after.components.seabios).toEqual({ ...before.components.seabios, license: 'LGPL-3.0-or-later' });
    expect(after.components.newlib).toEqual({ ...before.components.newlib, license: 'BSD-3-Clause' });
    expect(after.components.zlib).toEqual(before.components.zlib);
    expect(after.components['mini-os']).toEqual(before.components['mini-os']);
    expect((await p.run(['lock', '--check'])).stdout).toContain('is up to date');

    // A license edit beside a moved tag: the tag is drift (exit 1), the license is not.
    await writeFile(
      join(p.dir, 'xenrel.config.yaml'),
      relicensed.replace('license: BSD-3-Clause', 'license: BSD-2-Clause'),
    );
    const old = await seabios.revParse('rel-1.17.0^{commit}');
    const moved = await seabios.commit('retag again', { 'src/bios.c': 'int bios = 4;\n' });
    await seabios.moveTag('rel-1.17.0', moved, { annotated: true });
    try {
      const r = await p.run(['lock', '--check']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`~ seabios: rel-1.17.0 now points to ${moved}`);
      expect(r.stdout).toContain(
        'metadata changed in the config (no pin moved):\n= newlib: metadata only, the pin holds\n    license: BSD-3-Clause -> BSD-2-Clause',
      );
      const both = JSON.parse((await p.run(['lock', '--check', '--json'])).stdout);
      expect(both.exitCode).toBe(1);
      expect(both.drift.map((d: { name: string; kind: string }) => [d.name, d.kind])).toEqual([['seabios', 'changed']]);
      expect(both.metadata.map((d: { name: string }) => d.name)).toEqual(['newlib']);
    } finally {
      await seabios.moveTag('rel-1.17.0', old, { annotated: true });
    }
  });

  it('an unknown ref is a fetch error naming URL and ref', async () => {
    const p = await project(config({ seabiosRef: 'rel-9.9.9' }));
    const r = await p.run(['lock']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('rel-9.9.9');
    expect(r.stderr).toContain(seabios.url);
  });

  it('fetch fills the cache; then works with the network gone; --offline names what is missing', async () => {
    const p = await project();
    expect((await p.run(['lock'])).code).toBe(0);

    const empty = await p.run(['fetch', '--offline', '--cache', join(p.dir, 'empty-cache')]);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/offline, and not in the cache: mini-os, newlib, seabios, zlib/);

    // lock already filled the project's cache; a fresh cache gets everything downloaded.
    expect((await p.run(['fetch'])).stdout).toContain('done: 0 fetched, 4 already in the cache');
    const fresh = join(p.dir, 'fresh-cache');
    const r = await p.run(['fetch', '--jobs', '2', '--cache', fresh]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('done: 4 fetched');

    const requests = server.requests.length;
    await rename(seabios.dir, `${seabios.dir}.away`);
    try {
      const again = await p.run(['fetch', '--offline', '--cache', fresh]);
      expect(again.code).toBe(0);
      const online = await p.run(['fetch', '--json', '--cache', fresh]);
      expect(online.code).toBe(0);
      const doc = JSON.parse(online.stdout);
      expect(doc.components.map((c: { status: string }) => c.status)).toEqual(['cached', 'cached', 'cached', 'cached']);
    } finally {
      await rename(`${seabios.dir}.away`, seabios.dir);
    }
    expect(server.requests.length).toBe(requests);

    const st = await p.run(['status', '--json']);
    const rows = JSON.parse(st.stdout).components;
    expect(
      rows.map((x: { name: string; cached: boolean; lockState: string }) => [x.name, x.cached, x.lockState]),
    ).toEqual([
      ['mini-os', true, 'locked'],
      ['newlib', true, 'locked'],
      ['seabios', true, 'locked'],
      ['zlib', true, 'locked'],
    ]);
    const human = await p.run(['status']);
    expect(human.stdout).toMatch(/seabios\s+git\s+rel-1\.17\.0\s+[0-9a-f]{12}\s+locked\s+cached/);

    const unknown = await p.run(['fetch', 'zlibb']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean "zlib"?');
  });

  it('a hash mismatch exits 3 naming expected and actual integrity, and publishes nothing', async () => {
    const p = await project();
    expect((await p.run(['lock'])).code).toBe(0);
    const lock = JSON.parse(await readFile(join(p.dir, 'xenrel.lock'), 'utf8'));
    server.setFile('/extfiles/newlib-1.16.0.tar.gz', await makeTarball('newlib-1.16.0', { README: 'tampered\n' }));
    try {
      const r = await p.run(['fetch', 'newlib', '--cache', join(p.dir, 'fresh-cache')]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(lock.components.newlib.integrity);
      expect(r.stderr).toMatch(/sha512-/);
      const st = await p.run(['status', '--json', '--cache', join(p.dir, 'fresh-cache')]);
      expect(JSON.parse(st.stdout).components.find((c: { name: string }) => c.name === 'newlib').cached).toBe(false);
    } finally {
      server.setFile('/extfiles/newlib-1.16.0.tar.gz', newlibTgz);
    }
  });

  it('--quiet prints nothing on success', async () => {
    const p = await project();
    const r = await p.run(['lock', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect((await readdir(p.dir)).includes('xenrel.lock')).toBe(true);
  });
});
