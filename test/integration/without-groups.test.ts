import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let server: TestHttpServer;

beforeAll(async () => {
  fx = await GitFixtures.create();
  seabios = await fx.repo('seabios', { files: { Makefile: 'all:\n' } });
  await seabios.commit('release');
  await seabios.tag('rel-1.17.0');
  const d = await tmp.make();
  const files: Record<string, Buffer> = {};
  for (const lib of ['newlib-1.16.0', 'zlib-1.2.3']) {
    await mkdir(join(d, lib));
    await writeFile(join(d, lib, 'README'), `${lib}\n`);
    files[`/${lib}.tar.gz`] = execFileSync('tar', ['-C', d, '-czf', '-', lib]);
  }
  server = await startHttpServer({ files });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

describe('--without NAME|GROUP', () => {
  it('leaves a whole group out, prints the configure option, and the shim refuses its fetch', async () => {
    const dir = await tmp.make('xenrel-groups-');
    await writeFile(
      join(dir, 'xenrel.config.yaml'),
      `version: 1
name: xen
components:
  seabios:
    git: ${seabios.url}
    ref: rel-1.17.0
    path: tools/firmware/seabios-dir-remote
    groups: [firmware]
  newlib:
    url: ${server.url}/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
    groups: [stubdom]
  zlib:
    url: ${server.url}/zlib-1.2.3.tar.gz
    path: stubdom/zlib-1.2.3.tar.gz
    groups: [stubdom]
`,
    );
    const cache = join(dir, '.cache');
    const run = (...args: string[]) => runInProcess([...args, '--cache', cache], { cwd: dir, env: fx.env });
    expect((await run('lock')).code).toBe(0);
    const v = await run('vendor', '--without', 'stubdom');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('newlib left out: configure Xen with --disable-stubdom');
    expect(v.stdout).toContain('zlib left out: configure Xen with --disable-stubdom');
    expect(v.stdout).toContain('configure Xen with: --disable-stubdom');
    expect(await stat(join(dir, 'stubdom/newlib-1.16.0.tar.gz')).catch(() => undefined)).toBeUndefined();
    expect((await stat(join(dir, 'tools/firmware/seabios-dir-remote/Makefile'))).isFile()).toBe(true);
    expect(await readFile(join(dir, '.xenrel/WITHOUT'), 'utf8')).toContain('newlib');

    const f = await new Promise<{ code: number; err: string }>((resolve) => {
      const c = execFileSync(
        'sh',
        ['-c', `'${join(dir, '.xenrel/bin/fetch')}' out.tgz '${server.url}/newlib-1.16.0.tar.gz' 2>&1; echo "exit=$?"`],
        { cwd: dir, encoding: 'utf8' },
      );
      resolve({ code: Number(/exit=(\d+)/.exec(c)![1]), err: c });
    });
    expect(f.code).not.toBe(0);
    expect(f.err).toContain('component newlib was left out on purpose');

    expect((await run('vendor', '--check', '--without', 'stubdom')).code).toBe(0);
    const bad = await run('vendor', '--without', 'stubdomm');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown component or group');
    expect(bad.stderr).toContain('did you mean "stubdom"?');
  });
});
