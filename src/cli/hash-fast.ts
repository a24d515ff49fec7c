// `xenrel hash DIR` with plain flags, run without clipanion, the command table and the base
// command: loading them took longer than hashing a tree of a few thousand files. Anything
// else (help, `--flag=value`, an unknown or misplaced option) goes the usual way, so every
// message and exit code is the parser's own.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { XenrelError, ExitCode } from '../errors.js';
import { Report } from '../report/report.js';
import { hashDir } from '../tree/walk.js';
import { manifestLine } from '../tree/hash.js';

export interface HashRun {
  /** DIR as the user wrote it (messages and `--json` show it so). */
  dir: string;
  manifest: boolean;
  cwd: string;
}

/** What `xenrel hash` does, without its option parser: the start-up path runs it too. */
export async function runHash(report: Report, o: HashRun): Promise<void> {
  const dir = resolve(o.cwd, o.dir);
  let isDir = false;
  let missing = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (!isDir)
    throw new XenrelError('E_USAGE', `${o.dir}: ${missing ? 'no such folder' : 'not a folder'}`, {
      exitCode: ExitCode.usage,
      hint: 'give the folder to hash',
    });
  const { hash, entries } = await hashDir(dir);
  if (o.manifest) for (const e of entries) report.output(manifestLine(e).trimEnd());
  report.output(hash);
  report.set('path', o.dir);
  report.set('tree', hash);
  report.set('files', entries.length);
  if (o.manifest) report.set('entries', entries);
}

const FLAGS = new Map<string, 'manifest' | 'json' | 'quiet' | 'debug'>([
  ['--manifest', 'manifest'],
  ['--json', 'json'],
  ['--quiet', 'quiet'],
  ['-q', 'quiet'],
  ['--debug', 'debug'],
]);

interface HashArgs {
  dir: string;
  manifest: boolean;
  json: boolean;
  quiet: boolean;
  debug: boolean;
}

/** The arguments after `hash`, when they are one DIR and flags of the list above. */
export function plainHashArgs(args: string[]): HashArgs | undefined {
  const o: HashArgs = { dir: '', manifest: false, json: false, quiet: false, debug: false };
  let dirs = 0;
  for (const a of args) {
    const flag = FLAGS.get(a);
    if (flag) o[flag] = true;
    else if (a === '' || a.startsWith('-') || ++dirs > 1) return undefined;
    else o.dir = a;
  }
  return dirs === 1 ? o : undefined;
}

/** Runs `xenrel hash ARGS…` and returns its exit code, or undefined for the full parser. */
export async function hashFast(
  args: string[],
  io: { stdout: Writable; stderr: Writable },
): Promise<number | undefined> {
  const o = plainHashArgs(args);
  if (!o) return undefined;
  // As the base command's, without the progress bars: hash shows no progress.
  const report = new Report({
    stdout: io.stdout,
    stderr: io.stderr,
    json: o.json,
    quiet: o.quiet,
    debug: o.debug,
    tty: Boolean((io.stderr as NodeJS.WriteStream).isTTY),
    command: 'hash',
  });
  try {
    await runHash(report, { dir: o.dir, manifest: o.manifest, cwd: process.cwd() });
  } catch (err) {
    report.error(err);
  }
  return report.finish();
}
