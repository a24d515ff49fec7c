/**
 * The fetcher over real TLS on 127.0.0.1 with certificates made by `openssl` at test time:
 * verification fails closed, https → http redirects are
 * refused, and credentials never cross to another origin.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import ssri from 'ssri';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/content-cache/cache.js';
import { XenrelError } from '../../src/errors.js';
import { fetchTarball, hasVerifiedContent, type FetchTarballOptions } from '../../src/sources/tarball.js';
import { makeSelfSignedCert, startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { tempDirs } from '../helpers/tmp.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const dirs = tempDirs();
const servers: TestHttpServer[] = [];
const BODY = randomBytes(50_000);
const SRI = ssri.fromData(BODY, { algorithms: ['sha512'] }).toString();
const P = '/x/lib-3.1.tar.gz';
let good: { key: string; cert: string };
let wrongHost: { key: string; cert: string };

beforeAll(async () => {
  if (!hasOpenssl) return;
  const d = await dirs.make('xenrel-certs-');
  good = (await makeSelfSignedCert(d))!;
  wrongHost = (await makeSelfSignedCert(d, ['DNS:wrong.example']))!;
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => dirs.cleanup());

async function serve(tls?: { key: string; cert: string }) {
  const s = await startHttpServer({ files: { [P]: BODY }, tls });
  servers.push(s);
  return s;
}

async function opts(url: string, more: Partial<FetchTarballOptions> = {}): Promise<FetchTarballOptions> {
  return {
    name: 'lib',
    url,
    mirrors: [],
    cache: new Cache(await dirs.make('xenrel-cache-')),
    retry: { retries: 2, sleep: async () => {} },
    ...more,
  };
}

async function rejects(p: Promise<unknown>): Promise<XenrelError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(XenrelError);
  return err as XenrelError;
}

describe.skipIf(!hasOpenssl)('tarball fetch over TLS', () => {
  it('6.9 a self-signed certificate fails closed: E_TLS, exit 3, no HTTP request, not retried, nothing stored', async () => {
    const srv = await serve(good);
    const o = await opts(srv.url + P, { expected: { integrity: SRI } });
    const e = await rejects(fetchTarball(o));
    expect(e.code).toBe('E_TLS');
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/TLS verification failed for https:\/\/127\.0\.0\.1:\d+\/x\/lib-3\.1\.tar\.gz/);
    expect(e.hint).toMatch(/does not turn verification off/);
    expect(srv.requests).toHaveLength(0);
    expect(srv.connections).toBe(1); // a certificate problem is not retried
    expect(await hasVerifiedContent(o.cache, SRI)).toBe(false);
  });

  it('6.9 a trusted certificate for another host name fails closed', async () => {
    const srv = await serve(wrongHost);
    const e = await rejects(fetchTarball(await opts(srv.url + P, { extraCa: wrongHost.cert })));
    expect(e.code).toBe('E_TLS');
    expect(e.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
    expect(srv.requests).toHaveLength(0);
  });

  it('with the CA trusted, https works without a pinned integrity (and without allowHttp)', async () => {
    const srv = await serve(good);
    const r = await fetchTarball(await opts(srv.url + P, { extraCa: good.cert }));
    expect(r).toMatchObject({ integrity: SRI, source: srv.url + P, cached: false });
  });

  it('6.8 https → http redirect: E_INSECURE_REDIRECT, the http server is never asked (even with a pinned integrity)', async () => {
    const plain = await serve();
    const secure = await serve(good);
    secure.setFault('/a', { kind: 'redirect', to: plain.url + P });
    for (const expected of [undefined, { integrity: SRI }]) {
      const e = await rejects(
        fetchTarball(await opts(`${secure.url}/a`, { extraCa: good.cert, expected, allowHttp: true })),
      );
      expect(e.code).toBe('E_INSECURE_REDIRECT');
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain(`to ${plain.url + P}`);
    }
    expect(secure.requestsFor('/a')).toHaveLength(2); // one per fetch: a policy refusal is not retried
    expect(plain.requests).toHaveLength(0);
  });

  it('6.8 a cross-origin https redirect is followed; Authorization and Cookie stay with the first origin', async () => {
    const a = await serve(good);
    const b = await serve(good);
    a.setFault('/a', { kind: 'redirect', to: b.url + P, status: 302 });
    const r = await fetchTarball(
      await opts(`${a.url}/a`, { extraCa: good.cert, headers: { authorization: 'Bearer t0ken', cookie: 'id=7' } }),
    );
    expect(r.source).toBe(b.url + P);
    expect(a.requests[0]!.headers.authorization).toBe('Bearer t0ken');
    expect(a.requests[0]!.headers.cookie).toBe('id=7');
    expect(b.requests[0]!.headers.authorization).toBeUndefined();
    expect(b.requests[0]!.headers.cookie).toBeUndefined();
  });

  it('a mirror with a bad certificate is skipped for the next source', async () => {
    const badMirror = await serve(wrongHost);
    const origin = await serve(good);
    const r = await fetchTarball(
      await opts(origin.url + P, { extraCa: good.cert, mirrors: [`${badMirror.url}/x`], expected: { integrity: SRI } }),
    );
    expect(r.source).toBe(origin.url + P);
    expect(badMirror.requests).toHaveLength(0);
  });
});
