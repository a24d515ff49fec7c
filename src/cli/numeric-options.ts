import { usageError } from '../errors.js';

/**
 * Numeric command-line options, checked where they enter: a whole number in a range, or a
 * usage error (exit 2) that names the option, the value and the range. Never silently
 * replaced by a default, never passed on to fail later.
 */
export function wholeNumberOption(flag: string, value: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw usageError(`${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  return n;
}

/** `--jobs N`: how many things run at once. */
export const jobsOption = (value: string): number => wholeNumberOption('--jobs', value, 1, 256);

/** The levels each compressor accepts (gzip -1…-9, xz -0…-9, zstd -1…-19). */
export const COMPRESSION_LEVELS = { gz: [1, 9], xz: [0, 9], zst: [1, 19] } as const;

export function levelOption(format: keyof typeof COMPRESSION_LEVELS, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const [min, max] = COMPRESSION_LEVELS[format];
  return wholeNumberOption(`--level (${format})`, value, min, max);
}
