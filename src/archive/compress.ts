import { spawn } from 'node:child_process';
import { XenrelError, ExitCode } from '../errors.js';
import { gzipChunks } from './gzip.js';

export type Compression = 'none' | 'gz' | 'xz' | 'zst';

export const EXTENSIONS: Record<Compression, string> = { none: '.tar', gz: '.tar.gz', xz: '.tar.xz', zst: '.tar.zst' };

/** The level each format is written at when none is asked for. */
export const DEFAULT_LEVELS: Record<Exclude<Compression, 'none'>, number> = { gz: 9, xz: 6, zst: 19 };

/** Deterministic flags: single-threaded, fixed level (threaded xz/zstd output depends on the thread count). */
export function compressorArgs(format: 'xz' | 'zst', level?: number): [string, string[]] {
  if (format === 'xz') return ['xz', ['-T1', `-${level ?? DEFAULT_LEVELS.xz}`, '-c', '-q']];
  return ['zstd', ['-T1', `-${level ?? DEFAULT_LEVELS.zst}`, '-c', '-q', '--no-progress']];
}

export function missingProgram(program: string, why: string): XenrelError {
  return new XenrelError('E_MISSING_PROGRAM', `${program} is not installed (needed to ${why})`, {
    exitCode: ExitCode.usage,
    hint: `install ${program} (Debian/Ubuntu package: ${program === 'zstd' ? 'zstd' : program === 'xz' ? 'xz-utils' : program}) or choose another format`,
  });
}

/**
 * Pipes `source` through an external program and yields its stdout. Backpressure both ways;
 * a non-zero exit or a missing program is an error (never a silently short output).
 */
export async function* spawnFilter(
  program: string,
  args: string[],
  source: AsyncIterable<Uint8Array>,
  why: string,
  /** Called with what the program wrote to stderr when it exits 0 (warnings). */
  onWarning?: (stderr: string) => void,
): AsyncGenerator<Buffer> {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.length < 64 && stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: string | null; err?: NodeJS.ErrnoException }>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) => resolve({ code: null, signal: null, err }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let feedError: unknown;
  let stopped = false;
  void exited.then(() => {
    stopped = true;
    child.stdin.destroy();
  });
  child.stdin.on('error', () => {}); // EPIPE when the program exits early: reported through its exit status
  const writable = () =>
    // Resolves on drain, or when the program is gone (its exit status tells what happened).
    new Promise<void>((resolve) => {
      const done = () => {
        child.stdin.off('drain', done).off('close', done);
        resolve();
      };
      child.stdin.on('drain', done).on('close', done);
      if (stopped) done();
    });
  const feed = (async () => {
    try {
      for await (const chunk of source) {
        if (stopped || child.stdin.destroyed) break;
        if (!child.stdin.write(chunk)) await writable();
      }
      if (!stopped) child.stdin.end();
    } catch (err) {
      feedError = err;
      child.stdin.destroy();
      child.kill('SIGTERM');
    }
  })();
  let complete = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    complete = true;
  } finally {
    // The consumer stopped early (an error downstream): do not leave the program running.
    if (!complete && child.exitCode === null) child.kill('SIGTERM');
  }
  await feed;
  const r = await exited;
  if (feedError) throw feedError;
  if (r.err?.code === 'ENOENT') throw missingProgram(program, why);
  if (r.err) throw r.err;
  if (r.code !== 0)
    throw new XenrelError(
      'E_FILTER_FAILED',
      `${program} ${args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}) while trying to ${why}: ${Buffer.concat(stderr).toString('utf8').trim()}`,
      {
        exitCode: ExitCode.checkFailed,
      },
    );
  if (onWarning && stderr.length) onWarning(Buffer.concat(stderr).toString('utf8'));
}

export function compressChunks(
  source: AsyncIterable<Uint8Array>,
  format: Compression,
  level?: number,
): AsyncIterable<Uint8Array> {
  if (format === 'none') return source;
  if (format === 'gz') return gzipChunks(source, { level: level ?? DEFAULT_LEVELS.gz });
  const [prog, args] = compressorArgs(format, level);
  return spawnFilter(prog, args, source, `write a .tar.${format} archive`);
}
