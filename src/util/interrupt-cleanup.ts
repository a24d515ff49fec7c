import { rmSync } from 'node:fs';

/**
 * Temporary files and folders to remove if the process is interrupted (Ctrl-C, SIGTERM)
 * before the code that made them removes or renames them. The library only registers
 * paths; the command line turns the handlers on (a library must not take over signals).
 */
const pending = new Set<string>();
let enabled = false;

/** Remember `path` until the returned function is called (after its rename or removal). */
export function removeOnInterrupt(path: string): () => void {
  pending.add(path);
  return () => void pending.delete(path);
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * On SIGINT or SIGTERM: remove what is registered, say so, and exit 128 + the signal's
 * number, as a shell reports a process the signal ended. A second signal during the
 * removal ends the process at once (Node's default again).
 */
export function enableInterruptCleanup(stderr: NodeJS.WritableStream = process.stderr): void {
  if (enabled) return;
  enabled = true;
  for (const [name, num] of Object.entries(SIGNALS)) {
    process.once(name, () => {
      let removed = 0;
      for (const p of pending) {
        try {
          rmSync(p, { recursive: true, force: true });
          removed++;
        } catch {
          // the next run removes stale temporaries by their process id
        }
      }
      pending.clear();
      stderr.write(`\ninterrupted (${name})${removed ? `: removed ${removed} unfinished temporary file(s)` : ''}\n`);
      process.exit(128 + num);
    });
  }
}
