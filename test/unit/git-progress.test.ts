import { describe, expect, it } from 'vitest';
import { parseGitProgress } from '../../src/sources/git/progress.js';

// Lines as git 2.x writes them to stderr with --progress (captured from `git fetch --progress`).
describe('parseGitProgress', () => {
  it("reads the phase, percentage, bytes received and git's own rate", () => {
    expect(parseGitProgress('remote: Counting objects:  66% (2/3)        ')).toEqual({
      phase: 'counting',
      percent: 66,
    });
    expect(parseGitProgress('remote: Compressing objects: 100% (2/2), done.        ')).toEqual({
      phase: 'compressing',
      percent: 100,
    });
    expect(parseGitProgress('Receiving objects:  33% (1/3)')).toEqual({ phase: 'receiving', percent: 33 });
    expect(parseGitProgress('Receiving objects: 100% (3/3), 17.66 MiB | 35.17 MiB/s')).toEqual({
      phase: 'receiving',
      percent: 100,
      bytes: Math.round(17.66 * 1024 ** 2),
      speed: Math.round(35.17 * 1024 ** 2),
    });
    expect(parseGitProgress('Receiving objects: 100% (3/3), 28.62 MiB | 32.10 MiB/s, done.')!.bytes).toBe(
      Math.round(28.62 * 1024 ** 2),
    );
    expect(parseGitProgress('Receiving objects:  50% (6/12), 900 bytes | 1.00 KiB/s')!.bytes).toBe(900);
    expect(parseGitProgress('Resolving deltas: 100% (4/4), done.')).toEqual({ phase: 'resolving', percent: 100 });
    expect(parseGitProgress('remote: Enumerating objects: 3, done.        ')).toEqual({ phase: 'enumerating' });
  });

  it('marks other progress chatter, and leaves real messages alone', () => {
    expect(parseGitProgress('remote: Total 3 (delta 0), reused 0 (delta 0), pack-reused 0        ')).toEqual({
      phase: 'other',
    });
    expect(parseGitProgress("fatal: couldn't find remote ref rel-9.9.9")).toBeUndefined();
    expect(parseGitProgress('From file:///tmp/big')).toBeUndefined();
  });
});
