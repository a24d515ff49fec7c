import v8 from 'node:v8';

/**
 * Commands that stream whole trees allocate many short-lived buffers; V8's default young
 * generation lets tens of MB of that garbage sit in RSS. A 2 MB semi-space keeps the peak
 * down. Set here rather than in the shebang: `env -S` is not in BusyBox, and a plain
 * `#!/usr/bin/env node` must run everywhere Node does.
 */
const STREAMING = new Set(['release', 'verify', 'vendor', 'fetch', 'mirror', 'hash']);

export function tuneMemory(command: string): void {
  if (STREAMING.has(command) && !process.env.XENREL_NO_MEMORY_TUNING) v8.setFlagsFromString('--max-semi-space-size=2');
}
