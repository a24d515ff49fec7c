import type { ProgressSink } from '../../types.js';

/**
 * git's `--progress` lines (stderr, `\r`-separated), e.g.
 *   remote: Enumerating objects: 1200, done.
 *   Receiving objects:  45% (540/1200), 1.20 MiB | 2.00 MiB/s
 *   Resolving deltas:  80% (400/500)
 * Receiving carries the bytes so far; its percentage (of objects) is the one shown. The
 * other phases move the bar only before Receiving starts (0%) or after it ends (100%).
 */
export interface GitProgress {
  phase: 'enumerating' | 'counting' | 'compressing' | 'receiving' | 'resolving' | 'other';
  percent?: number;
  bytes?: number;
  /** git's own rate (`| 2.00 MiB/s`), bytes per second. */
  speed?: number;
}

const UNITS: Record<string, number> = { bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const LINE =
  /^(?:remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Unpacking) (?:objects|deltas):\s*(?:(\d+)%)?/;
const SIZE = /, ([\d.]+) (bytes|KiB|MiB|GiB)(?: \||,|$)/;
const RATE = /\| ([\d.]+) (bytes|KiB|MiB|GiB)\/s/;
const OTHER = /^(?:remote: )?(Total \d+|Enumerating|Counting|Compressing|Receiving|Resolving|Unpacking)/;

/** The progress in one line of git's stderr, or undefined for any other line (kept for error messages). */
export function parseGitProgress(line: string): GitProgress | undefined {
  const m = LINE.exec(line);
  if (!m) return OTHER.test(line) ? { phase: 'other' } : undefined;
  const phase = m[1]!.toLowerCase().replace('unpacking', 'receiving') as GitProgress['phase'];
  const size = SIZE.exec(line);
  const rate = RATE.exec(line);
  return {
    ...(rate ? { speed: Math.round(Number(rate[1]) * UNITS[rate[2]!]!) } : {}),
    phase,
    ...(m[2] !== undefined ? { percent: Number(m[2]) } : {}),
    ...(size ? { bytes: Math.round(Number(size[1]) * UNITS[size[2]!]!) } : {}),
  };
}

/** An `onStderr` for runGit that feeds `progress` under `label`; true = the line was progress. */
export function gitProgressFeed(label: string, progress: ProgressSink | undefined): (line: string) => boolean {
  let received = false;
  return (line) => {
    const p = parseGitProgress(line);
    if (!p) return false;
    if (p.phase === 'receiving') {
      received = true;
      progress?.update?.(label, {
        ...(p.bytes !== undefined ? { bytes: p.bytes } : {}),
        ...(p.percent !== undefined ? { percent: p.percent } : {}),
        ...(p.speed !== undefined ? { speed: p.speed } : {}),
      });
    } else if (p.phase === 'resolving' && received) progress?.update?.(label, { percent: 100 });
    else if (!received && p.phase !== 'other')
      progress?.update?.(label, {
        percent: 0,
        phase: `remote: ${p.phase}${p.percent !== undefined ? ` ${p.percent}%` : ''}`,
      });
    return true;
  };
}
