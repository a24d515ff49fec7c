/**
 * The tarball fetcher across processes: SIGKILL mid-download then resume, two
 * processes fetching into one cache, and a full disk on a real small
 * tmpfs mounted in a private mount namespace (`unshare -rm`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cacache from 'cacache';
import ssri from 'ssri';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import { fetchTarball } from '../../src/sources/tarball.js';
import { etagOf, startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { tempDirs } from '../helpers/tmp.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
// `node --import tsx`, not the tsx CLI: the CLI runs the script in a grandchild that a
// SIGKILL to the CLI would leave running.
const NODE_TSX = [process.execPath, '--import', 'tsx'];
const CHILD = join(ROOT, 'test', 'helpers', 'fetch-child.ts');

const dirs = tempDirs();
const servers: TestHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await dirs.cleanup();
});

const SIZE = 300_000;
const BODY = randomBytes(SIZE);
const SRI = ssri.fromData(BODY, { algorithms: ['sha512'] }).toString();
const P = '/dl/big-2.0.tar.gz';

interface ChildOut {
  results: Array<{ integrity?: string; cached?: boolean; error?: string; exitCode?: number; message?: string }>;
  files?: string[];
  verified?: boolean[];
}

function runChild(
  arg: unknown,
  wrap: string[] = [],
): {
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out?: ChildOut; stderr: string }>;
  kill: () => void;
} {
  const full = [...wrap, ...NODE_TSX, CHILD, JSON.stringify(arg)];
  const [cmd, ...args] = full as [string, ...string[]];
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out?: ChildOut; stderr: string }>(
    (resolve) =>
      child.on('close', (code, signal) => {
        const line = stdout.trim().split('\n').pop();
        let out: ChildOut | undefined;
        try {
          out = line ? (JSON.parse(line) as ChildOut) : undefined;
        } catch {
          out = undefined;
        }
        resolve({ code, signal, out, stderr });
      }),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function contentFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  }
  await walk(join(dir, 'content', 'content-v2'));
  return out;
}

describe('tarball fetch across processes', () => {
  it('6.12 SIGKILL mid-download, rerun: resumes from the recorded offset with the recorded validator; result verifies', async () => {
    const srv = await startHttpServer({ files: { [P]: BODY }, chunkSize: 10_000 });
    servers.push(srv);
    // First request: 120000 bytes, then silence, so the child is mid-download when killed.
    srv.setFault(P, { kind: 'stall', afterBytes: 120_000, times: 1 });
    const cacheDir = await dirs.make('xenrel-cache-');
    const cache = new Cache(cacheDir);
    const url = srv.url + P;
    const child = runChild({ cacheDir, jobs: [{ name: 'big', url, expected: { integrity: SRI, size: SIZE } }] });
    const partial = cache.partialPath(url);
    await srv.waitForBytes(P, 120_000);
    await waitFor(
      async () => (await stat(partial).catch(() => undefined))?.size === 120_000,
      'the partial file to hold 120000 bytes',
    );
    child.kill();
    const killed = await child.done;
    expect(killed.signal).toBe('SIGKILL');

    // What the kill left: a partial and its sidecar, nothing in the store.
    const meta = JSON.parse(await readFile(`${partial}.json`, 'utf8')) as { url: string; etag: string; total: number };
    expect(meta).toEqual({ url, etag: etagOf(BODY), total: SIZE });
    expect(await contentFiles(cacheDir)).toHaveLength(0);

    const r = await fetchTarball({
      name: 'big',
      url,
      mirrors: [],
      cache,
      expected: { integrity: SRI, size: SIZE },
      lock: { staleMs: 2000 }, // the killed process's lock is taken over once stale
      retry: { retries: 0 },
    });
    expect(r).toMatchObject({ integrity: SRI, size: SIZE, cached: false });
    const reqs = srv.requestsFor(P);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toBe('bytes=120000-');
    expect(reqs[1]!.headers['if-range']).toBe(etagOf(BODY));
    expect(reqs[1]!.bytesSent).toBe(SIZE - 120_000);
    expect(await stat(partial).catch(() => undefined)).toBeUndefined();
    expect(await contentFiles(cacheDir)).toHaveLength(1);
  });

  it('6.13 two processes fetching the same object into one cache: both succeed, one download, one copy', async () => {
    const srv = await startHttpServer({ files: { [P]: BODY }, chunkSize: 4096 });
    servers.push(srv);
    const cacheDir = await dirs.make('xenrel-cache-');
    const url = srv.url + P;
    const job = { cacheDir, jobs: [{ name: 'big', url, expected: { integrity: SRI, size: SIZE } }] };
    const [a, b] = await Promise.all([runChild(job).done, runChild(job).done]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const results = [a.out!.results[0]!, b.out!.results[0]!];
    expect(results.map((r) => r.integrity)).toEqual([SRI, SRI]);
    // The loser of the lock found the winner's verified copy.
    expect(results.filter((r) => r.cached)).toHaveLength(1);
    expect(srv.requestsFor(P)).toHaveLength(1);
    expect(await contentFiles(cacheDir)).toHaveLength(1);
    const entries = await cacache.ls(join(cacheDir, 'content'));
    expect(Object.keys(entries)).toEqual([`tarball:${url}`]);
    expect(entries[`tarball:${url}`]!.integrity).toBe(SRI);
  });

  it('6.13 two first-lock fetches (nothing expected) at once: both get the same integrity, one content file', async () => {
    const srv = await startHttpServer({ files: { [P]: BODY }, chunkSize: 4096 });
    servers.push(srv);
    const cacheDir = await dirs.make('xenrel-cache-');
    const job = { cacheDir, jobs: [{ name: 'big', url: srv.url + P }] };
    const [a, b] = await Promise.all([runChild(job).done, runChild(job).done]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([a.out!.results[0]!.integrity, b.out!.results[0]!.integrity]).toEqual([SRI, SRI]);
    expect(await contentFiles(cacheDir)).toHaveLength(1);
  });

  const canUnshare = spawnSync('unshare', ['-rm', 'true']).status === 0;
  it.skipIf(!canUnshare)(
    '6.11 disk full (small tmpfs): E_NOSPACE exit 3, temp removed, earlier content intact',
    async () => {
      const srv = await startHttpServer({
        files: { [P]: BODY, '/small.tar.gz': BODY.subarray(0, 8000) },
        chunkSize: 8192,
      });
      servers.push(srv);
      const mnt = await dirs.make('xenrel-tmpfs-');
      const cacheDir = join(mnt, 'cache');
      const small = ssri.fromData(BODY.subarray(0, 8000), { algorithms: ['sha512'] }).toString();
      const job = {
        cacheDir,
        jobs: [
          { name: 'small', url: `${srv.url}/small.tar.gz`, expected: { integrity: small } },
          { name: 'big', url: srv.url + P, expected: { integrity: SRI, size: SIZE } },
        ],
        verify: [small],
        listFiles: true,
      };
      // The tmpfs exists only inside the child's mount namespace; the child reports what it saw.
      const r = await runChild(job, [
        'unshare',
        '-rm',
        'sh',
        '-c',
        `mount -t tmpfs -o size=160k tmpfs "${mnt}" && exec "$@"`,
        'sh',
      ]).done;
      expect(r.code, r.stderr).toBe(3);
      const [okSmall, big] = r.out!.results;
      expect(okSmall!.integrity).toBe(small);
      expect(big!.error, big!.message).toBe('E_NOSPACE');
      expect(big!.exitCode).toBe(3);
      expect(big!.message).toMatch(/no space left on device/);
      expect(r.out!.verified).toEqual([true]);
      // No partial, no sidecar, one content object (the small one).
      const files = r.out!.files!;
      expect(files.filter((f) => f.startsWith('partial/'))).toEqual([]);
      expect(files.filter((f) => f.startsWith('content/content-v2/'))).toHaveLength(1);
      expect(srv.requestsFor(P)).toHaveLength(1); // disk full is not retried
    },
  );
});

/** Sanity for the helper: the sha256 the fetcher returns is the file's. */
it('returns the sha256 hex of the bytes', async () => {
  const srv = await startHttpServer({ files: { [P]: BODY } });
  servers.push(srv);
  const r = await fetchTarball({
    name: 'big',
    url: srv.url + P,
    mirrors: [],
    cache: new Cache(await dirs.make()),
    expected: { integrity: SRI },
  });
  expect(r.sha256).toBe(createHash('sha256').update(BODY).digest('hex'));
});
