import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined | null = null;

/**
 * A full garbage collection, for the boundary between two phases of a job over a large
 * tree. Each phase leaves the previous one's file lists behind as garbage, which V8 would
 * collect only once the heap had grown further: collected at the boundary, the peak RSS
 * follows what is live. V8 gives `gc` to a context made while its flag is set; where that
 * fails this does nothing.
 */
export function collectGarbage(): void {
  if (gc === null) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
      setFlagsFromString('--no-expose-gc');
    } catch {
      gc = undefined;
    }
  }
  if (typeof gc === 'function') gc();
}
