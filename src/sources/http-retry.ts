/**
 * When and how long to wait before trying an HTTP source again.
 *
 * Policy: only transient failures are retried — connection
 * errors, timeouts, and 408/429/500/502/503/504. Delays grow exponentially with full
 * jitter (a random delay in [0, min(cap, base·2^n)]), so many clients that failed together
 * do not come back together. A server's Retry-After wins over the computed delay but is
 * capped, so a hostile server cannot park us for hours. Attempts and total time per URL
 * are bounded.
 */

export interface RetryOptions {
  /** Retries after the first attempt, per source URL. */
  retries?: number;
  /** First backoff step. */
  baseDelayMs?: number;
  /** Largest computed backoff. */
  maxDelayMs?: number;
  /** Largest wait a Retry-After header may impose. */
  maxRetryAfterMs?: number;
  /** Wait function (tests inject one that records and returns at once). */
  sleep?: (ms: number) => Promise<void>;
  /** Random source in [0, 1) for jitter (tests inject a constant). */
  random?: () => number;
}

export type ResolvedRetry = Required<RetryOptions>;

export const DEFAULT_RETRY: ResolvedRetry = {
  retries: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  random: Math.random,
};

export const resolveRetry = (o: RetryOptions = {}): ResolvedRetry => ({
  ...DEFAULT_RETRY,
  ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
});

/** HTTP statuses worth another try: the server may answer differently in a moment. */
export const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Retry-After is either delta-seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, o: ResolvedRetry, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, o.maxRetryAfterMs);
  const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  return Math.floor(o.random() * ceiling);
}
