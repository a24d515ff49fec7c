/**
 * Every network wait of a git transfer is bounded: a remote on loopback that
 * accepts and then sends nothing ends `lock` / `fetch` with exit 3, E_GIT_STALLED, the URL
 * named, within the stall bound XENREL_GIT_STALL_SECONDS (here 3 s) plus start-up.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { tempDirs } from '../helpers/tmp.js';

const STALL_S = 3;
/** The bound plus what node, git and the TERM → KILL step may add on a loaded machine. */
const LIMIT_MS = (STALL_S + 6) * 1000;

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let http: GitHttpServer;
let tcp: Server;
let tcpPort: number;
const held = new Set<Socket>();

beforeAll(async () => {
  fx = await GitFixtures.create();
  seabios = await fx.repo('seabios', { files: { Makefile: 'all:\n', 'src/bios.c': 'int bios;\n' } });
  await seabios.commit('first');
  await seabios.tag('rel-1.16.0', { annotated: true });
  http = await startGitHttpServer(fx.root, fx.env);
  // git:// (and anything else over TCP): accept, read, never answer.
  tcp = createServer((s) => {
    held.add(s);
    s.on('data', () => {});
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((r) => tcp?.close(() => r()));
  await http?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

async function project(url: string, ref = 'rel-1.16.0') {
  const dir = await tmp.make('xenrel-stall-');
  await writeFile(
    join(dir, 'xenrel.config.yaml'),
    `version: 1\nname: xen\ncomponents:\n  seabios:\n    git: ${url}\n    ref: ${ref}\n    path: tools/firmware/seabios-dir\n`,
  );
  const cache = join(dir, '.cache');
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const t0 = Date.now();
    const r = await runCli([...args, '--cache', cache], {
      cwd: dir,
      env: { ...fx.env, XENREL_GIT_STALL_SECONDS: String(STALL_S), ...env },
      timeoutMs: 60_000,
    });
    return { ...r, ms: Date.now() - t0 };
  };
  return { dir, cache, run };
}

function expectStalled(r: { code: number | null; stderr: string; ms: number }, url: string) {
  expect(r.stderr).toContain(url);
  expect(r.stderr).toMatch(new RegExp(`sent no data for ${STALL_S} s`));
  expect(r.stderr).not.toMatch(/unexpected error/i);
  expect(r.code).toBe(3);
  expect(r.ms).toBeGreaterThanOrEqual(STALL_S * 1000 - 200);
  expect(r.ms).toBeLessThan(LIMIT_MS);
}

describe('a stalling git remote ends in exit 3 within the bound', () => {
  it('the server answers the refs over HTTP and never sends the pack: lock', async () => {
    http.stall = 'pack';
    const before = http.stalled;
    const url = http.url('seabios');
    const p = await project(url);
    const r = await p.run(['lock']);
    expect(http.stalled).toBeGreaterThan(before); // the stall was the pack, after the refs were served
    expectStalled(r, url);
  });

  it('the same server stalls the pack for fetch of an existing lock', async () => {
    const url = http.url('seabios');
    http.stall = 'none';
    const p = await project(url);
    const ok = await p.run(['lock']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    await rm(p.cache, { recursive: true, force: true });
    http.stall = 'pack';
    const before = http.stalled;
    const r = await p.run(['fetch']);
    expect(http.stalled).toBeGreaterThan(before);
    expectStalled(r, url);
  });

  it('an HTTP server that accepts and never answers at all', async () => {
    http.stall = 'all';
    const url = http.url('seabios');
    const r = await (await project(url)).run(['lock']);
    expectStalled(r, url);
  });

  it('a git:// daemon that accepts and never answers (the watchdog)', async () => {
    const url = `git://127.0.0.1:${tcpPort}/seabios`;
    const r = await (await project(url)).run(['lock']);
    expectStalled(r, url);
  });

  it('a stalled mirror is skipped once (not per layout), and upstream serves the commit', async () => {
    http.stall = 'none';
    const p = await project(seabios.url);
    const ok = await p.run(['lock']);
    expect(ok.code, ok.stderr).toBe(0);
    await rm(p.cache, { recursive: true, force: true });
    const config = join(p.dir, 'xenrel.config.yaml');
    await writeFile(
      config,
      (await readFile(config, 'utf8')).replace('components:', `mirrors:\n  - ${http.url('mirror')}\ncomponents:`),
    );
    http.stall = 'all';
    const before = http.stalled;
    const r = await p.run(['fetch']);
    expect(r.stderr).not.toMatch(/unexpected error/i);
    expect(r.code, r.stderr).toBe(0);
    expect(http.stalled - before).toBe(1);
    expect(r.ms).toBeGreaterThanOrEqual(STALL_S * 1000 - 200);
    expect(r.ms).toBeLessThan(LIMIT_MS);
  });

  it('a bad XENREL_GIT_STALL_SECONDS is a usage error, not a hang', async () => {
    const url = `git://127.0.0.1:${tcpPort}/seabios`;
    const r = await (await project(url)).run(['lock'], { XENREL_GIT_STALL_SECONDS: 'soon' });
    expect(r.stderr).toContain('XENREL_GIT_STALL_SECONDS');
    expect(r.code).toBe(2);
    expect(r.ms).toBeLessThan(LIMIT_MS);
  });
});
