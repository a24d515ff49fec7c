import * as z from 'zod/mini';
import './zod-messages.js';

/**
 * Checks several modules share: one definition each, so they cannot drift apart.
 */

/** A full SHA-1 commit id (40 hex); the form every lock records. */
export const FULL_COMMIT_SHA1 = /^[0-9a-f]{40}$/;
/** A full commit id of either object format (SHA-1 or SHA-256). */
export const FULL_COMMIT_ANY = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export const isFullCommit = (s: string): boolean => FULL_COMMIT_SHA1.test(s);

export const commitId = z.string().check(z.regex(FULL_COMMIT_SHA1, 'expected a 40-hex commit id'));

/**
 * Hosts that never leave this machine: 127.0.0.0/8, ::1 (bracketed as in a URL, or bare)
 * and localhost. `hostname` as `new URL()` gives it.
 */
export function isLoopbackHost(hostname: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|::1|localhost)$/i.test(hostname);
}

/**
 * The key path of the first object key named like a piece of Object.prototype's plumbing
 * (`__proto__`, `constructor`, `prototype`) in parsed config or JSON, if any. zod's
 * records drop a `__proto__` key without a word, and a component named `constructor` reads
 * as present in every lock (`lock.components.constructor` is Object's constructor), so
 * inputs from outside are refused such keys before they are used.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function reservedKeyPath(
  value: unknown,
  path: (string | number)[] = [],
  depth = 0,
): (string | number)[] | undefined {
  if (!value || typeof value !== 'object' || depth > 64) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = reservedKeyPath(value[i], [...path, i], depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  for (const k of Object.keys(value)) {
    if (RESERVED_KEYS.has(k)) return [...path, k];
    const p = reservedKeyPath((value as Record<string, unknown>)[k], [...path, k], depth + 1);
    if (p) return p;
  }
  return undefined;
}
