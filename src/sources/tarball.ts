/**
 * Fetch a tarball (any downloaded file) into the verified cache.
 *
 * Order of business:
 *   1. With an expected integrity, the cache is consulted first and its copy re-hashed; a
 *      corrupt copy is removed (warning) and fetched again. Offline stops here.
 *   2. Sources: each mirror (`<mirror>/<basename of url>`) in order, then the URL itself.
 *   3. Per source: retries with backoff on transient failures (resuming the partial file),
 *      the next source on a 4xx, a policy refusal or wrong bytes — wrong bytes are never
 *      fetched again from the source that served them.
 *   4. Bytes go to the per-URL partial file while hashed, are checked against the
 *      expected integrity and size, and only then copied into the store. Unverified bytes
 *      are never published.
 *
 * Transport policy:
 *   - https is always allowed, with Node's TLS verification (never disabled; `extraCa` adds
 *     trusted roots, it does not relax checking).
 *   - plain http is allowed only when the caller pins the integrity (`expected`), because
 *     then the bytes are checked whatever the transport; or, for tests and demos, when
 *     `allowHttp` is set *and* the host is loopback (127.0.0.0/8, ::1, localhost).
 *   - redirects are followed by hand: ≤ 10 hops, no loops, never https → http, and
 *     credentials (URL userinfo, `headers.authorization`/`cookie`) go only to the source's
 *     own origin.
 */
import { isLoopbackHost } from '../util/patterns.js';
import { rootCertificates } from 'node:tls';
import { type Cache, urlKey } from '../content-cache/cache.js';
import { ExitCode, XenrelError } from '../errors.js';
import type { ProgressSink } from '../types.js';
import { discardPartial, downloadOnce, SourceFailure, type DownloadContext } from './http-download.js';
import { algorithmsFor, checkCachedContent, integrityOf, parseExpectedIntegrity, publishFile } from './http-content.js';
import { backoffDelay, resolveRetry, type RetryOptions } from './http-retry.js';
import { assertTlsVerification } from './transport-policy.js';

export {
  openVerifiedContent,
  hasVerifiedContent,
  copyContentTo,
  checkCachedContent,
  parseExpectedIntegrity,
} from './http-content.js';
export type { RetryOptions } from './http-retry.js';

export interface TimeoutOptions {
  /** TCP/TLS connect. */
  connectMs?: number;
  /** Request sent → response headers. */
  headersMs?: number;
  /** Silence between body chunks. */
  idleMs?: number;
  /** All attempts at one source URL together. */
  perUrlMs?: number;
}

export const DEFAULT_TIMEOUTS: Required<TimeoutOptions> = {
  connectMs: 30_000,
  headersMs: 30_000,
  idleMs: 30_000,
  perUrlMs: 15 * 60_000,
};

export interface FetchTarballOptions {
  /** Component name, for messages and progress. */
  name: string;
  url: string;
  /** Base URLs; tried in order before `url`. */
  mirrors: string[];
  /** What the bytes must be (from the lock or the config). Without it (first lock) they are hashed and stored as they come. */
  expected?: { integrity: string; size?: number };
  cache: Cache;
  /** Never open a connection. */
  offline?: boolean;
  /** `mirrors-only`: never the URL itself (`--premirror-only`). */
  sourcesMode?: 'mirrors-then-url' | 'url-only' | 'mirrors-only';
  /** Consult the cache before the network (default true). */
  useCache?: boolean;
  progress?: ProgressSink;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Allow plain http to loopback hosts without a pinned integrity (tests, demo). */
  allowHttp?: boolean;
  /** Extra request headers (e.g. authorization); credentials are sent to the source's own origin only. */
  headers?: Record<string, string>;
  /** Additional trusted CA certificates (PEM), on top of Node's roots. Verification stays on. */
  extraCa?: string | string[];
  /** Cancels everything (e.g. on SIGINT). */
  signal?: AbortSignal;
  /** Cross-process lock tuning (tests use a short stale time after SIGKILL). */
  lock?: { staleMs?: number; waitMs?: number };
}

export interface FetchTarballResult {
  /** `sha512-…` SRI of the bytes. */
  integrity: string;
  /** sha256 of the bytes, hex (for the shim). */
  sha256: string;
  size: number;
  /** URL that served the bytes, or `cache` when they were already held. */
  source: string;
  cached: boolean;
}

/** One failed source, as reported to the user. */
export interface SourceAttempt {
  url: string;
  code: string;
  message: string;
  actual?: string;
}

/** `<mirror>/<basename of url>`. */
export function mirrorCandidate(mirror: string, url: string): string {
  const base = new URL(url).pathname.split('/').pop() ?? '';
  return `${mirror.replace(/\/+$/, '')}/${base}`;
}

export function sourceCandidates(o: Pick<FetchTarballOptions, 'url' | 'mirrors' | 'sourcesMode'>): string[] {
  const fromMirrors = o.mirrors.map((m) => mirrorCandidate(m, o.url));
  const list =
    o.sourcesMode === 'url-only' ? [o.url] : o.sourcesMode === 'mirrors-only' ? fromMirrors : [...fromMirrors, o.url];
  return [...new Set(list)];
}

/** Split URL userinfo off into an Authorization header (sent to that origin only). */
function credentialsFor(
  url: string,
  headers: Record<string, string> = {},
): { url: string; creds?: DownloadContext['credentials']; plain: Record<string, string> } {
  const u = new URL(url);
  const creds: Record<string, string> = {};
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    (/^(authorization|cookie|proxy-authorization)$/i.test(k) ? creds : plain)[k.toLowerCase()] = v;
  if (u.username || u.password) {
    creds.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { url: u.href, plain, creds: Object.keys(creds).length ? { origin: u.origin, headers: creds } : undefined };
}

const redact = (url: string) => {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.href;
  } catch {
    return url;
  }
};

export async function fetchTarball(opts: FetchTarballOptions): Promise<FetchTarballResult> {
  const { name, cache, progress } = opts;
  const expected = opts.expected ? parseExpectedIntegrity(opts.expected.integrity, `component ${name}`) : undefined;
  const useCache = opts.useCache !== false;
  await cache.init();

  const fromCache = async (): Promise<FetchTarballResult | undefined> => {
    if (!expected || !useCache) return undefined;
    const c = await checkCachedContent(cache, expected);
    if (c.status === 'corrupt')
      progress?.warn?.(
        `${name}: the cached copy of ${opts.url} was corrupt (bytes no longer match ${opts.expected!.integrity}); removed it, fetching again`,
      );
    if (c.status !== 'ok') return undefined;
    if (opts.expected!.size !== undefined && c.size !== opts.expected!.size) return undefined;
    return { integrity: c.integrity!, sha256: c.sha256!, size: c.size!, source: 'cache', cached: true };
  };

  const hit = await fromCache();
  if (hit) {
    progress?.done?.(name, 'cached');
    return hit;
  }
  if (opts.offline)
    throw new XenrelError(
      'E_OFFLINE_MISSING',
      `component ${name}: ${redact(opts.url)} is not in the cache and --offline forbids downloading it`,
      {
        exitCode: ExitCode.fetch,
        hint: expected
          ? 'run `xenrel fetch` with network access first'
          : 'lock it first (`xenrel lock`) with network access',
        details: { component: name, url: redact(opts.url) },
      },
    );

  // Never silently: a disabled TLS check from the environment stops the download.
  assertTlsVerification(`component ${name}`);
  const retry = resolveRetry(opts.retry);
  const timeouts = {
    ...DEFAULT_TIMEOUTS,
    ...Object.fromEntries(Object.entries(opts.timeouts ?? {}).filter(([, v]) => v !== undefined)),
  };
  const extraCa = opts.extraCa === undefined ? [] : Array.isArray(opts.extraCa) ? opts.extraCa : [opts.extraCa];
  // A private agent: no global dispatcher changes, and destroying it closes every socket
  // (a stalled server cannot keep the process alive). undici loads only when a download
  // starts: it is a tenth of a second of start-up that a cached fetch never needs.
  const { Agent } = await import('./http-agent.js');
  const agent = new Agent({
    connect: { timeout: timeouts.connectMs, ...(extraCa.length ? { ca: [...rootCertificates, ...extraCa] } : {}) },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.idleMs,
  });

  const failures: SourceAttempt[] = [];
  try {
    for (const candidate of sourceCandidates(opts)) {
      const { url, creds, plain } = credentialsFor(candidate, opts.headers);
      try {
        return await cache.withLock(
          `tarball-${urlKey(url)}`,
          async () => {
            // Another process may have stored it while we waited for the lock.
            const again = await fromCache();
            if (again) return again;
            return await fetchFromSource(url, creds, plain);
          },
          opts.lock,
        );
      } catch (err) {
        if (!(err instanceof SourceFailure)) throw err;
        if (err.kind === 'fatal')
          throw err.extra.error ?? new XenrelError(err.code, err.message, { exitCode: ExitCode.fetch, cause: err });
        failures.push({
          url: redact(candidate),
          code: err.code,
          message: err.message,
          ...(err.extra.actual ? { actual: err.extra.actual } : {}),
        });
        if (err.kind === 'integrity')
          progress?.warn?.(
            `${name}: ${redact(candidate)} served the wrong bytes (${err.extra.actual ?? err.code}); trying the next source`,
          );
        else progress?.info?.(`${name}: ${err.message}`);
      }
    }
  } finally {
    await agent.destroy().catch(() => {});
  }
  progress?.done?.(name, 'failed');
  throw combinedError(name, opts, failures);

  async function fetchFromSource(
    url: string,
    creds: DownloadContext['credentials'],
    plain: Record<string, string>,
  ): Promise<FetchTarballResult> {
    const partial = cache.partialPath(url);
    const deadline = new AbortController();
    const timer = setTimeout(
      () =>
        deadline.abort(
          new SourceFailure('source', 'E_TIMEOUT', `${url}: gave up after ${timeouts.perUrlMs} ms in total`),
        ),
      timeouts.perUrlMs,
    );
    const onCancel = () => deadline.abort(new SourceFailure('fatal', 'E_ABORTED', `fetching ${name} was cancelled`));
    opts.signal?.addEventListener('abort', onCancel, { once: true });
    const started = Date.now();
    const ctx: DownloadContext = {
      name,
      dispatcher: agent,
      headersTimeoutMs: timeouts.headersMs,
      idleTimeoutMs: timeouts.idleMs,
      signal: deadline.signal,
      httpAllowed: (u) => expected !== undefined || (opts.allowHttp === true && isLoopbackHost(u.hostname)),
      credentials: creds,
      headers: plain,
      expectedSize: opts.expected?.size,
      algorithms: algorithmsFor(expected),
      progress,
    };
    let retriedFresh = false;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const dl = await downloadOnce(ctx, url, partial);
          const sri512 = `sha512-${dl.digests.sha512}`;
          const actual = integrityOf(dl.digests);
          if (expected && !expected.match(actual)) {
            await discardPartial(partial);
            // A resumed partial might be what is wrong, not the source: one fresh try.
            if (dl.resumed && !retriedFresh) {
              retriedFresh = true;
              continue;
            }
            throw new SourceFailure('integrity', 'E_INTEGRITY', `${dl.finalUrl}: got ${sri512}`, { actual: sri512 });
          }
          if (opts.expected?.size !== undefined && dl.size !== opts.expected.size) {
            await discardPartial(partial);
            throw new SourceFailure(
              'integrity',
              'E_SIZE_MISMATCH',
              `${dl.finalUrl}: got ${dl.size} bytes, the lock says ${opts.expected.size}`,
              { actual: `${dl.size} bytes` },
            );
          }
          try {
            await publishFile(cache, partial, {
              sri512,
              size: dl.size,
              key: `tarball:${opts.url}`,
              metadata: { url: redact(opts.url), source: redact(dl.finalUrl) },
              expected,
            });
          } catch (err) {
            await discardPartial(partial);
            throw new SourceFailure('fatal', (err as XenrelError).code ?? 'E_FS', String(err), {
              error: err instanceof XenrelError ? err : undefined,
              cause: err,
            });
          }
          await discardPartial(partial);
          progress?.done?.(name, 'fetched');
          return {
            integrity: sri512,
            sha256: Buffer.from(dl.digests.sha256!, 'base64').toString('hex'),
            size: dl.size,
            source: redact(dl.finalUrl),
            cached: false,
          };
        } catch (err) {
          if (!(err instanceof SourceFailure)) throw err;
          if (err.kind !== 'transient' || attempt >= retry.retries) throw err;
          const delay = backoffDelay(attempt, retry, err.extra.retryAfterMs);
          if (Date.now() - started + delay > timeouts.perUrlMs) throw err;
          progress?.info?.(`${name}: ${err.message}; retrying in ${delay} ms (${attempt + 1}/${retry.retries})`);
          await retry.sleep(delay);
          if (deadline.signal.aborted)
            throw deadline.signal.reason instanceof SourceFailure ? deadline.signal.reason : err;
        }
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCancel);
    }
  }
}

function combinedError(name: string, opts: FetchTarballOptions, failures: SourceAttempt[]): XenrelError {
  // Transport messages already start with the URL; say it once.
  const lines = failures
    .map((f) => {
      const what = f.actual && f.code === 'E_INTEGRITY' ? `got ${f.actual}` : f.message;
      return `  ${what.startsWith(`${f.url}`) ? what : `${f.url}: ${what}`}`;
    })
    .join('\n');
  const mismatch = failures.some((f) => f.code === 'E_INTEGRITY' || f.code === 'E_SIZE_MISMATCH');
  const codes = [...new Set(failures.map((f) => f.code))];
  const details = { component: name, url: redact(opts.url), expected: opts.expected?.integrity, attempts: failures };
  if (opts.sourcesMode === 'mirrors-only' && !mismatch)
    return new XenrelError(
      'E_PREMIRROR_MISSING',
      `component ${name}: ${redact(opts.url)} is in no mirror, and --premirror-only forbids downloading it from there${failures.length ? `\n${lines}` : ' (no mirrors: configured)'}`,
      {
        exitCode: ExitCode.fetch,
        hint: 'add it to the mirror (`xenrel mirror DIR` on a machine that has it), or fetch without --premirror-only',
        details,
      },
    );
  if (mismatch)
    return new XenrelError(
      // Size alone when no source got as far as the bytes' hash.
      failures.some((f) => f.code === 'E_INTEGRITY') ? 'E_INTEGRITY' : 'E_SIZE_MISMATCH',
      `component ${name}: no source served the expected bytes (expected ${opts.expected!.integrity}${opts.expected!.size !== undefined ? `, ${opts.expected!.size} bytes` : ''})\n${lines}`,
      {
        exitCode: ExitCode.fetch,
        hint: `the upstream file or a mirror changed or is corrupt; if the change is legitimate, re-lock with \`xenrel lock --update ${name}\``,
        details,
      },
    );
  // Each failure class keeps its own code; with several sources, the last one tried (the
  // upstream URL, after the mirrors) says why the download failed in the end.
  const code = codes.length === 1 ? codes[0]! : failures[failures.length - 1]!.code;
  const hint =
    code === 'E_INSECURE_REDIRECT' || code === 'E_INSECURE_URL'
      ? 'use an https URL, or pin the integrity in the lock/config so plain http can be checked'
      : code === 'E_TLS'
        ? 'the server certificate could not be verified; xenrel does not turn verification off'
        : 'check the URL and mirrors in the config, or your network, and run the command again';
  return new XenrelError(code, `component ${name}: could not download ${redact(opts.url)}\n${lines}`, {
    exitCode: ExitCode.fetch,
    hint,
    details,
  });
}
