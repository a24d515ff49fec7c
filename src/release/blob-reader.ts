import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { XenrelError, ExitCode } from '../errors.js';
import { boundedMemoryArgs, gitArgs, gitEnv, lastLines } from '../sources/git/run.js';

const EMPTY = Buffer.alloc(0);

/** Where git runs: in a work tree, or pointed at a bare repository (a cache mirror). */
export type GitAt = { cwd: string; gitDir?: undefined } | { gitDir: string; cwd?: undefined };
const READ_AHEAD = 2 << 20;

/**
 * One `git cat-file --batch` child reading a known sequence of blobs, in that order.
 * All object ids are written up front; the answers are pulled one chunk at a time, so
 * the pipe's back-pressure stops git while the consumer (the archive writer) is busy:
 * memory stays flat whatever the size of the tree. Each blob is read with `read(oid)`,
 * which must be called in the order the ids were given (checked against git's answer).
 */
export class BlobReader {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly chunks: AsyncIterator<Buffer>;
  private buf: Buffer = EMPTY;
  private stderr = '';
  private readonly exited: Promise<number>;
  private served = 0;
  private busy = false;

  private readonly where: string;

  constructor(
    at: GitAt,
    private readonly oids: readonly string[],
  ) {
    this.where = at.gitDir ?? at.cwd;
    this.child = spawn('git', gitArgs([...boundedMemoryArgs(), 'cat-file', '--batch', '--buffer'], at.gitDir), {
      cwd: at.cwd,
      env: gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString('utf8')).slice(-8192)));
    this.exited = new Promise((resolve) => {
      this.child.on('error', () => resolve(-1));
      this.child.on('close', (code) => resolve(code ?? 1));
    });
    this.child.stdin.on('error', () => {}); // git gone early: its exit status says why
    this.child.stdin.end(oids.length ? `${oids.join('\n')}\n` : '');
    // A bounded read-ahead (2 MiB): git keeps running while the writer compresses, instead of
    // waiting for each 64 KiB pipe buffer to be emptied (a context switch each, costly on
    // a loaded machine).
    const ahead = this.child.stdout.pipe(new PassThrough({ highWaterMark: READ_AHEAD }));
    this.chunks = (ahead as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private failure(what: string): XenrelError {
    return new XenrelError(
      'E_GIT',
      `git cat-file in ${this.where}: ${what}${this.stderr.trim() ? `: ${lastLines(this.stderr, 4)}` : ''}`,
      {
        exitCode: ExitCode.fetch,
        hint: 'the repository may be damaged: run `git fsck` in it',
      },
    );
  }

  private async pull(): Promise<void> {
    const r = await this.chunks.next();
    if (r.done) {
      const code = await this.exited;
      throw this.failure(
        code === -1
          ? 'git could not be started'
          : `git stopped after ${this.served} of ${this.oids.length} objects (exit ${code})`,
      );
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
  }

  /** The next blob's content, which must be `oid`, as chunks; `size` from git's header is checked. */
  async *read(oid: string): AsyncGenerator<Buffer> {
    if (this.busy) throw new Error('internal: BlobReader.read while a blob is being read');
    const want = this.oids[this.served];
    if (want !== oid) throw new Error(`internal: blob ${oid} asked for out of order (next is ${want ?? 'none'})`);
    this.busy = true;
    try {
      let nl: number;
      while ((nl = this.buf.indexOf(0x0a)) < 0) await this.pull();
      const line = this.buf.subarray(0, nl).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      const m = /^([0-9a-f]+) (\S+) (\d+)$/.exec(line);
      if (line === `${oid} missing`)
        throw new XenrelError(
          'E_GIT_MISSING_OBJECT',
          `${this.where}: git object ${oid} is missing from the repository`,
          {
            exitCode: ExitCode.checkFailed,
            hint: 'the repository is damaged: run `git fsck`, and restore the object (e.g. `git fetch` from a good clone)',
          },
        );
      if (!m || m[1] !== oid || m[2] !== 'blob') throw this.failure(`unexpected answer "${line}" for blob ${oid}`);
      let remaining = Number(m[3]);
      while (remaining > 0) {
        if (!this.buf.length) await this.pull();
        const take = Math.min(remaining, this.buf.length);
        const out = this.buf.subarray(0, take);
        this.buf = this.buf.subarray(take);
        remaining -= take;
        yield out;
      }
      if (!this.buf.length) await this.pull();
      this.buf = this.buf.subarray(1); // the LF after the content
      this.served++;
    } finally {
      this.busy = false;
    }
  }

  /** Waits for git to exit once every blob was read; stops it otherwise (an error elsewhere). */
  async close(): Promise<void> {
    if (this.served < this.oids.length || this.buf.length) {
      this.child.kill('SIGKILL');
      await this.exited;
      return;
    }
    const r = await this.chunks.next();
    const code = await this.exited;
    if (!r.done || code !== 0) throw this.failure(`unexpected end (exit ${code})`);
  }
}
