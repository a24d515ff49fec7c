/**
 * Downloaded bytes in the cache: a cacache store (cache.contentDir) keyed by the sha512 SRI
 * of the bytes. Every read re-hashes what it reads: a corrupt object is an error, never
 * silently used; `checkCachedContent` removes it so the caller can fetch it again.
 *
 * Integrities pinned with sha256/sha384 only (a config `integrity:`) are found through an
 * index alias `alias:<sri>` → the sha512 SRI, written when the bytes are stored.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cacacheLib } from '../content-cache/cacache-lib.js';
import ssri from 'ssri';
import type { Cache } from '../content-cache/cache.js';
import { ExitCode, wrapFsError, XenrelError } from '../errors.js';
import { fsyncDir, writeFileAtomic } from '../util/atomic.js';

/** Only these algorithms are accepted in an expected integrity. */
export const ACCEPTED_ALGORITHMS = ['sha512', 'sha384', 'sha256'] as const;

/**
 * Parse an integrity the bytes must have: strict SRI, at least one sha256/sha384/sha512
 * digest. Anything else (empty, md5/sha1 only, garbage) is refused, never treated as
 * "no pin".
 */
export function parseExpectedIntegrity(integrity: string, what: string): ssri.IntegrityMap {
  const parsed = typeof integrity === 'string' ? ssri.parse(integrity, { strict: true }) : null;
  const algos = parsed ? Object.keys(parsed).filter((a) => (ACCEPTED_ALGORITHMS as readonly string[]).includes(a)) : [];
  if (!parsed || algos.length === 0)
    throw new XenrelError(
      'E_BAD_INTEGRITY',
      `${what}: integrity "${integrity}" is not a sha256/sha384/sha512 SRI string`,
      {
        exitCode: ExitCode.usage,
        hint: 'fix the integrity in the lockfile or config (e.g. `sha512-<base64>`), or re-run `xenrel lock`',
      },
    );
  // Keep only the accepted algorithms: a weak digest beside a strong one is ignored.
  return ssri.parse(algos.map((a) => parsed[a]!.map((h) => h.toString()).join(' ')).join(' '), { strict: true });
}

/** The algorithms to compute so that `expected` can be checked, plus sha512 and sha256 always. */
export function algorithmsFor(expected?: ssri.IntegrityMap): string[] {
  const set = new Set(['sha512', 'sha256']);
  if (expected?.sha384) set.add('sha384');
  return [...set];
}

/** An SRI holding each computed digest, for `expected.match(...)`. */
export const integrityOf = (digests: Record<string, string>) =>
  ssri.parse(
    Object.entries(digests)
      .map(([a, d]) => `${a}-${d}`)
      .join(' '),
    { strict: true },
  );

const aliasKey = (expected: ssri.IntegrityMap) => `alias:${expected.toString()}`;

/** The sha512 SRI under which the content for `expected` is (or would be) stored. */
async function storageIntegrity(cache: Cache, expected: ssri.IntegrityMap): Promise<string | undefined> {
  if (expected.sha512?.length) return expected.sha512[0]!.toString();
  const cacache = await cacacheLib();
  const entry = await cacache.get.info(cache.contentDir, aliasKey(expected)).catch(() => null);
  return entry?.integrity;
}

export interface CachedContent {
  status: 'ok' | 'missing' | 'corrupt';
  /** sha512 SRI, sha256 hex and size, when ok. */
  integrity?: string;
  sha256?: string;
  size?: number;
}

/**
 * Read the cached object for `expected` end to end, re-hashing it. A corrupt object (wrong
 * bytes, truncated, unreadable) is removed from the store and reported as `corrupt`.
 */
export async function checkCachedContent(cache: Cache, integrity: string | ssri.IntegrityMap): Promise<CachedContent> {
  const expected = typeof integrity === 'string' ? parseExpectedIntegrity(integrity, 'cached content') : integrity;
  const stored = await storageIntegrity(cache, expected);
  const cacache = await cacacheLib();
  if (!stored || !(await cacache.get.hasContent(cache.contentDir, stored))) return { status: 'missing' };
  const algos = algorithmsFor(expected);
  const hashes = algos.map((a) => createHash(a));
  let size = 0;
  try {
    // cacache checks the sha512 itself; we hash too, to check sha256/sha384 pins.
    for await (const chunk of cacache.get.stream.byDigest(cache.contentDir, stored)) {
      size += chunk.length;
      for (const h of hashes) h.update(chunk);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    await removeContent(cache, stored);
    return { status: 'corrupt' };
  }
  const digests = Object.fromEntries(algos.map((a, i) => [a, hashes[i]!.digest('base64')]));
  const actual = integrityOf(digests);
  if (!expected.match(actual) || `sha512-${digests.sha512}` !== stored) {
    await removeContent(cache, stored);
    return { status: 'corrupt' };
  }
  return {
    status: 'ok',
    integrity: `sha512-${digests.sha512}`,
    sha256: Buffer.from(digests.sha256!, 'base64').toString('hex'),
    size,
  };
}

async function removeContent(cache: Cache, stored: string): Promise<void> {
  const cacache = await cacacheLib();
  await cacache.rm.content(cache.contentDir, stored).catch(() => {});
}

/** True when the cache holds content for `integrity` that re-hashes right (a corrupt object is removed). */
export async function hasVerifiedContent(cache: Cache, integrity: string): Promise<boolean> {
  return (await checkCachedContent(cache, integrity)).status === 'ok';
}

const corruptError = (integrity: string, cause?: unknown) =>
  new XenrelError('E_INTEGRITY', `cached content ${integrity} is corrupt (its bytes no longer match their hash)`, {
    exitCode: ExitCode.fetch,
    hint: 'run `xenrel fetch` to download it again (the corrupt copy is ignored)',
    cause,
  });

const notCachedError = (cache: Cache, integrity: string) =>
  new XenrelError('E_NOT_CACHED', `content ${integrity} is not in the cache ${cache.root}`, {
    exitCode: ExitCode.fetch,
    hint: 'run `xenrel fetch` first',
  });

/** The sha256 and size of cached content, re-hashed end to end; an error when it is missing or corrupt. */
export async function requireCachedContent(cache: Cache, integrity: string): Promise<{ sha256: string; size: number }> {
  const r = await checkCachedContent(cache, integrity);
  if (r.status === 'ok') return { sha256: r.sha256!, size: r.size! };
  throw r.status === 'missing' ? notCachedError(cache, integrity) : corruptError(integrity);
}

/**
 * A stream of the cached bytes for `integrity`, verified as they are read: it errors with
 * E_INTEGRITY (after the last byte, before 'end') if they do not match, and with
 * E_NOT_CACHED if there is no such content. Consumers must not trust the bytes before 'end'.
 */
export function openVerifiedContent(cache: Cache, integrity: string): Readable {
  const out = new PassThrough();
  (async () => {
    const expected = parseExpectedIntegrity(integrity, 'cached content');
    const stored = await storageIntegrity(cache, expected);
    const cacache = await cacacheLib();
    if (!stored || !(await cacache.get.hasContent(cache.contentDir, stored))) throw notCachedError(cache, integrity);
    const check = ssri.integrityStream({ integrity: expected });
    const src = cacache.get.stream.byDigest(cache.contentDir, stored);
    // Not stream.pipeline: it would destroy `out` with the raw error before we can name it.
    const fail = (err: unknown) => {
      const code = (err as NodeJS.ErrnoException)?.code;
      out.destroy(code === 'EINTEGRITY' || code === 'EBADSIZE' ? corruptError(integrity, err) : (err as Error));
    };
    src.on('error', fail);
    check.on('error', fail);
    src.pipe(check).pipe(out);
  })().catch((err) => out.destroy(err instanceof XenrelError ? err : corruptError(integrity, err)));
  return out;
}

/**
 * Copy verified cached content to `destFile` atomically (temp, fsync, rename, fsync dir):
 * on any error, including a corrupt object, nothing appears under `destFile`.
 */
export async function copyContentTo(cache: Cache, integrity: string, destFile: string): Promise<void> {
  await writeFileAtomic(destFile, openVerifiedContent(cache, integrity));
}

/** cacache's content path for a sha512 SRI (its documented layout: content-v2/<algo>/<2>/<2>/<rest>). */
function contentFile(cache: Cache, sri512: string): string {
  const hex = Buffer.from(sri512.replace(/^sha512-/, ''), 'base64').toString('hex');
  return join(cache.contentDir, 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/**
 * Publish a verified file into the store under `sri512` (cacache re-checks the hash while
 * copying), index it under `key`, alias a non-sha512 pin, and make the content durable.
 */
export async function publishFile(
  cache: Cache,
  file: string,
  o: { sri512: string; size: number; key: string; metadata?: Record<string, unknown>; expected?: ssri.IntegrityMap },
): Promise<void> {
  const cacache = await cacacheLib();
  try {
    await pipeline(
      createReadStream(file),
      cacache.put.stream(cache.contentDir, o.key, {
        integrity: o.sri512,
        size: o.size,
        metadata: o.metadata,
        algorithms: ['sha512'],
      }),
    );
    if (o.expected && !o.expected.sha512?.length)
      await cacache.index.insert(cache.contentDir, aliasKey(o.expected), o.sri512, {
        size: o.size,
        metadata: o.metadata,
      });
    // cacache renames without fsync; make the content durable before anyone relies on it.
    const cf = contentFile(cache, o.sri512);
    const fh = await open(cf, 'r').catch(() => undefined);
    if (fh) {
      await fh.sync().catch(() => {});
      await fh.close();
      await fsyncDir(dirname(cf));
    }
  } catch (err) {
    throw wrapFsError(err, `storing ${o.key} in the cache ${cache.contentDir}`);
  }
}
