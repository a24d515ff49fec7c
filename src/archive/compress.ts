import { spawn } from 'node:child_process';
import { XenrelError, ExitCode } from '../errors.js';
import { gzipChunks } from './gzip.js';

export type Compression = 'none' | 'gz' | 'xz' | 'zst';

export const EXTENSIONS: Record<Compression, string> = { none: '.tar', gz: '.tar.gz', xz: '.tar.xz', zst: '.tar.zst' };

/** Deterministic flags: single-threaded, fixed level (threaded xz/zstd output depends on the thread count). */
export function compressorArgs(format: 'xz' | 'zst', level?: number): [string, string[]] {
  if (format === 'xz') return ['xz', ['-T1', `-${level ?? 6}`, '-c', '-q']];
  return ['zstd', ['-T1', `-${level ?? 19}`, '-c', '-q', '--no-progress']];
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
export async function* spawnFilter(program: string, args: string[], source: AsyncIterable<Uint8Array>, why: string): AsyncGenerator<Buffer> {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.length < 64 && stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: string | null; err?: NodeJS.ErrnoException }>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) => resolve({ code: null, signal: null, err }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let feedError: unknown;
  const feed = (async () => {
    try {
      for await (const chunk of source) {
        if (!child.stdin.write(chunk)) {
          await new Promise<void>((resolve, reject) => {
            const done = () => {
              child.stdin.off('error', fail);
              resolve();
            };
            const fail = (e: unknown) => {
              child.stdin.off('drain', done);
              reject(e);
            };
            child.stdin.once('drain', done);
            child.stdin.once('error', fail);
          });
        }
      }
      child.stdin.end();
    } catch (err) {
      feedError = err;
      child.stdin.destroy();
      child.kill('SIGTERM');
    }
  })();
  child.stdin.on('error', () => {}); // EPIPE when the program exits early: reported through its exit status
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
    throw new XenrelError('E_FILTER_FAILED', `${program} ${args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}) while trying to ${why}: ${Buffer.concat(stderr).toString('utf8').trim()}`, {
      exitCode: ExitCode.checkFailed,
    });
}

export function compressChunks(source: AsyncIterable<Uint8Array>, format: Compression, level?: number): AsyncIterable<Uint8Array> {
  if (format === 'none') return source;
  if (format === 'gz') return gzipChunks(source, { level: level ?? 9 });
  const [prog, args] = compressorArgs(format, level);
  return spawnFilter(prog, args, source, `write a .tar.${format} archive`);
}
