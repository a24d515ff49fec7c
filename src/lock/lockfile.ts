import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { XenrelError, ExitCode } from '../errors.js';
import { lockSchema, type Lockfile } from '../model/lock.js';
import { writeFileAtomic } from '../util/atomic.js';
import { jsonPositionOf } from '../util/json-positions.js';
import { formatKeyPath } from '../util/key-path.js';
import { ConfigError, type ConfigIssue } from '../config/config-error.js';
import { reservedKeyPath } from '../util/patterns.js';

export { LOCKFILE_NAME } from '../layout/xenrel-dir.js';

/** JSON with every object's keys sorted, 2-space indent, final newline: stable for diffs. */
export function serializeLock(lock: Lockfile): string {
  return `${JSON.stringify(sortKeys(lock), null, 2)}\n`;
}

/** sha256 (hex) of the lock's bytes as written: what a release record names the lock by. */
export const lockDigest = (lock: Lockfile): string => createHash('sha256').update(serializeLock(lock)).digest('hex');

export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const val = (v as Record<string, unknown>)[k];
      if (val !== undefined) out[k] = sortKeys(val);
    }
    return out;
  }
  return v;
}

/** A JSON.parse failure at the file:line:col it happened. */
export function jsonSyntaxIssue(text: string, file: string, err: Error): ConfigIssue {
  // V8: "... in JSON at position N (line L column C)" or just "at position N".
  const m = /line (\d+) column (\d+)/.exec(err.message);
  if (m)
    return {
      file,
      line: Number(m[1]),
      col: Number(m[2]),
      path: '',
      message: `invalid JSON: ${err.message.replace(/ in JSON at position.*$/, '')}`,
    };
  const pos = /position (\d+)/.exec(err.message);
  const offset = pos ? Number(pos[1]) : text.length;
  const before = text.slice(0, offset).split('\n');
  return {
    file,
    line: before.length,
    col: before[before.length - 1]!.length + 1,
    path: '',
    message: `invalid JSON: ${err.message}`,
  };
}

export function parseLockText(text: string, file: string): Lockfile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      [jsonSyntaxIssue(text, file, err as Error)],
      'restore the lockfile from version control, or delete it and run `xenrel lock`',
    );
  }
  const reserved = reservedKeyPath(data);
  if (reserved) {
    const { line, col } = jsonPositionOf(text, reserved, { key: true });
    throw new ConfigError(
      [
        {
          file,
          line,
          col,
          path: formatKeyPath(reserved),
          message: `"${String(reserved[reserved.length - 1])}" is a reserved name and cannot be a key`,
        },
      ],
      'restore the lockfile from version control, or delete it and run `xenrel lock`',
    );
  }
  const result = lockSchema.safeParse(data);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const { line, col } = jsonPositionOf(text, path, { key: issue.code === 'unrecognized_keys' });
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message;
    return { file, line, col, path: formatKeyPath(path), message };
  });
  throw new ConfigError(issues, 'restore the lockfile from version control, or delete it and run `xenrel lock`');
}

export async function readLock(file: string, display = file): Promise<Lockfile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseLockText(text, display);
}

export async function requireLock(file: string, display = file): Promise<Lockfile> {
  const lock = await readLock(file, display);
  if (!lock)
    throw new XenrelError('E_NO_LOCK', `no lockfile at ${display}`, {
      exitCode: ExitCode.usage,
      hint: 'run `xenrel lock` first',
    });
  return lock;
}

/** Writes only when the bytes differ, so an unchanged lock keeps its mtime too. */
export async function writeLock(file: string, lock: Lockfile): Promise<boolean> {
  const text = serializeLock(lock);
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await writeFileAtomic(file, text);
  return true;
}
