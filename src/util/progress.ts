import type { ProgressSink } from '../types.js';

/** `sink` with some methods replaced; every other one forwards to it (if it has it). */
export function withProgress(sink: ProgressSink | undefined, overrides: ProgressSink): ProgressSink {
  return {
    start: (n, t) => sink?.start?.(n, t),
    advance: (n, b) => sink?.advance?.(n, b),
    update: (n, p) => sink?.update?.(n, p),
    done: (n, s) => sink?.done?.(n, s),
    info: (m) => sink?.info?.(m),
    warn: (m) => sink?.warn?.(m),
    ...overrides,
  };
}
