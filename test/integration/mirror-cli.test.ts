import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { GitFixtures, freePort, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { makeTarball } from '../helpers/make-tarball.js';

/**
 * `xenrel mirror DIR` served by a real static web server (Python's http.server, which .ci/run
 * installs), and `fetch` working from it alone: upstream (tarballs and git over dumb HTTP,
 * from a recording test server) is first watched for requests, then shut down.
 */

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let upstream: TestHttpServer;
let upstreamRoot: string;
let newlibTgz: Buffer;
const servers: ChildProcess[] = [];

/** `python3 -m http.server` on DIR; resolves once it accepts connections. */
async function serveStatic(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)], {
    stdio: 'ignore',
  });
  servers.push(child);
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return { url: `http://127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('python3 http.server did not start');
}

/** Publish a work repo as a bare repo for the dumb HTTP protocol below the upstream server's root. */
async function publishUpstream(repo: TestRepo): Promise<string> {
  const bare = join(upstreamRoot, `${repo.name}.git`);
  await fx.git(['clone', '--quiet', '--bare', '--mirror', repo.dir, bare], fx.root).catch(async () => {
    await fx.git(
      ['fetch', '--quiet', '--prune', repo.dir, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'],
      bare,
    );
  });
  await fx.git(['update-server-info'], bare);
  return `${upstream.url}/${repo.name}.git`;
}

beforeAll(async () => {
  fx = await GitFixtures.create();
  upstreamRoot = await tmp.make('xenrel-upstream-');
  seabios = await fx.repo('seabios', { files: { Makefile: 'all:\n\techo seabios\n', 'src/bios.c': 'int bios;\n' } });
  await seabios.commit('first');
  await seabios.tag('rel-1.16.0');
  await seabios.commit('second', { 'src/bios.c': 'int bios = 2;\n' });
  await seabios.tag('rel-1.17.0', { annotated: true });
  newlibTgz = await makeTarball('newlib-1.16.0', { README: 'newlib\n' });
  upstream = await startHttpServer({
    dir: upstreamRoot,
    files: {
      '/extfiles/newlib-1.16.0.tar.gz': newlibTgz,
      '/extfiles/zlib-1.2.3.tar.gz': await makeTarball('zlib-1.2.3', { 'zlib.h': 'z\n' }),
    },
  });
  await publishUpstream(seabios);
});

afterAll(async () => {
  for (const s of servers) s.kill('SIGTERM');
  await upstream?.close().catch(() => {});
  await fx?.cleanup();
  await tmp.cleanup();
});

function config(opts: { mirrors?: string[]; zlib?: boolean } = {}) {
  return `version: 1
name: xen
mirrors: [${(opts.mirrors ?? []).join(', ')}]
components:
  seabios:
    git: ${upstream.url}/seabios.git
    ref: rel-1.17.0
    path: tools/firmware/seabios-dir-remote
  newlib:
    url: ${upstream.url}/extfiles/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
${opts.zlib ? `  zlib:\n    url: ${upstream.url}/extfiles/zlib-1.2.3.tar.gz\n    path: stubdom/zlib-1.2.3.tar.gz\n` : ''}`;
}

async function project(text: string, lockFrom?: string) {
  const dir = await tmp.make('xenrel-proj-');
  await writeFile(join(dir, 'xenrel.config.yaml'), text);
  if (lockFrom) await writeFile(join(dir, 'xenrel.lock'), await readFile(join(lockFrom, 'xenrel.lock')));
  const cache = join(dir, '.cache-xenrel');
  const run = (args: string[]) => runInProcess([...args, '--cache', cache], { cwd: dir, env: fx.env });
  return { dir, cache, run };
}

const sha512hex = (b: Buffer) => createHash('sha512').update(b).digest('hex');

async function snapshot(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`);
      else out.set(`${rel}${e.name}`, (await stat(p)).mtimeMs);
    }
  };
  await walk(dir, '');
  return out;
}

describe('xenrel mirror and fetch from it', () => {
  it('exports the lock to a static mirror, idempotently; fetch works from it alone; --premirror-only never asks upstream', async () => {
    const src = await project(config());
    expect((await src.run(['lock'])).code).toBe(0);
    expect((await src.run(['fetch'])).code).toBe(0);
    const lock = JSON.parse(await readFile(join(src.dir, 'xenrel.lock'), 'utf8'));
    const commit = lock.components.seabios.commit as string;

    const mirrorDir = join(await tmp.make('xenrel-mirror-'), 'www');
    const m = await src.run(['mirror', mirrorDir, '--json']);
    expect(m.code, m.stderr).toBe(0);
    const j = JSON.parse(m.stdout);
    expect(j.changed).toEqual(
      expect.arrayContaining(['newlib-1.16.0.tar.gz', 'git/seabios.git', 'xenrel-mirror.json']),
    );

    // Tarballs under their file name and by hash; git as a dumb-HTTP bare repo with the pin and the tag.
    expect(await readFile(join(mirrorDir, 'newlib-1.16.0.tar.gz'))).toEqual(newlibTgz);
    expect(await readFile(join(mirrorDir, 'by-hash', 'sha512', sha512hex(newlibTgz)))).toEqual(newlibTgz);
    const infoRefs = await readFile(join(mirrorDir, 'git', 'seabios.git', 'info', 'refs'), 'utf8');
    expect(infoRefs).toContain(`${commit}\trefs/xenrel/pins/${commit}`);
    expect(infoRefs).toMatch(/\trefs\/tags\/rel-1\.17\.0\n/);
    expect(infoRefs).not.toContain('rel-1.16.0');
    const index = JSON.parse(await readFile(join(mirrorDir, 'xenrel-mirror.json'), 'utf8'));
    expect(index.mirrorVersion).toBe(1);
    expect(index.components.seabios).toEqual({
      kind: 'git',
      url: `${upstream.url}/seabios.git`,
      path: 'git/seabios.git',
      commit,
    });
    expect(index.components.newlib.path).toBe('newlib-1.16.0.tar.gz');
    expect(index.tarballs[`${upstream.url}/extfiles/newlib-1.16.0.tar.gz`]).toEqual([
      {
        file: 'newlib-1.16.0.tar.gz',
        byHash: `by-hash/sha512/${sha512hex(newlibTgz)}`,
        integrity: lock.components.newlib.integrity,
        size: newlibTgz.length,
      },
    ]);
    expect(index.git[`${upstream.url}/seabios.git`]).toEqual({ repo: 'git/seabios.git', commits: [commit] });

    // Idempotent: a second run writes nothing.
    const before = await snapshot(mirrorDir);
    const again = await src.run(['mirror', mirrorDir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing changed');
    expect(await snapshot(mirrorDir)).toEqual(before);

    // --all: every object of the cache, every ref of its git mirrors (no config needed).
    const allDir = join(await tmp.make('xenrel-mirror-all-'), 'www');
    const all = await runInProcess(['mirror', '--all', allDir, '--cache', src.cache], {
      cwd: await tmp.make(),
      env: fx.env,
    });
    expect(all.code, all.stderr).toBe(0);
    const allRefs = await readFile(join(allDir, 'git', 'seabios.git', 'info', 'refs'), 'utf8');
    expect(allRefs).toMatch(/\trefs\/tags\/rel-1\.16\.0\n/);
    expect(allRefs).toContain(`refs/xenrel/pins/${commit}`);
    expect(await readFile(join(allDir, 'newlib-1.16.0.tar.gz'))).toEqual(newlibTgz);
    expect(JSON.parse(await readFile(join(allDir, 'xenrel-mirror.json'), 'utf8')).components).toEqual({});

    const web = await serveStatic(mirrorDir);

    // A plain `git clone` from the static server gets the pinned commit.
    const clone = join(await tmp.make(), 'c');
    await fx.git(['clone', '--quiet', `${web.url}/git/seabios.git`, clone], fx.root);
    expect((await fx.git(['rev-parse', 'HEAD'], clone)).trim()).toBe(commit);

    // --premirror-only with upstream still up: served by the mirror, not one upstream request.
    const only = await project(config({ mirrors: [web.url] }), src.dir);
    const seen = upstream.requests.length;
    const f = await only.run(['fetch', '--premirror-only', '--json']);
    expect(f.code, f.stderr + f.stdout).toBe(0);
    const outcomes = JSON.parse(f.stdout).components as { name: string; status: string; source: string }[];
    expect(outcomes.find((o) => o.name === 'seabios')).toMatchObject({
      status: 'fetched',
      source: `${web.url}/git/seabios.git`,
    });
    expect(outcomes.find((o) => o.name === 'newlib')).toMatchObject({
      status: 'fetched',
      source: `${web.url}/newlib-1.16.0.tar.gz`,
    });
    expect(upstream.requests.length).toBe(seen);
    // What came from the mirror is what the lock says: vendor --check would catch anything else; here `fetch --offline` re-verifies.
    expect((await only.run(['fetch', '--offline'])).code).toBe(0);

    // A component the mirror lacks: exit 3 naming it, still no upstream request.
    const lacking = await project(config({ mirrors: [web.url], zlib: true }));
    const srcZ = await project(config({ zlib: true }));
    expect((await srcZ.run(['lock'])).code).toBe(0);
    await writeFile(join(lacking.dir, 'xenrel.lock'), await readFile(join(srcZ.dir, 'xenrel.lock')));
    const seen2 = upstream.requests.length;
    const miss = await lacking.run(['fetch', '--premirror-only']);
    expect(miss.code).toBe(3);
    expect(miss.stderr).toContain('in no mirror: zlib');
    expect(miss.stderr).toContain('--premirror-only');
    expect(upstream.requests.length).toBe(seen2);

    // Upstream gone: an empty cache fills from the mirror alone; without mirrors it cannot.
    await upstream.close();
    const fresh = await project(config({ mirrors: [web.url] }), src.dir);
    const r = await fresh.run(['fetch']);
    expect(r.code, r.stderr).toBe(0);
    expect((await fresh.run(['fetch', '--offline'])).code).toBe(0);
    const noMirror = await project(config(), src.dir);
    expect((await noMirror.run(['fetch'])).code).toBe(3);
  });

  it('refuses to export what the cache does not hold, naming it', async () => {
    const p = await project(
      `version: 1\nname: xen\ncomponents:\n  newlib:\n    url: http://127.0.0.1:9/newlib-1.16.0.tar.gz\n    path: stubdom/newlib.tar.gz\n`,
    );
    await writeFile(
      join(p.dir, 'xenrel.lock'),
      `${JSON.stringify({ lockfileVersion: 1, name: 'xen', components: { newlib: { url: 'http://127.0.0.1:9/newlib-1.16.0.tar.gz', integrity: `sha512-${createHash('sha512').update('x').digest('base64')}`, size: 1, path: 'stubdom/newlib.tar.gz' } } }, null, 2)}\n`,
    );
    const out = join(await tmp.make(), 'm');
    const r = await p.run(['mirror', out]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('newlib: http://127.0.0.1:9/newlib-1.16.0.tar.gz');
    expect(r.stderr).toContain('xenrel fetch');
  });
});
