import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, XenrelError } from '../errors.js';

/** A make variable as the build sees it, with where its value came from. */
export interface MakeVar {
  name: string;
  /** Fully expanded value. */
  value: string;
  /** GNU make's `$(origin)`: file, command line, environment, override, … */
  origin: string;
  /** Where the winning assignment is (from `make -p`), when it is in a file. */
  file?: string;
  line?: number;
  /** Line in the generated makefile, when the assignment was replayed there. */
  generatedLine?: number;
}

export interface MakeEvalOptions {
  /** Directory make runs in (the Xen tree root). */
  cwd: string;
  /** `VAR=value` command-line overrides, passed to make as they are. */
  overrides?: string[];
  /** Environment for make; MAKEFLAGS and friends are removed so an outer make cannot leak in. */
  env?: NodeJS.ProcessEnv;
  /** The make program (default `make`). */
  make?: string;
}

const MARK = 'xenrel-var';

/** Environment variables that would change what make reads or how, from an outer make or the user's shell. */
const MAKE_ENV_NOISE = [
  'MAKEFLAGS',
  'MFLAGS',
  'GNUMAKEFLAGS',
  'MAKELEVEL',
  'MAKEFILES',
  'MAKE_TERMOUT',
  'MAKE_TERMERR',
];

export const OVERRIDE_RE = /^[A-Za-z_][A-Za-z0-9_.-]*=/;

/**
 * Evaluate a generated makefile `body` and print the variables named by `names` (make
 * patterns allowed, matched against `$(.VARIABLES)`). Nothing but `$(shell …)` calls inside
 * the included makefiles runs: the only goal has a recipe that expands to nothing, built-in
 * rules are off, and `make -p` gives each variable's file and line.
 */
export async function evalMakeVars(
  body: string,
  names: string[],
  opts: MakeEvalOptions,
): Promise<Map<string, MakeVar>> {
  for (const o of opts.overrides ?? [])
    if (!OVERRIDE_RE.test(o))
      throw new XenrelError('E_USAGE', `make override "${o}" is not of the form VAR=value`, {
        exitCode: ExitCode.usage,
        hint: 'pass overrides as NAME=VALUE, as on a make command line',
      });

  const dir = await mkdtemp(join(tmpdir(), 'xenrel-make-'));
  const mk = join(dir, 'print-vars.mk');
  try {
    // The recipe line expands to empty text, so make runs no shell for it.
    const printer = [
      '',
      `XENREL_PRINT_NAMES := $(sort $(filter ${names.join(' ')},$(.VARIABLES)))`,
      '.PHONY: xenrel-print-vars',
      'xenrel-print-vars:',
      `\t@$(foreach v,$(XENREL_PRINT_NAMES),$(info ${MARK}\t$(v)\t$(origin $(v))\t$($(v))))`,
      '',
    ].join('\n');
    await writeFile(mk, `${body}\n${printer}`);
    const env = { ...(opts.env ?? process.env) };
    for (const k of MAKE_ENV_NOISE) delete env[k];
    const args = [
      '-s',
      '-p',
      '--no-builtin-rules',
      '--no-builtin-variables',
      '--no-print-directory',
      '-f',
      mk,
      ...(opts.overrides ?? []),
      'xenrel-print-vars',
    ];
    const { code, stdout, stderr, spawnError } = await run(opts.make ?? 'make', args, opts.cwd, env);
    if (spawnError)
      throw new XenrelError('E_NO_MAKE', `cannot run ${opts.make ?? 'make'}: ${spawnError.message}`, {
        exitCode: ExitCode.usage,
        hint: "install GNU make (xenrel asks make for the values of the Xen tree's variables)",
      });
    if (code !== 0)
      throw new XenrelError(
        'E_MAKE_VARS',
        `make could not read the Xen tree's makefiles in ${opts.cwd}:\n${stderr.trim() || stdout.trim().split('\n').slice(-5).join('\n')}`,
        {
          exitCode: ExitCode.usage,
          hint: 'fix the makefile named above (often .config), or check that this is a Xen source tree',
        },
      );
    return parseOutput(stdout, mk);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function parseOutput(stdout: string, generated: string): Map<string, MakeVar> {
  const vars = new Map<string, MakeVar>();
  const lines = stdout.split('\n');
  for (const l of lines) {
    if (!l.startsWith(`${MARK}\t`)) continue;
    const [, name, origin, ...rest] = l.split('\t');
    vars.set(name!, { name: name!, origin: origin!, value: rest.join('\t').trim() });
  }
  // `make -p`: "# makefile (from 'FILE', line N)" precedes "NAME := value".
  for (let i = 1; i < lines.length; i++) {
    const m = /^# makefile \(from [`']([^']+)', line (\d+)\)$/.exec(lines[i - 1]!);
    if (!m) continue;
    const name = /^(?:override |export |unexport )*([^\s:?+!=]+)\s*[:?+!]*:?=/.exec(lines[i]!)?.[1];
    const v = name ? vars.get(name) : undefined;
    if (!v) continue;
    if (m[1] === generated) {
      v.generatedLine = Number(m[2]);
      continue;
    }
    v.file = m[1];
    v.line = Number(m[2]);
  }
  return vars;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string; spawnError?: Error }>((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (spawnError) => resolve({ code: -1, stdout, stderr, spawnError }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
