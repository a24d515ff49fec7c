/**
 * The HTTP tarball fetcher against a real loopback server scripted to misbehave.
 * Each test states the fault and asserts what went over the wire,
 * what the caller got, and what the cache holds afterwards.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, mkdir, chmod, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { Readable } from 'node:stream';
import cacache from 'cacache';
import ssri from 'ssri';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import { XenrelError } from '../../src/errors.js';
import {
  copyContentTo,
  fetchTarball,
  hasVerifiedContent,
  openVerifiedContent,
  type FetchTarballOptions,
} from '../../src/sources/tarball.js';
import { startHttpServer, etagOf, type TestHttpServer, type HttpServerOptions } from '../helpers/http-server.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
const servers: TestHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await dirs.cleanup();
});

const SIZE = 200_000;
const BODY = randomBytes(SIZE);
const SRI = ssri.fromData(BODY, { algorithms: ['sha512'] }).toString();
const SHA256 = createHash('sha256').update(BODY).digest('hex');
const P = '/dl/thing-1.0.tar.gz';

async function server(opts: HttpServerOptions = {}) {
  const s = await startHttpServer({ files: { [P]: BODY }, chunkSize: 8192, ...opts });
  servers.push(s);
  return s;
}

/** A fresh cache plus options with instant, recorded retries. */
async function setup(extra: Partial<FetchTarballOptions> = {}) {
  const cache = new Cache(await dirs.make('xenrel-cache-'));
  const delays: number[] = [];
  const warnings: string[] = [];
  const opts = (url: string, more: Partial<FetchTarballOptions> = {}): FetchTarballOptions => ({
    name: 'thing',
    url,
    mirrors: [],
    cache,
    expected: { integrity: SRI, size: SIZE },
    retry: { retries: 4, baseDelayMs: 100, random: () => 0.5, sleep: async (ms) => void delays.push(ms) },
    timeouts: { idleMs: 2000, headersMs: 2000 },
    progress: { warn: (m) => void warnings.push(m) },
    ...extra,
    ...more,
  });
  return { cache, delays, warnings, opts };
}

async function contentFiles(cache: Cache): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  }
  await walk(join(cache.contentDir, 'content-v2'));
  return out;
}

async function rejects(p: Promise<unknown>): Promise<XenrelError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(XenrelError);
    return err as XenrelError;
  }
  throw new Error('expected a rejection');
}

const exists = (f: string) =>
  stat(f).then(
    () => true,
    () => false,
  );
const totalSent = (s: TestHttpServer, p = P) => s.requestsFor(p).reduce((n, r) => n + r.bytesSent, 0);

describe('fetchTarball: the good path and the cache', () => {
  it('downloads, verifies, stores, and then serves from the cache without a request', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    const r = await fetchTarball(opts(srv.url + P));
    expect(r).toEqual({ integrity: SRI, sha256: SHA256, size: SIZE, source: srv.url + P, cached: false });
    expect(srv.requests).toHaveLength(1);
    expect(srv.requests[0]!.headers.range).toBeUndefined();
    expect(await contentFiles(cache)).toHaveLength(1);
    expect(await exists(cache.partialPath(srv.url + P))).toBe(false);
    expect(await hasVerifiedContent(cache, SRI)).toBe(true);

    const again = await fetchTarball(opts(srv.url + P));
    expect(again).toEqual({ integrity: SRI, sha256: SHA256, size: SIZE, source: 'cache', cached: true });
    expect(srv.requests).toHaveLength(1);
  });

  it('without an expected integrity (first lock) hashes and stores what it got; http needs allowHttp on loopback', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    const refused = await rejects(fetchTarball(opts(srv.url + P, { expected: undefined })));
    expect(refused.code).toBe('E_INSECURE_URL');
    expect(refused.exitCode).toBe(3);
    expect(srv.requests).toHaveLength(0);

    const r = await fetchTarball(opts(srv.url + P, { expected: undefined, allowHttp: true }));
    expect(r.integrity).toBe(SRI);
    expect(r.cached).toBe(false);
    expect(await hasVerifiedContent(cache, SRI)).toBe(true);
  });

  it('a sha256-only pin is checked and found again in the cache', async () => {
    const srv = await server();
    const { opts } = await setup();
    const pin = ssri.fromData(BODY, { algorithms: ['sha256'] }).toString();
    const r = await fetchTarball(opts(srv.url + P, { expected: { integrity: pin } }));
    expect(r.integrity).toBe(SRI);
    const again = await fetchTarball(opts(srv.url + P, { expected: { integrity: pin } }));
    expect(again.cached).toBe(true);
    expect(srv.requests).toHaveLength(1);
  });

  it('refuses an empty, weak or unparseable expected integrity before any request', async () => {
    const srv = await server();
    const { opts } = await setup();
    for (const bad of ['', `md5-${createHash('md5').update(BODY).digest('base64')}`, 'sha512-', 'not an sri']) {
      const e = await rejects(fetchTarball(opts(srv.url + P, { expected: { integrity: bad } })));
      expect(e.code).toBe('E_BAD_INTEGRITY');
      expect(e.exitCode).toBe(2);
    }
    expect(srv.requests).toHaveLength(0);
  });

  it('progress: start with the total, advance adds up to the size, done', async () => {
    const srv = await server();
    const { opts } = await setup();
    const events: string[] = [];
    let advanced = 0;
    await fetchTarball(
      opts(srv.url + P, {
        progress: {
          start: (n, t) => void events.push(`start ${n} ${t}`),
          advance: (_n, b) => void (advanced += b),
          done: (n, s) => void events.push(`done ${n} ${s}`),
        },
      }),
    );
    expect(events).toEqual([`start thing ${SIZE}`, 'done thing fetched']);
    expect(advanced).toBe(SIZE);
  });
});

describe('fetchTarball: interrupted downloads', () => {
  it('6.1 reset at 50% with Range + strong ETag: resumes with Range and If-Range, one body in total', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'drop', afterBytes: SIZE / 2, times: 1 });
    const { cache, opts, delays } = await setup();
    const r = await fetchTarball(opts(srv.url + P));
    expect(r.integrity).toBe(SRI);
    const reqs = srv.requestsFor(P);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toBe(`bytes=${SIZE / 2}-`);
    expect(reqs[1]!.headers['if-range']).toBe(etagOf(BODY));
    expect(reqs[1]!.status).toBe(206);
    expect(totalSent(srv)).toBe(SIZE);
    expect(delays).toEqual([50]); // full jitter: 0.5 × 100 ms
    expect(await exists(cache.partialPath(srv.url + P))).toBe(false);
  });

  it('resumes from Last-Modified when the server sends no ETag', async () => {
    const srv = await server();
    srv.setFault(P, [
      { kind: 'drop', afterBytes: 64_000, times: 1 },
      { kind: 'etag', etag: null },
    ]);
    const { opts } = await setup();
    expect((await fetchTarball(opts(srv.url + P))).integrity).toBe(SRI);
    const reqs = srv.requestsFor(P);
    expect(reqs[1]!.headers.range).toBe('bytes=64000-');
    expect(reqs[1]!.headers['if-range']).toBe(new Date('2024-01-02T03:04:05Z').toUTCString());
    expect(totalSent(srv)).toBe(SIZE);
  });

  it('6.2 reset at 50%, server ignores Range (200): partial discarded, restart from 0, no duplicated bytes', async () => {
    const srv = await server();
    srv.setFault(P, [{ kind: 'drop', afterBytes: SIZE / 2, times: 1 }, { kind: 'ignore-range' }]);
    const { opts } = await setup();
    const r = await fetchTarball(opts(srv.url + P));
    expect(r).toMatchObject({ integrity: SRI, size: SIZE });
    const reqs = srv.requestsFor(P);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.headers.range).toBe(`bytes=${SIZE / 2}-`);
    expect(reqs[1]!.status).toBe(200);
    expect(totalSent(srv)).toBe(SIZE / 2 + SIZE);
  });

  it('6.3 the object changed between attempts (new ETag): restarts from 0, never splices', async () => {
    const V2 = randomBytes(SIZE);
    const srv = await server();
    srv.setFault(P, [
      { kind: 'drop', afterBytes: SIZE / 2, times: 1 },
      { kind: 'body', body: V2, skip: 1 },
    ]);
    const { cache, opts } = await setup();
    // First lock (nothing expected): the result is exactly version 2, not v1's half + v2's half.
    const r = await fetchTarball(opts(srv.url + P, { expected: undefined, allowHttp: true }));
    expect(r.integrity).toBe(ssri.fromData(V2, { algorithms: ['sha512'] }).toString());
    const reqs = srv.requestsFor(P);
    expect(reqs[1]!.headers['if-range']).toBe(etagOf(BODY));
    expect(reqs[1]!.status).toBe(200);
    expect(await contentFiles(cache)).toHaveLength(1);
  });

  it('6.3 the object changed and the lock pins version 1: E_INTEGRITY, nothing published, not retried', async () => {
    const V2 = randomBytes(SIZE);
    const srv = await server();
    srv.setFault(P, [
      { kind: 'drop', afterBytes: SIZE / 2, times: 1 },
      { kind: 'body', body: V2, skip: 1 },
    ]);
    const { cache, opts } = await setup();
    const e = await rejects(fetchTarball(opts(srv.url + P)));
    expect(e.code).toBe('E_INTEGRITY');
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(SRI);
    expect(e.message).toContain(ssri.fromData(V2, { algorithms: ['sha512'] }).toString());
    expect(e.message).toContain(srv.url + P);
    expect(srv.requestsFor(P)).toHaveLength(2); // the interrupted one and one full: no retry of wrong bytes
    expect(await contentFiles(cache)).toHaveLength(0);
    expect(await exists(cache.partialPath(srv.url + P))).toBe(false);
  });

  it('6.3 a broken server answers the stale If-Range with 206 of the new object: the ETag differs, partial discarded, no splice', async () => {
    const V2 = randomBytes(SIZE);
    const srv = await server();
    srv.setFault(P, [
      { kind: 'drop', afterBytes: SIZE / 2, times: 1 },
      { kind: 'body', body: V2, skip: 1 },
      { kind: 'ignore-if-range' },
    ]);
    const { opts } = await setup();
    const r = await fetchTarball(opts(srv.url + P, { expected: undefined, allowHttp: true }));
    expect(r.integrity).toBe(ssri.fromData(V2, { algorithms: ['sha512'] }).toString());
    const reqs = srv.requestsFor(P);
    expect(reqs.map((q) => q.status)).toEqual([200, 206, 200]);
    expect(reqs[2]!.headers.range).toBeUndefined();
  });

  it('6.3 same bytes, new ETag: If-Range fails, the server sends 200 and the download restarts', async () => {
    const srv = await server();
    srv.setFault(P, [
      { kind: 'drop', afterBytes: SIZE / 2, times: 1 },
      { kind: 'etag', etag: '"something-else"', skip: 1 },
    ]);
    const { opts } = await setup();
    expect((await fetchTarball(opts(srv.url + P))).integrity).toBe(SRI);
    expect(srv.requestsFor(P).map((r) => r.status)).toEqual([200, 200]);
    expect(totalSent(srv)).toBe(SIZE / 2 + SIZE);
  });

  for (const [label, wrong] of [
    ['start', { start: 0 }],
    ['total', { total: SIZE + 10 }],
  ] as const) {
    it(`6.4 206 with a wrong Content-Range ${label}: protocol error, partial discarded, restart without Range`, async () => {
      const srv = await server();
      srv.setFault(P, [
        { kind: 'drop', afterBytes: SIZE / 2, times: 1 },
        { kind: 'wrong-content-range', ...wrong, skip: 1, times: 1 },
      ]);
      const { opts } = await setup();
      const infos: string[] = [];
      const r = await fetchTarball(opts(srv.url + P, { progress: { info: (m) => void infos.push(m) } }));
      expect(r.integrity).toBe(SRI);
      const reqs = srv.requestsFor(P);
      expect(reqs).toHaveLength(3);
      expect(reqs[1]!.headers.range).toBe(`bytes=${SIZE / 2}-`);
      expect(reqs[1]!.status).toBe(206);
      expect(reqs[2]!.headers.range).toBeUndefined();
      expect(infos.join('\n')).toMatch(/protocol error.*Content-Range/);
    });
  }

  it('6.5 Content-Length 200000, closed after 120000: E_TRUNCATED, retried with resume', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'truncate', afterBytes: 120_000, times: 1 });
    const { opts } = await setup();
    const infos: string[] = [];
    expect((await fetchTarball(opts(srv.url + P, { progress: { info: (m) => void infos.push(m) } }))).integrity).toBe(
      SRI,
    );
    expect(infos[0]).toMatch(/closed after 120000/);
    expect(srv.requestsFor(P)[1]!.headers.range).toBe('bytes=120000-');
    expect(totalSent(srv)).toBe(SIZE);
  });

  it('6.5 always truncated: gives up after the retries with E_TRUNCATED, nothing published', async () => {
    const srv = await server();
    srv.setFault(P, [{ kind: 'truncate', afterBytes: 1000 }, { kind: 'ignore-range' }]);
    const { cache, opts, delays } = await setup();
    const e = await rejects(fetchTarball(opts(srv.url + P)));
    expect(e.code).toBe('E_TRUNCATED');
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(srv.url + P);
    expect(srv.requestsFor(P)).toHaveLength(5); // 1 + 4 retries
    expect(delays).toEqual([50, 100, 200, 400]);
    expect(await contentFiles(cache)).toHaveLength(0);
  });

  it('6.5 Content-Length longer than the body (server closes): truncation, nothing published', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'content-length', declared: SIZE + 5000 });
    const { cache, opts } = await setup({ expected: { integrity: SRI } });
    const e = await rejects(fetchTarball(opts(srv.url + P, { expected: { integrity: SRI } })));
    expect(e.exitCode).toBe(3);
    expect(['E_TRUNCATED', 'E_RANGE', 'E_FETCH']).toContain(e.code);
    expect(srv.requestsFor(P)[0]!.bytesSent).toBe(SIZE);
    expect(await contentFiles(cache)).toHaveLength(0);
  });

  it('6.5 Content-Length shorter than the body: cut at the declared length, integrity fails, no retry, nothing published', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'content-length', declared: 100_000 });
    const { cache, opts } = await setup();
    const e = await rejects(fetchTarball(opts(srv.url + P, { expected: { integrity: SRI } })));
    expect(e.code).toBe('E_INTEGRITY');
    expect(srv.requestsFor(P)).toHaveLength(1);
    expect(await contentFiles(cache)).toHaveLength(0);
    // With the locked size known, the lie is caught from the headers alone.
    const e2 = await rejects(fetchTarball(opts(srv.url + P)));
    expect(e2.code).toBe('E_SIZE_MISMATCH');
    expect(e2.message).toContain('announces 100000 bytes');
    expect(srv.requestsFor(P)).toHaveLength(2);
  });

  it('a body longer than the locked size is aborted (no Content-Length to trust)', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    // The lock says 1000 bytes; the server sends 200000 → size mismatch from the headers.
    const e = await rejects(fetchTarball(opts(srv.url + P, { expected: { integrity: SRI, size: 1000 } })));
    expect(e.code).toBe('E_SIZE_MISMATCH');
    expect(await contentFiles(cache)).toHaveLength(0);
  });
});

describe('fetchTarball: wrong bytes and mirrors', () => {
  it('6.6 a flipped byte on the mirror: E_INTEGRITY there, no retry on it, the URL serves good bytes', async () => {
    const mirror = await server();
    mirror.setFault(P, { kind: 'flip-byte', offset: 12345 });
    const origin = await server();
    const { opts, warnings, cache } = await setup();
    const r = await fetchTarball(opts(origin.url + P, { mirrors: [`${mirror.url}/dl/`] }));
    expect(r).toMatchObject({ integrity: SRI, source: origin.url + P, cached: false });
    expect(mirror.requestsFor(P)).toHaveLength(1);
    expect(origin.requestsFor(P)).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/served the wrong bytes/);
    expect(await contentFiles(cache)).toHaveLength(1);
  });

  it('mirrors are tried in order; a good first mirror means the URL is never asked', async () => {
    const m1 = await server();
    const m2 = await server();
    const origin = await server();
    m1.removeFile(P);
    const { opts } = await setup();
    const r = await fetchTarball(opts(origin.url + P, { mirrors: [`${m1.url}/dl`, `${m2.url}/dl`] }));
    expect(r.source).toBe(m2.url + P);
    expect(m1.requests.map((q) => q.status)).toEqual([404]);
    expect(origin.requests).toHaveLength(0);
    const only = await setup();
    await fetchTarball(only.opts(origin.url + P, { mirrors: [`${m2.url}/dl`], sourcesMode: 'url-only' }));
    expect(origin.requests).toHaveLength(1);
  });

  it('6.6 wrong bytes everywhere: E_INTEGRITY naming expected, actual and every URL; nothing published', async () => {
    const mirror = await server();
    mirror.setFault(P, { kind: 'flip-byte', offset: 0 });
    const origin = await server();
    origin.setFault(P, { kind: 'flip-byte', offset: SIZE - 1 });
    const { opts, cache } = await setup();
    const e = await rejects(fetchTarball(opts(origin.url + P, { mirrors: [`${mirror.url}/dl`] })));
    expect(e.code).toBe('E_INTEGRITY');
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('component thing');
    expect(e.message).toContain(`expected ${SRI}`);
    expect(e.message).toContain(mirror.url + P);
    expect(e.message).toContain(origin.url + P);
    const flipped = Buffer.from(BODY);
    flipped[0]! ^= 1;
    expect(e.message).toContain(ssri.fromData(flipped, { algorithms: ['sha512'] }).toString());
    expect(mirror.requests).toHaveLength(1);
    expect(origin.requests).toHaveLength(1);
    expect(await contentFiles(cache)).toHaveLength(0);
    expect(await exists(cache.partialPath(origin.url + P))).toBe(false);
  });
});

describe('fetchTarball: HTTP statuses and retries', () => {
  it('6.7 503 ×3 with Retry-After: 1, then 200: succeeds, waits what the server asked', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'status', status: 503, retryAfter: '1', times: 3 });
    const { opts, delays } = await setup();
    expect((await fetchTarball(opts(srv.url + P))).integrity).toBe(SRI);
    expect(srv.requestsFor(P).map((r) => r.status)).toEqual([503, 503, 503, 200]);
    expect(delays).toEqual([1000, 1000, 1000]);
  });

  it('Retry-After is capped', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'status', status: 429, retryAfter: '86400', times: 1 });
    const { opts, delays } = await setup();
    await fetchTarball(
      opts(srv.url + P, { retry: { maxRetryAfterMs: 5000, sleep: async (ms) => void delays.push(ms) } }),
    );
    expect(delays).toEqual([5000]);
  });

  for (const status of [404, 410, 403, 401]) {
    it(`6.7 ${status} fails fast: one request, no retry, the error names the URL and component`, async () => {
      const srv = await server();
      srv.setFault(P, { kind: 'status', status });
      const { opts, delays, cache } = await setup();
      const e = await rejects(fetchTarball(opts(srv.url + P)));
      expect(e.code).toBe('E_HTTP_STATUS');
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain(`${srv.url + P}: HTTP ${status}`);
      expect(e.message).toContain('component thing');
      expect(srv.requests).toHaveLength(1);
      expect(delays).toEqual([]);
      expect(await contentFiles(cache)).toHaveLength(0);
    });
  }

  it('500 forever: bounded retries with growing backoff', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'status', status: 500 });
    const { opts, delays } = await setup();
    const e = await rejects(
      fetchTarball(
        opts(srv.url + P, {
          retry: { retries: 2, baseDelayMs: 100, random: () => 0.999, sleep: async (ms) => void delays.push(ms) },
        }),
      ),
    );
    expect(e.code).toBe('E_HTTP_STATUS');
    expect(srv.requests).toHaveLength(3);
    expect(delays).toEqual([99, 199]);
  });

  it('a mirror that refuses connections is retried, then the URL serves the bytes', async () => {
    const dead = await server();
    const deadUrl = dead.url;
    await dead.close();
    servers.splice(servers.indexOf(dead), 1);
    const origin = await server();
    const { opts, delays } = await setup();
    const r = await fetchTarball(
      opts(origin.url + P, { mirrors: [deadUrl], retry: { retries: 1, sleep: async (ms) => void delays.push(ms) } }),
    );
    expect(r.source).toBe(origin.url + P);
    expect(delays).toHaveLength(1);
  });

  it('connection refused is transient and retried, then reported', async () => {
    const srv = await server();
    const url = srv.url + P;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const { opts, delays } = await setup();
    const e = await rejects(
      fetchTarball(opts(url, { retry: { retries: 2, baseDelayMs: 1, sleep: async (ms) => void delays.push(ms) } })),
    );
    expect(e.code).toBe('E_CONNECTION');
    expect(e.message).toContain('ECONNREFUSED');
    expect(delays).toHaveLength(2);
  });
});

describe('fetchTarball: redirects', () => {
  it('follows a chain of redirects and reports where the bytes came from', async () => {
    const srv = await server();
    srv.setFault('/a', { kind: 'redirect', to: '/b', status: 301 });
    srv.setFault('/b', { kind: 'redirect', to: `${srv.url}/c`, status: 307 });
    srv.setFault('/c', { kind: 'redirect', to: P, status: 302 });
    const { opts } = await setup();
    const r = await fetchTarball(opts(`${srv.url}/a`));
    expect(r.source).toBe(srv.url + P);
    expect(srv.requests.map((q) => q.path)).toEqual(['/a', '/b', '/c', P]);
  });

  it('refuses a redirect loop', async () => {
    const srv = await server();
    srv.setFault('/a', { kind: 'redirect', to: '/b' });
    srv.setFault('/b', { kind: 'redirect', to: '/a' });
    const { opts } = await setup();
    const e = await rejects(fetchTarball(opts(`${srv.url}/a`)));
    expect(e.code).toBe('E_REDIRECT_LOOP');
    expect(e.exitCode).toBe(3);
    expect(srv.requests).toHaveLength(2);
  });

  it('allows 10 hops, refuses 11', async () => {
    const srv = await server();
    for (let i = 0; i < 11; i++) srv.setFault(`/r${i}`, { kind: 'redirect', to: i === 10 ? P : `/r${i + 1}` });
    const { opts } = await setup();
    const e = await rejects(fetchTarball(opts(`${srv.url}/r0`)));
    expect(e.code).toBe('E_TOO_MANY_REDIRECTS');
    expect(srv.requests).toHaveLength(11);
    expect(srv.requestsFor(P)).toHaveLength(0);
    const ok = await fetchTarball(opts(`${srv.url}/r1`));
    expect(ok.integrity).toBe(SRI);
  });

  it('an unpinned http redirect target off loopback is refused before any request', async () => {
    const srv = await server();
    srv.setFault('/a', { kind: 'redirect', to: 'http://203.0.113.9/x.tar.gz' });
    const { opts } = await setup();
    const e = await rejects(fetchTarball(opts(`${srv.url}/a`, { expected: undefined, allowHttp: true })));
    expect(e.code).toBe('E_INSECURE_URL');
    expect(e.message).toContain('203.0.113.9');
  });

  it('credentials go to the source origin only, not across a redirect to another origin', async () => {
    const other = await server();
    const srv = await server();
    srv.setFault('/a', { kind: 'redirect', to: other.url + P });
    const { opts } = await setup();
    const u = new URL(`${srv.url}/a`);
    u.username = 'joe';
    u.password = 's3cret';
    await fetchTarball(opts(u.href, { headers: { cookie: 'session=1', 'x-trace': 'yes' } }));
    const first = srv.requests[0]!;
    expect(first.headers.authorization).toBe(`Basic ${Buffer.from('joe:s3cret').toString('base64')}`);
    expect(first.headers.cookie).toBe('session=1');
    const second = other.requests[0]!;
    expect(second.headers.authorization).toBeUndefined();
    expect(second.headers.cookie).toBeUndefined();
    expect(second.headers['x-trace']).toBe('yes');
  });
});

describe('fetchTarball: stalls', () => {
  it('6.10 headers then silence: the idle timeout fires and the retry resumes', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'stall', afterBytes: 50_000, times: 1 });
    const { opts } = await setup();
    const infos: string[] = [];
    const r = await fetchTarball(
      opts(srv.url + P, { timeouts: { idleMs: 300 }, progress: { info: (m) => void infos.push(m) } }),
    );
    expect(r.integrity).toBe(SRI);
    expect(infos[0]).toMatch(/no data for 300 ms after 50000 bytes/);
    expect(srv.requestsFor(P)[1]!.headers.range).toBe('bytes=50000-');
    expect(totalSent(srv)).toBe(SIZE);
  });

  it('the per-URL deadline ends a source that keeps stalling', async () => {
    const srv = await server();
    srv.setFault(P, { kind: 'stall', afterBytes: 0 });
    const { opts, cache } = await setup();
    const e = await rejects(
      fetchTarball(
        opts(srv.url + P, {
          timeouts: { idleMs: 200, perUrlMs: 700 },
          retry: { retries: 100, baseDelayMs: 1, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
        }),
      ),
    );
    expect(['E_TIMEOUT', 'E_IDLE_TIMEOUT']).toContain(e.code);
    expect(e.exitCode).toBe(3);
    expect(srv.requests.length).toBeLessThan(10);
    expect(await contentFiles(cache)).toHaveLength(0);
  });
});

describe('fetchTarball: offline and corrupt cache', () => {
  it('6.16 offline without the object: E_OFFLINE_MISSING naming component and URL, no request', async () => {
    const srv = await server();
    const { opts } = await setup();
    const e = await rejects(fetchTarball(opts(srv.url + P, { offline: true })));
    expect(e.code).toBe('E_OFFLINE_MISSING');
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('thing');
    expect(e.message).toContain(srv.url + P);
    expect(srv.requests).toHaveLength(0);
  });

  it('offline with the object cached: served from the cache, no request', async () => {
    const srv = await server();
    const { opts } = await setup();
    await fetchTarball(opts(srv.url + P));
    const r = await fetchTarball(opts(srv.url + P, { offline: true }));
    expect(r.cached).toBe(true);
    expect(srv.requests).toHaveLength(1);
  });

  it('6.15 a bit flip in a cached object: detected on read, removed with a warning, fetched again', async () => {
    const srv = await server();
    const { cache, opts, warnings } = await setup();
    await fetchTarball(opts(srv.url + P));
    const [file] = await contentFiles(cache);
    await chmod(file!, 0o644);
    const bytes = await readFile(file!);
    bytes[777]! ^= 0x40;
    await writeFile(file!, bytes);

    // Readers see E_INTEGRITY; a copy leaves nothing behind.
    const dest = join(await dirs.make(), 'out', 'thing.tar.gz');
    const copyErr = await rejects(copyContentTo(cache, SRI, dest));
    expect(copyErr.code).toBe('E_INTEGRITY');
    expect(await readdir(dirname(dest))).toEqual([]);
    const streamErr = await rejects(Readable.from(openVerifiedContent(cache, SRI)).toArray());
    expect(streamErr.code).toBe('E_INTEGRITY');

    // Offline: a hard failure, never silent use.
    const off = await rejects(fetchTarball(opts(srv.url + P, { offline: true })));
    expect(off.code).toBe('E_OFFLINE_MISSING');
    expect(warnings.join('\n')).toMatch(/corrupt/);

    await writeFile(file!, bytes); // corrupt again (offline removed it)
    warnings.length = 0;
    const r = await fetchTarball(opts(srv.url + P));
    expect(r).toMatchObject({ integrity: SRI, cached: false });
    expect(warnings.join('\n')).toMatch(/cached copy .* was corrupt/);
    expect(srv.requests).toHaveLength(2);
    expect(await hasVerifiedContent(cache, SRI)).toBe(true);
    await copyContentTo(cache, SRI, dest);
    expect((await readFile(dest)).equals(BODY)).toBe(true);
  });

  it('a missing object: openVerifiedContent fails with E_NOT_CACHED', async () => {
    const { cache } = await setup();
    await cache.init();
    const e = await rejects(Readable.from(openVerifiedContent(cache, SRI)).toArray());
    expect(e.code).toBe('E_NOT_CACHED');
    expect(await hasVerifiedContent(cache, SRI)).toBe(false);
  });
});

describe('partials', () => {
  it('a leftover partial without a validator sidecar is never resumed from', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    const partial = cache.partialPath(srv.url + P);
    await mkdir(dirname(partial), { recursive: true });
    await writeFile(partial, Buffer.alloc(5000, 0x41));
    expect((await fetchTarball(opts(srv.url + P))).integrity).toBe(SRI);
    expect(srv.requests[0]!.headers.range).toBeUndefined();
  });

  it('a sidecar for another URL is not trusted', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    const partial = cache.partialPath(srv.url + P);
    await mkdir(dirname(partial), { recursive: true });
    await writeFile(partial, BODY.subarray(0, 5000));
    await writeFile(`${partial}.json`, JSON.stringify({ url: 'http://127.0.0.1:1/other', etag: etagOf(BODY) }));
    await fetchTarball(opts(srv.url + P));
    expect(srv.requests[0]!.headers.range).toBeUndefined();
  });

  it('a resumed partial that turns out wrong is discarded and fetched once more from 0, not blamed on the source', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    const partial = cache.partialPath(srv.url + P);
    await mkdir(dirname(partial), { recursive: true });
    // Same validator, wrong bytes (e.g. bit rot in the partial): the 206 splices garbage.
    await writeFile(partial, Buffer.alloc(5000, 0x41));
    await writeFile(`${partial}.json`, JSON.stringify({ url: srv.url + P, etag: etagOf(BODY), total: SIZE }));
    expect((await fetchTarball(opts(srv.url + P))).integrity).toBe(SRI);
    expect(srv.requests.map((r) => r.headers.range)).toEqual(['bytes=5000-', undefined]);
  });
});

describe('cache index', () => {
  it('indexes the object under tarball:<url> with where it came from', async () => {
    const srv = await server();
    const { cache, opts } = await setup();
    await fetchTarball(opts(srv.url + P));
    const info = await cacache.get.info(cache.contentDir, `tarball:${srv.url + P}`);
    expect(info?.integrity).toBe(SRI);
    expect(info?.metadata).toEqual({ url: srv.url + P, source: srv.url + P });
  });
});
