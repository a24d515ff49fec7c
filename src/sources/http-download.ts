/**
 * One attempt at downloading one source URL into its partial file: redirects followed by
 * hand (so every hop is checked), resume with Range + If-Range, every length the server
 * states cross-checked, bytes hashed as they are written. Failures are thrown as
 * SourceFailure, classified so the caller knows whether to retry, try the next source,
 * or stop.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { wrapFsError, type XenrelError } from '../errors.js';
import type { ProgressSink } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { XENREL_VERSION } from '../version.js';
import { httpGet, type RawResponse } from './http-get.js';
import { parseRetryAfter, TRANSIENT_STATUSES } from './http-retry.js';

/**
 * - `transient`: try the same source again (resuming when possible);
 * - `source`: this source is bad for this object (4xx, redirect policy, TLS): next source;
 * - `integrity`: the bytes are not the expected ones: next source, never the same again;
 * - `fatal`: stop everything (disk full, cancelled).
 */
export type FailureKind = 'transient' | 'source' | 'integrity' | 'fatal';

export class SourceFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly code: string,
    message: string,
    readonly extra: { retryAfterMs?: number; actual?: string; cause?: unknown; error?: XenrelError } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
  }
}

export const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TLS_CODES =
  /^(CERT_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(VERIFY|GET)_|ERR_SSL_)/;

/** What the sidecar `<partial>.json` records so a later attempt (or run) can resume safely. */
export interface PartialMeta {
  /** The source URL the partial belongs to (before redirects). */
  url: string;
  /** Strong ETag of the object the partial bytes came from. */
  etag?: string;
  lastModified?: string;
  /** Full size of the object, when the server said. */
  total?: number;
}

export interface DownloadContext {
  name: string;
  dispatcher: Dispatcher;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  /** Aborts the attempt (per-URL deadline or the caller's signal). */
  signal: AbortSignal;
  /** May this http: URL be used? (https: always may.) */
  httpAllowed(url: URL): boolean;
  /** Headers sent to every hop. */
  headers?: Record<string, string>;
  /** Credentials sent only to `origin` (the source URL's own origin), never to another. */
  credentials?: { origin: string; headers: Record<string, string> };
  expectedSize?: number;
  algorithms: string[];
  progress?: ProgressSink;
  /** Set once progress.start has been called. */
  started?: boolean;
}

export interface DownloadResult {
  finalUrl: string;
  size: number;
  /** base64 digest per algorithm. */
  digests: Record<string, string>;
  /** The attempt began by resuming an earlier partial. */
  resumed: boolean;
}

export const sidecarPath = (partial: string) => `${partial}.json`;

export async function discardPartial(partial: string): Promise<void> {
  await unlink(partial).catch(() => {});
  await unlink(sidecarPath(partial)).catch(() => {});
}

async function readMeta(partial: string): Promise<PartialMeta | undefined> {
  try {
    return JSON.parse(await readFile(sidecarPath(partial), 'utf8')) as PartialMeta;
  } catch {
    return undefined;
  }
}

/** Bytes of a partial we may resume from, or 0 (and the partial is discarded). */
async function resumableOffset(partial: string, url: string): Promise<{ offset: number; meta?: PartialMeta }> {
  const meta = await readMeta(partial);
  const size = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (
    !meta ||
    meta.url !== url ||
    !(meta.etag || meta.lastModified) ||
    size === 0 ||
    (meta.total !== undefined && size > meta.total)
  ) {
    await discardPartial(partial);
    return { offset: 0 };
  }
  return { offset: size, meta };
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

const isStrongEtag = (e: string | undefined): e is string => !!e && e.startsWith('"');

function classifyNetworkError(err: unknown, url: string, received: number, ctx: DownloadContext): SourceFailure {
  if (err instanceof SourceFailure) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (ctx.signal.aborted) {
    const reason = ctx.signal.reason;
    if (reason instanceof SourceFailure) return reason;
    return new SourceFailure('fatal', 'E_ABORTED', `download of ${url} was cancelled`, { cause: err });
  }
  const code = String(e?.code ?? '');
  const msg = e?.message ?? String(err);
  if (TLS_CODES.test(code))
    return new SourceFailure('source', 'E_TLS', `TLS verification failed for ${url}: ${code} ${msg}`, { cause: err });
  if (code === 'UND_ERR_BODY_TIMEOUT')
    return new SourceFailure(
      'transient',
      'E_IDLE_TIMEOUT',
      `${url}: no data for ${ctx.idleTimeoutMs} ms after ${received} bytes`,
      { cause: err },
    );
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT')
    return new SourceFailure('transient', 'E_TIMEOUT', `${url}: ${msg}`, { cause: err });
  if (code === 'ENOTFOUND') return new SourceFailure('source', 'E_DNS', `${url}: host not found`, { cause: err });
  if (received > 0 || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')
    return new SourceFailure(
      'transient',
      'E_TRUNCATED',
      `${url}: connection closed after ${received} bytes (${code || msg})`,
      { cause: err },
    );
  if (/^(ECONN|EPIPE|EAI_AGAIN|ENETUNREACH|ENETDOWN|EHOST|UND_ERR_CLOSED|UND_ERR_DESTROYED|HPE_)/.test(code))
    return new SourceFailure('transient', 'E_CONNECTION', `${url}: ${code} ${msg}`, { cause: err });
  return new SourceFailure('transient', 'E_CONNECTION', `${url}: ${code ? `${code} ` : ''}${msg}`, { cause: err });
}

/** `bytes a-b/total` (total may be `*`). */
function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = v && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

async function seedHashes(partial: string, hashes: Hash[], bytes: number): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(partial, { start: 0, end: bytes - 1 }))
    for (const h of hashes) h.update(chunk as Buffer);
}

/**
 * Follow redirects by hand from `sourceUrl`: at most MAX_REDIRECTS hops, no URL twice,
 * never from https to anything else, and credentials only to the source's own origin.
 */
async function requestFollowing(
  ctx: DownloadContext,
  sourceUrl: string,
  extraHeaders: Record<string, string>,
): Promise<{ res: RawResponse; url: URL }> {
  let url = new URL(sourceUrl);
  const seen = new Set([url.href]);
  for (let hop = 0; ; hop++) {
    if (url.protocol === 'http:' && !ctx.httpAllowed(url))
      throw new SourceFailure(
        'source',
        'E_INSECURE_URL',
        `${url.href}: plain http is accepted only when the lock pins the integrity`,
      );
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new SourceFailure('source', 'E_INSECURE_URL', `${url.href}: only https (and pinned http) URLs are fetched`);
    const headers: Record<string, string> = {
      'user-agent': `xenrel/${XENREL_VERSION}`,
      'accept-encoding': 'identity',
      ...ctx.headers,
      ...extraHeaders,
      ...(ctx.credentials && url.origin === ctx.credentials.origin ? ctx.credentials.headers : {}),
    };
    const res = await httpGet(ctx.dispatcher, url, {
      headers,
      headersTimeout: ctx.headersTimeoutMs,
      bodyTimeout: ctx.idleTimeoutMs,
      signal: ctx.signal,
    });
    if (!REDIRECT_STATUSES.has(res.statusCode)) return { res, url };
    await res.discard();
    const loc = header(res.headers, 'location');
    if (!loc)
      throw new SourceFailure(
        'source',
        'E_HTTP_STATUS',
        `${url.href}: HTTP ${res.statusCode} without a Location header`,
      );
    const next = new URL(loc, url);
    if (url.protocol === 'https:' && next.protocol !== 'https:')
      throw new SourceFailure(
        'source',
        'E_INSECURE_REDIRECT',
        `${sourceUrl}: refused redirect from ${url.href} to ${next.href} (https to ${next.protocol.replace(':', '')})`,
      );
    if (seen.has(next.href))
      throw new SourceFailure(
        'source',
        'E_REDIRECT_LOOP',
        `${sourceUrl}: redirect loop (${url.href} → ${next.href} was already visited)`,
      );
    if (hop + 1 > MAX_REDIRECTS)
      throw new SourceFailure('source', 'E_TOO_MANY_REDIRECTS', `${sourceUrl}: more than ${MAX_REDIRECTS} redirects`);
    seen.add(next.href);
    url = next;
  }
}

/**
 * Download `sourceUrl` into `partial` (resuming it when its sidecar allows), returning the
 * digests of the whole file. Leaves a resumable partial behind on transient failures when
 * the server gave a validator; discards it otherwise.
 */
export async function downloadOnce(ctx: DownloadContext, sourceUrl: string, partial: string): Promise<DownloadResult> {
  let { offset, meta } = await resumableOffset(partial, sourceUrl);
  const extra: Record<string, string> = {};
  if (offset > 0 && meta) {
    extra.range = `bytes=${offset}-`;
    extra['if-range'] = meta.etag ?? meta.lastModified!;
  }

  let received = 0;
  let res: RawResponse;
  let finalUrl: URL;
  try {
    ({ res, url: finalUrl } = await requestFollowing(ctx, sourceUrl, extra));
  } catch (err) {
    throw classifyNetworkError(err, sourceUrl, 0, ctx);
  }
  const where = finalUrl.href === sourceUrl ? sourceUrl : `${sourceUrl} (redirected to ${finalUrl.href})`;
  const status = res.statusCode;
  const h = res.headers;
  const fail = async (f: SourceFailure, discard = false): Promise<never> => {
    await res.discard();
    if (discard) await discardPartial(partial);
    throw f;
  };

  if (TRANSIENT_STATUSES.has(status))
    await fail(
      new SourceFailure('transient', 'E_HTTP_STATUS', `${where}: HTTP ${status}`, {
        retryAfterMs: parseRetryAfter(h['retry-after']),
      }),
    );
  if (status === 416)
    // Our partial does not fit the object any more: start over.
    await fail(
      new SourceFailure(
        'transient',
        'E_RANGE',
        `${where}: HTTP 416 for ${extra.range}; discarding the partial download`,
      ),
      true,
    );
  if (status !== 200 && status !== 206)
    await fail(new SourceFailure('source', 'E_HTTP_STATUS', `${where}: HTTP ${status}`));

  const etag = header(h, 'etag');
  const lastModified = header(h, 'last-modified');
  const clHeader = header(h, 'content-length');
  const declared = clHeader !== undefined && /^\d+$/.test(clHeader) ? Number(clHeader) : undefined;
  let total: number | undefined;

  if (status === 206) {
    const cr = parseContentRange(header(h, 'content-range'));
    const problem = !extra.range
      ? 'a 206 answer to a request without Range'
      : !cr
        ? `an unreadable Content-Range "${header(h, 'content-range') ?? ''}"`
        : cr.start !== offset
          ? `Content-Range starting at ${cr.start}, not ${offset}`
          : (cr.total !== undefined && meta?.total !== undefined && cr.total !== meta.total) ||
              (cr.total !== undefined && cr.end !== cr.total - 1)
            ? `Content-Range "${header(h, 'content-range')}" that does not fit the object (${meta?.total ?? '?'} bytes)`
            : declared !== undefined && declared !== cr.end - cr.start + 1
              ? `Content-Length ${declared} that disagrees with Content-Range "${header(h, 'content-range')}"`
              : isStrongEtag(meta?.etag) && etag !== undefined && etag !== meta.etag
                ? `a different ETag (${etag}, partial is ${meta.etag})`
                : undefined;
    // Never splice: a range we did not ask for means the partial cannot be trusted.
    if (problem)
      await fail(
        new SourceFailure(
          'transient',
          'E_BAD_CONTENT_RANGE',
          `${where}: protocol error, ${problem}; discarding the partial download`,
        ),
        true,
      );
    total = cr!.total ?? meta?.total;
  } else {
    // 200: the server sent the whole object (a Range it ignored, or an If-Range that failed).
    if (offset > 0) {
      await discardPartial(partial);
      offset = 0;
      meta = undefined;
    }
    total = declared;
  }

  if (total !== undefined && ctx.expectedSize !== undefined && total !== ctx.expectedSize)
    await fail(
      new SourceFailure(
        'integrity',
        'E_SIZE_MISMATCH',
        `${where}: the server announces ${total} bytes, the lock says ${ctx.expectedSize}`,
        { actual: `${total} bytes` },
      ),
      true,
    );

  // Record the validator before the first byte lands, so a kill at any point leaves a
  // partial that can be resumed safely, or none.
  const validator = isStrongEtag(etag) ? { etag } : lastModified ? { lastModified } : undefined;
  try {
    if (offset === 0) {
      await discardPartial(partial);
      if (validator)
        await writeFileAtomic(
          sidecarPath(partial),
          JSON.stringify({ url: sourceUrl, ...validator, total } satisfies PartialMeta),
        );
    }
  } catch (err) {
    await res.discard();
    throw new SourceFailure('fatal', 'E_FS', String(err), {
      error: wrapFsError(err, `writing ${sidecarPath(partial)}`) as XenrelError,
      cause: err,
    });
  }

  const hashes = ctx.algorithms.map((a) => createHash(a));
  if (!ctx.started) {
    ctx.progress?.start?.(ctx.name, total ?? ctx.expectedSize);
    ctx.started = true;
  }
  let fd: number;
  try {
    await seedHashes(partial, hashes, offset);
    fd = openSync(partial, offset > 0 ? 'a' : 'w');
  } catch (err) {
    await res.discard();
    await discardPartial(partial);
    throw new SourceFailure('fatal', 'E_FS', String(err), {
      error: wrapFsError(err, `writing ${partial}`) as XenrelError,
      cause: err,
    });
  }

  const limit = ctx.expectedSize;
  // Synchronous writes: see http-get.ts (the parser must never be paused).
  const sink = (chunk: Buffer) => {
    received += chunk.length;
    if (declared !== undefined && received > declared)
      throw new SourceFailure(
        'source',
        'E_TOO_LONG',
        `${where}: more bytes than the ${declared} announced in Content-Length`,
      );
    if (limit !== undefined && offset + received > limit)
      throw new SourceFailure(
        'integrity',
        'E_SIZE_MISMATCH',
        `${where}: body exceeds the locked size of ${limit} bytes`,
        { actual: `more than ${limit} bytes` },
      );
    try {
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
    } catch (err) {
      throw new SourceFailure('fatal', 'E_FS', String(err), {
        error: wrapFsError(err, `writing ${partial}`) as XenrelError,
        cause: err,
      });
    }
    for (const hh of hashes) hh.update(chunk);
    ctx.progress?.advance?.(ctx.name, chunk.length);
  };
  try {
    await res.pipeTo(sink);
    if (declared !== undefined && received < declared)
      throw new SourceFailure(
        'transient',
        'E_TRUNCATED',
        `${where}: connection closed after ${received} of ${declared} bytes`,
      );
    if (total !== undefined && offset + received < total)
      throw new SourceFailure('transient', 'E_TRUNCATED', `${where}: got ${offset + received} of ${total} bytes`);
    if (limit !== undefined && offset + received < limit && declared === undefined)
      throw new SourceFailure(
        'transient',
        'E_TRUNCATED',
        `${where}: body ended after ${offset + received} of the locked ${limit} bytes`,
      );
  } catch (err) {
    closeSync(fd);
    const f = classifyNetworkError(err, where, received, ctx);
    // Keep the partial only if it can be resumed (validator recorded) and might be good.
    if (f.kind !== 'transient' || !validator) await discardPartial(partial);
    throw f;
  }
  closeSync(fd);
  // `resumed`: these bytes were spliced onto an earlier partial (a 206 we accepted).
  const resumed = offset > 0;
  const digests: Record<string, string> = {};
  for (const [i, a] of ctx.algorithms.entries()) digests[a] = hashes[i]!.digest('base64');
  return { finalUrl: finalUrl.href, size: offset + received, digests, resumed };
}
