import type { Writable } from 'node:stream';
import type cliProgress from 'cli-progress';
import { ExitCode, toReported, type ExitCodeValue, type ReportedError } from '../errors.js';
import type { ProgressSink } from '../types.js';

export interface ReportOptions {
  stdout: Writable;
  stderr: Writable;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  /** Progress bars only on a terminal. */
  tty?: boolean;
  /**
   * The bar library, loaded by the caller only when bars can show (a terminal, not --quiet
   * or --json): it and its text-width helpers cost start-up time every other run would pay.
   * Without it a terminal gets the plain progress lines.
   */
  bars?: typeof cliProgress;
  command?: string;
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
    for (const r of all)
      this.write(this.opts.stdout, `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
  }

  // ProgressSink. On a terminal: one bar per item (bytes, total or percentage, speed),
  // removed when the item is done. Without one: a plain line per active item every few
  // seconds (XENREL_PROGRESS_INTERVAL, seconds; default 5), and a line when an item ends.
  // Nothing with --quiet or --json.
  private readonly items = new Map<string, ProgressItem>();
  private ticker?: NodeJS.Timeout;

  private get showsProgress(): boolean {
    return !this.opts.json && !this.opts.quiet;
  }

  start(name: string, total?: number): void {
    if (!this.showsProgress) return;
    const item: ProgressItem = {
      name,
      bytes: 0,
      total: total || undefined,
      started: Date.now(),
      lastPlain: Date.now(),
    };
    this.items.set(name, item);
    const bars = this.opts.tty ? this.opts.bars : undefined;
    if (bars) {
      this.bars ??= new bars.MultiBar(
        {
          format: ' {name} [{bar}] {pct} {value_h}/{total_h} {speed}',
          hideCursor: true,
          clearOnComplete: true,
          stream: this.opts.stderr as NodeJS.WriteStream,
          fps: 8,
        },
        bars.Presets.shades_grey,
      );
      this.barOf.set(name, this.bars.create(100, 0, this.payload(item)));
    } else this.startTicker();
  }

  advance(name: string, bytes: number): void {
    const item = this.items.get(name);
    if (!item) return;
    item.bytes += bytes;
    if (item.bytes && item.firstByte === undefined) item.firstByte = Date.now();
    this.render(item);
  }

  update(name: string, p: { bytes?: number; total?: number; percent?: number; phase?: string; speed?: number }): void {
    const item = this.items.get(name);
    if (!item) return;
    if (p.bytes !== undefined) item.bytes = p.bytes;
    if (item.bytes && item.firstByte === undefined) item.firstByte = Date.now();
    if (p.total !== undefined) item.total = p.total || undefined;
    if (p.percent !== undefined) item.percent = p.percent;
    item.phase = p.phase;
    if (p.speed !== undefined) item.speed = p.speed;
    this.render(item);
  }

  done(name: string, status: string): void {
    const bar = this.barOf.get(name);
    if (bar) {
      bar.stop();
      this.bars?.remove(bar);
      this.barOf.delete(name);
    }
    this.items.delete(name);
    if (this.bars && this.barOf.size === 0) {
      // The last bar gone: clear the bar area, give the cursor back.
      this.bars.stop();
      this.bars = undefined;
    }
    if (!this.items.size) this.stopTicker();
    // An empty status: a step inside a command (reading back a tarball), no line of its own.
    if (status) this.info(`  ${name}: ${status}`);
  }

  private render(item: ProgressItem): void {
    const bar = this.barOf.get(item.name);
    if (bar) bar.update(Math.min(100, Math.floor(progressPercent(item) ?? 0)), this.payload(item));
  }

  private payload(item: ProgressItem) {
    const pct = progressPercent(item);
    return {
      name: item.name.padEnd(14),
      pct: pct === undefined ? '  ?%' : `${String(Math.floor(pct)).padStart(3)}%`,
      value_h: human(item.bytes),
      total_h: item.total ? human(item.total) : '?',
      speed: item.phase ?? speedOf(item),
    };
  }

  private startTicker(): void {
    if (this.ticker) return;
    const seconds = Number(process.env.XENREL_PROGRESS_INTERVAL ?? '5');
    const ms = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5000;
    this.ticker = setInterval(() => {
      const now = Date.now();
      for (const item of this.items.values()) {
        if (now - item.lastPlain < ms * 0.9) continue;
        item.lastPlain = now;
        this.write(this.opts.stderr, `${plainProgressLine(item)}\n`);
      }
    }, ms);
    this.ticker.unref();
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Prints the JSON document (with --json) and returns the exit code. */
  finish(): number {
    this.bars?.stop();
    this.bars = undefined;
    this.stopTicker();
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

interface ProgressItem {
  name: string;
  bytes: number;
  total?: number;
  /** From the tool itself (git), when it gives no byte total. */
  percent?: number;
  /** What the tool is doing before bytes flow (`remote: compressing 50%`). */
  phase?: string;
  started: number;
  /** When the first byte arrived: the speed counts from there (not from a server's packing). */
  firstByte?: number;
  /** Bytes per second as the tool itself measures it (git), when it says. */
  speed?: number;
  lastPlain: number;
}

function progressPercent(item: ProgressItem): number | undefined {
  if (item.total) return Math.min(100, (item.bytes / item.total) * 100);
  return item.percent;
}

function speedOf(item: ProgressItem): string {
  if (item.speed) return `${human(item.speed)}/s`;
  if (item.firstByte === undefined || item.bytes === 0) return '';
  const seconds = (Date.now() - item.firstByte) / 1000;
  if (seconds < 0.5) return '';
  return `${human(item.bytes / seconds)}/s`;
}

/** `  seabios: 12.3 MiB of 40.0 MiB (30%), 2.1 MiB/s, 6 s` */
export function plainProgressLine(item: ProgressItem): string {
  const seconds = Math.round((Date.now() - item.started) / 1000);
  if (item.phase) return `  ${item.name}: ${item.phase}, ${seconds} s`;
  const pct = progressPercent(item);
  if (!item.bytes && pct === undefined) return `  ${item.name}: starting, ${seconds} s`;
  const parts = [
    `${human(item.bytes)}${item.total ? ` of ${human(item.total)}` : ''}${pct !== undefined ? ` (${Math.floor(pct)}%)` : ''}`,
    speedOf(item),
    `${seconds} s`,
  ].filter(Boolean);
  return `  ${item.name}: ${parts.join(', ')}`;
}

export function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
