import { z } from 'zod';

/**
 * Checks several modules share: one definition each, so they cannot drift apart.
 */

/** A full SHA-1 commit id (40 hex); the form every lock records. */
export const FULL_COMMIT_SHA1 = /^[0-9a-f]{40}$/;
/** A full commit id of either object format (SHA-1 or SHA-256). */
export const FULL_COMMIT_ANY = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export const isFullCommit = (s: string): boolean => FULL_COMMIT_SHA1.test(s);

export const commitId = z.string().regex(FULL_COMMIT_SHA1, 'expected a 40-hex commit id');

/**
 * Hosts that never leave this machine: 127.0.0.0/8, ::1 (bracketed as in a URL, or bare)
 * and localhost. `hostname` as `new URL()` gives it.
 */
export function isLoopbackHost(hostname: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|::1|localhost)$/i.test(hostname);
}
