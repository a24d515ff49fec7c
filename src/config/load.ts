import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isScalar, visit, type Node } from 'yaml';
import type * as z from 'zod/mini';
import { XenrelError, ExitCode } from '../errors.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { CONFIG_FILE_NAME } from './search-places.js';
import { configSchema, knownKeysAt, type Config } from '../model/config.js';
import { didYouMean } from '../util/did-you-mean.js';
import { reservedKeyPath } from '../util/patterns.js';
import { formatKeyPath } from '../util/key-path.js';
import { parseWithPositions, positionOf, toLineCol } from '../util/yaml-positions.js';

export { ConfigError, type ConfigIssue };

/** A config together with where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file. */
  file: string;
  /** Directory of the config file: the project (Xen tree) root. */
  root: string;
}

const typeWords: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const valueAt = (root: unknown, path: (string | number)[]) =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), root);

function issueMessage(issue: z.core.$ZodIssue, js: unknown, path: (string | number)[]): string {
  if (issue.code === 'invalid_type') {
    const found = valueAt(js, path);
    const expected = typeWords[issue.expected] ?? issue.expected;
    return found === undefined
      ? `missing, expected ${expected}`
      : `expected ${expected}, found ${describeValue(found)}`;
  }
  return issue.message;
}

/** Parse and validate config text. `base` is the key path of the config inside the document (package.json). */
export function parseConfigText(text: string, file: string, base: (string | number)[] = []): Config {
  if (!base.length && !/[^\s]/.test(text.replace(/^\s*#.*$/gm, '')))
    throw new ConfigError([
      {
        file,
        line: 1,
        col: 1,
        path: '',
        message: 'the file is empty: a config needs at least version, name and components (see `xenrel init`)',
      },
    ]);
  const pd = parseWithPositions(text);
  if (pd.doc.errors.length) {
    throw new ConfigError(
      pd.doc.errors.map((e) => {
        const { line, col } = toLineCol(pd, e.pos[0]);
        return { file, line, col, path: '', message: `syntax error: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  // A mapping key that is itself a list, a mapping or an alias (`? [a]: b`, `*x: 1`): yaml
  // would stringify it with a process warning; no config key is one.
  const complexKeys: ConfigIssue[] = [];
  visit(pd.doc, {
    Pair(_, pair) {
      if (pair.key !== null && pair.key !== undefined && !isScalar(pair.key)) {
        const at = (pair.key as Node).range?.[0] ?? 0;
        complexKeys.push({
          file,
          ...toLineCol(pd, at),
          path: '',
          message: 'a key must be a plain name, not a list or a mapping',
        });
      }
    },
  });
  if (complexKeys.length) throw new ConfigError(complexKeys);
  let js: unknown;
  try {
    js = pd.doc.toJS();
  } catch (err) {
    // yaml refuses documents whose aliases expand without bound ("billion laughs").
    throw new ConfigError([{ file, line: 1, col: 1, path: '', message: `cannot be read: ${(err as Error).message}` }]);
  }
  const value = valueAt(js, base);
  const reserved = reservedKeyPath(value, base);
  if (reserved) {
    const { line, col } = positionOf(pd, reserved, { key: true });
    throw new ConfigError([
      {
        file,
        line,
        col,
        path: formatKeyPath(reserved.slice(base.length)),
        message: `"${String(reserved[reserved.length - 1])}" is a reserved name and cannot be a key`,
      },
    ]);
  }
  const result = configSchema.safeParse(value ?? {});
  if (result.success) return result.data;

  const issues: ConfigIssue[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const full = [...base, ...path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const { line, col } = positionOf(pd, [...full, key], { key: true });
        const guess = didYouMean(key, knownKeysAt(path));
        issues.push({
          file,
          line,
          col,
          path: formatKeyPath([...path, key]),
          message: `unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : ''}`,
        });
      }
      continue;
    }
    const { line, col } = positionOf(pd, full);
    issues.push({ file, line, col, path: formatKeyPath(path), message: issueMessage(issue, value, path) });
  }
  issues.sort((a, b) => a.line - b.line || a.col - b.col);
  throw new ConfigError(issues);
}

/**
 * The config in `cwd` under its first search place, with its text, when it holds
 * something: the common case, answered without loading cosmiconfig (which also passes over
 * an empty file, so the answer is the one its search would give).
 */
async function configInCwd(cwd: string): Promise<{ file: string; text: string } | undefined> {
  const file = join(cwd, CONFIG_FILE_NAME);
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim() === '' ? undefined : { file, text };
}

export async function loadConfig(opts: { cwd: string; config?: string }): Promise<LoadedConfig> {
  const inCwd = opts.config === undefined ? await configInCwd(opts.cwd) : undefined;
  // cosmiconfig loads only when a config is looked for further
  const file = inCwd?.file ?? (await (await import('./find-config.js')).findConfig(opts.cwd, opts.config));
  let text: string;
  try {
    text = inCwd?.text ?? (await readFile(file, 'utf8'));
  } catch (err) {
    throw new XenrelError('E_NO_CONFIG', `cannot read config ${file}: ${(err as Error).message}`, {
      exitCode: ExitCode.usage,
      hint: 'check the path given with --config',
    });
  }
  const config = parseConfigText(
    text,
    displayPath(file, opts.cwd),
    basename(file) === 'package.json' ? ['xenrel'] : [],
  );
  return { config, file, root: dirname(file) };
}

/** @deprecated `LoadedConfig` (whose `config` was called `manifest`). */
export type LoadedManifest = LoadedConfig & { manifest: Config };

/** @deprecated `loadConfig`; this also returns the config as `manifest`. */
export async function loadManifest(opts: { cwd: string; config?: string }): Promise<LoadedManifest> {
  const loaded = await loadConfig(opts);
  return { ...loaded, manifest: loaded.config };
}

/** @deprecated `parseConfigText`. */
export const parseManifestText = parseConfigText;

/** Paths in messages are relative to where the user stands, when that is shorter. */
export function displayPath(file: string, cwd: string): string {
  const abs = resolve(file);
  const base = resolve(cwd);
  return abs.startsWith(`${base}/`) ? abs.slice(base.length + 1) : abs;
}
