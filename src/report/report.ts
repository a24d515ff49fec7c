import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { ExitCode, XenrelError, type ExitCodeValue } from '../errors.js';
import type { ProgressSink } from '../types.js';

export interface ReportOptions {
  stdout: Writable;
  stderr: Writable;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  /** Progress bars only on a terminal. */
  tty?: boolean;
  command?: string;
}

export interface ReportedError {
  code: string;
  message: string;
  hint?: string;
  exitCode: number;
  details?: Record<string, unknown>;
}

/**
 * The one place a command's output goes: lines for people, or one JSON document with
 * `--json`; the exit code is derived from the errors it saw.
 */
export class Report implements ProgressSink {
  readonly opts: ReportOptions;
  readonly warnings: string[] = [];
  readonly errors: ReportedError[] = [];
  private readonly data: Record<string, unknown> = {};
  private exit: ExitCodeValue = ExitCode.ok;
  private bars?: cliProgress.MultiBar;
  private readonly barOf = new Map<string, cliProgress.SingleBar>();

  constructor(opts: ReportOptions) {
    this.opts = opts;
  }

  get human() {
    return !this.opts.json;
  }

  /** A line for people (suppressed by --quiet and --json). */
  info(message: string): void {
    if (this.opts.json || this.opts.quiet) return;
    this.write(this.opts.stdout, `${message}\n`);
  }

  /** Primary output that --quiet keeps (e.g. `hash` prints the hash). */
  output(message: string): void {
    if (this.opts.json) return;
    this.write(this.opts.stdout, `${message}\n`);
  }

  warn(message: string): void {
    this.warnings.push(message);
    if (!this.opts.json) this.write(this.opts.stderr, `warning: ${message}\n`);
  }

  /** Put a field into the --json document. */
  set(key: string, value: unknown): void {
    this.data[key] = value;
  }

  /** A check failed: exit 1 (or the error's own code), keep going. */
  error(err: unknown): void {
    const e = toReported(err);
    this.errors.push(e);
    this.exit = Math.max(this.exit, e.exitCode) as ExitCodeValue;
    if (!this.opts.json) {
      this.write(this.opts.stderr, `error: ${e.message}\n`);
      if (e.hint) this.write(this.opts.stderr, `  hint: ${e.hint}\n`);
      if (this.opts.debug && err instanceof Error && err.stack) this.write(this.opts.stderr, `${err.stack}\n`);
    }
  }

  /** Mark the run as failed with `code` without a separate error (the findings were already printed). */
  failWith(code: ExitCodeValue): void {
    this.exit = Math.max(this.exit, code) as ExitCodeValue;
  }

  get exitCode(): ExitCodeValue {
    return this.exit;
  }

  /** A table for people; `primary` when it is the command's result (kept by --quiet). */
  table(rows: string[][], header?: string[], opts: { primary?: boolean } = {}): void {
    if (this.opts.json || (this.opts.quiet && !opts.primary)) return;
    const all = header ? [header, ...rows] : rows;
    const widths = all.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
    for (const r of all) this.write(this.opts.stdout, `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
  }

  // ProgressSink: bars on a terminal, one plain line per finished item otherwise.
  start(name: string, total?: number): void {
    if (!this.opts.tty || this.opts.json || this.opts.quiet) return;
    this.bars ??= new cliProgress.MultiBar(
      { format: ' {name} [{bar}] {percentage}% {value_h}/{total_h} {speed}', hideCursor: true, clearOnComplete: true, stream: this.opts.stderr as NodeJS.WriteStream, fps: 8 },
      cliProgress.Presets.shades_grey,
    );
    this.barOf.set(name, this.bars.create(total ?? 0, 0, { name: name.padEnd(14), value_h: '0', total_h: total ? human(total) : '?', speed: '' }));
  }

  advance(name: string, bytes: number): void {
    const bar = this.barOf.get(name);
    if (!bar) return;
    bar.increment(bytes);
    bar.update({ value_h: human(bar.getProgress() * bar.getTotal() || bytes) });
  }

  done(name: string, status: string): void {
    const bar = this.barOf.get(name);
    if (bar) {
      bar.stop();
      this.bars?.remove(bar);
      this.barOf.delete(name);
    }
    this.info(`  ${name}: ${status}`);
  }

  /** Prints the JSON document (with --json) and returns the exit code. */
  finish(): number {
    this.bars?.stop();
    if (this.opts.json) {
      const doc = {
        command: this.opts.command,
        ok: this.exit === ExitCode.ok,
        exitCode: this.exit,
        ...this.data,
        warnings: this.warnings,
        errors: this.errors,
      };
      this.write(this.opts.stdout, `${JSON.stringify(doc, null, 2)}\n`);
    }
    return this.exit;
  }

  private write(stream: Writable, text: string) {
    if (this.bars && stream === this.opts.stderr) this.bars.log(text);
    else stream.write(text);
  }
}

export function toReported(err: unknown): ReportedError {
  if (err instanceof XenrelError) return { code: err.code, message: err.message, hint: err.hint, exitCode: err.exitCode, details: err.details };
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT')
    return { code: 'E_NOSPACE', message: `no space left on device: ${e.message}`, exitCode: ExitCode.fetch, hint: 'free some disk space and run the command again' };
  return {
    code: 'E_INTERNAL',
    message: `unexpected error: ${e?.message ?? String(err)}`,
    exitCode: ExitCode.usage,
    hint: 'run again with --debug for the stack trace, and report it',
  };
}

export function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
