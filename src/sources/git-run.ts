import { spawn } from 'node:child_process';
import { XenrelError, ExitCode } from '../errors.js';

/**
 * Running git. Every call goes through here so the environment is the same everywhere:
 * no prompts (a missing credential is an error, not a hang), no repository found by
 * walking up from the cwd, and the settings that could change bytes pinned on the
 * command line. The user's global config stays in effect for transport (proxies,
 * credentials, `url.insteadOf`): xenrel never checks out a work tree, and every byte it
 * hashes is read from git objects by id, so that config cannot change content.
 */
const PINNED_CONFIG = [
  'core.autocrlf=false',
  'core.eol=lf',
  'core.symlinks=true',
  'core.precomposeunicode=false',
  'core.quotepath=false',
  // Never gc in the background while another xenrel step reads the mirror.
  'gc.autoDetach=false',
  'protocol.version=2',
  'advice.detachedHead=false',
];

/** Variables that would point git at another repository, index or work tree. */
const STRIPPED_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_NAMESPACE',
  'GIT_COMMON_DIR',
  'GIT_CEILING_DIRECTORIES',
  'GIT_CONFIG',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG_COUNT',
  'GIT_REPLACE_REF_BASE',
  'GIT_NO_REPLACE_OBJECTS',
  'GIT_SHALLOW_FILE',
  'GIT_QUARANTINE_PATH',
];

export function gitEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of STRIPPED_ENV) delete env[k];
  for (const k of Object.keys(env)) if (/^GIT_CONFIG_(KEY|VALUE)_\d+$/.test(k)) delete env[k];
  env.GIT_TERMINAL_PROMPT = '0';
  // Replacement objects (`refs/replace/`) would make a commit id show other content.
  env.GIT_NO_REPLACE_OBJECTS = '1';
  env.LC_ALL = 'C';
  delete env.GIT_ASKPASS;
  delete env.SSH_ASKPASS;
  if (!env.GIT_SSH_COMMAND && !env.GIT_SSH) env.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes';
  return env;
}

export function gitArgs(args: string[], gitDir?: string): string[] {
  const pre: string[] = [];
  for (const c of PINNED_CONFIG) pre.push('-c', c);
  if (gitDir) pre.push('--git-dir', gitDir);
  return [...pre, ...args];
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface RunGitOptions {
  gitDir?: string;
  cwd?: string;
  input?: string | Buffer;
  /**
   * Called with stderr lines as they come (git's progress goes there). A line it returns
   * true for is consumed: it is left out of `stderr` (and so of error messages).
   */
  onStderr?: (line: string) => boolean | void;
  /** Kill git after this long (ms). */
  timeoutMs?: number;
  /** Set after the pinned environment (e.g. a temporary GIT_INDEX_FILE). */
  env?: NodeJS.ProcessEnv;
}

/** Run git and collect its output; never throws for a non-zero exit (see `git()`). */
export function runGit(args: string[], opts: RunGitOptions = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', gitArgs(args, opts.gitDir), {
      cwd: opts.cwd,
      env: opts.env ? { ...gitEnv(), ...opts.env } : gitEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    let pending = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => {
      const s = d.toString('utf8');
      if (!opts.onStderr) {
        // Keep only the tail: git can write a lot.
        err = (err + s).slice(-64 * 1024);
        return;
      }
      pending += s;
      const parts = pending.split(/[\r\n]/);
      pending = parts.pop()!;
      for (const p of parts) if (p.trim() && opts.onStderr(p) !== true) err = (err + p + '\n').slice(-64 * 1024);
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      const code = (e as NodeJS.ErrnoException).code;
      reject(
        code === 'ENOENT'
          ? new XenrelError('E_NO_GIT', 'git is not installed (or not on PATH)', {
              exitCode: ExitCode.fetch,
              hint: 'install git (2.20 or newer) and run the command again',
            })
          : e,
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (opts.onStderr && pending.trim() && opts.onStderr(pending) !== true) err = (err + pending).slice(-64 * 1024);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr: err });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // git may exit before reading all input; the exit code says why.
      child.stdin!.end(opts.input);
    }
  });
}

/** Run git; a non-zero exit becomes an E_GIT error carrying git's own message. */
export async function git(args: string[], opts: RunGitOptions & { what?: string } = {}): Promise<string> {
  const r = await runGit(args, opts);
  if (r.code !== 0) throw gitFailure(args, r, opts.what);
  return r.stdout.toString('utf8');
}

export function gitFailure(args: string[], r: GitResult, what?: string): XenrelError {
  const msg = lastLines(r.stderr, 6) || `exit code ${r.code}`;
  return new XenrelError('E_GIT', `${what ?? `git ${args.filter((a) => !a.startsWith('-c')).slice(0, 3).join(' ')}`} failed: ${msg}`, {
    exitCode: ExitCode.fetch,
    hint: 'check the URL and your network access; run with --debug for git\'s full output',
    details: { args, stderr: r.stderr },
  });
}

export function lastLines(s: string, n: number): string {
  return s
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join('; ');
}

export { FULL_COMMIT_SHA1 as FULL_SHA } from '../util/patterns.js';
export const SHORT_SHA = /^[0-9a-f]{4,39}$/;

/**
 * Settings for a git child that streams a whole tree (`cat-file --batch`, `archive`): git
 * otherwise maps pack windows of up to 1 GiB and keeps up to 96 MiB of delta bases, so its
 * RSS grows with the repository. These hold it near 40 MiB at the same speed (measured on Xen's history pack).
 */
export const BOUNDED_MEMORY_CONFIG = ['core.packedGitWindowSize=4m', 'core.packedGitLimit=16m', 'core.deltaBaseCacheLimit=8m'];

/** `-c` options for BOUNDED_MEMORY_CONFIG, to put before a command's arguments. */
export const boundedMemoryArgs = (): string[] => BOUNDED_MEMORY_CONFIG.flatMap((c) => ['-c', c]);

/** One record of `git ls-tree -z`. */
export interface LsTreeRecord {
  mode: string;
  type: string;
  oid: string;
  path: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The records of `git ls-tree -z` output. A path that is not valid UTF-8 is handed to
 * `badName` (as Latin-1, for the message), whose error is thrown: a lossy decode would
 * put another name into the tree hash.
 */
export function parseLsTree(stdout: Buffer, badName: (shown: string) => Error): LsTreeRecord[] {
  const out: LsTreeRecord[] = [];
  let start = 0;
  for (let nul = stdout.indexOf(0); nul >= 0; start = nul + 1, nul = stdout.indexOf(0, start)) {
    const rec = stdout.subarray(start, nul);
    const tab = rec.indexOf(0x09);
    const [mode, type, oid] = rec.subarray(0, tab).toString('latin1').split(' ');
    let path: string;
    try {
      path = strictUtf8.decode(rec.subarray(tab + 1));
    } catch {
      throw badName(JSON.stringify(rec.subarray(tab + 1).toString('latin1')));
    }
    out.push({ mode: mode!, type: type!, oid: oid!, path });
  }
  return out;
}
