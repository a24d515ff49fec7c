import { spawn } from 'node:child_process';
import { XenrelError, ExitCode } from '../../errors.js';

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
  if (!env.GIT_SSH_COMMAND && !env.GIT_SSH) {
    // ssh's own bounds, so an ssh left behind by a stopped git ends too (see runGitRemote).
    const n = gitStallSecondsOr(DEFAULT_GIT_STALL_SECONDS, base);
    env.GIT_SSH_COMMAND = `ssh -o BatchMode=yes -o ConnectTimeout=${n} -o ServerAliveInterval=${Math.max(1, Math.ceil(n / 3))} -o ServerAliveCountMax=3`;
  }
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
  /** Stopped by the stall watchdog (`stallMs`): no output for that long. */
  stalled?: boolean;
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
  /**
   * Stall watchdog: stop git when it writes nothing (stdout or stderr, progress included)
   * for this long (ms). Progress lines are then left out of `stderr`.
   */
  stallMs?: number;
}

/** git's progress meter lines (`--progress`): activity for the watchdog, noise in an error. */
const PROGRESS_LINE =
  /^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Writing|Unpacking|Checking|Finding|Total)\b/;

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
    let stalled = false;
    let stallTimer: NodeJS.Timeout | undefined;
    const armWatchdog = () => {
      if (!opts.stallMs) return;
      if (stallTimer) clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        stalled = true;
        // TERM first so git removes its temporary packs and lock files; KILL if it ignores that.
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      }, opts.stallMs);
    };
    armWatchdog();
    child.stdout!.on('data', (d: Buffer) => {
      out.push(d);
      armWatchdog();
    });
    child.stderr!.on('data', (d: Buffer) => {
      armWatchdog();
      const s = d.toString('utf8');
      if (!opts.onStderr) {
        // Keep only the tail: git can write a lot.
        err = (err + s).slice(-64 * 1024);
        return;
      }
      pending += s;
      const parts = pending.split(/[\r\n]/);
      pending = parts.pop()!;
      for (const p of parts) if (p.trim() && opts.onStderr(p) !== true) err = `${err + p}\n`.slice(-64 * 1024);
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      if (stallTimer) clearTimeout(stallTimer);
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
    let done = false;
    child.on('exit', () => {
      // A stopped git's helpers (git-remote-http, ssh) may hold its pipes open a while longer.
      if (!stalled) return;
      child.stdout!.destroy();
      child.stderr!.destroy();
    });
    child.on('close', (code, signal) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (stallTimer) clearTimeout(stallTimer);
      if (opts.onStderr && pending.trim() && opts.onStderr(pending) !== true) err = (err + pending).slice(-64 * 1024);
      const stderr = opts.stallMs
        ? err
            .split(/[\r\n]+/)
            .filter((l) => l.trim() && !PROGRESS_LINE.test(l))
            .join('\n')
        : err;
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr,
        ...(stalled ? { stalled } : {}),
      });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // git may exit before reading all input; the exit code says why.
      child.stdin!.end(opts.input);
    }
  });
}

/** Default stall bound for git's network transfers (seconds); see runGitRemote. */
export const DEFAULT_GIT_STALL_SECONDS = 60;
export const GIT_STALL_ENV = 'XENREL_GIT_STALL_SECONDS';

function gitStallSecondsOr(fallback: number, env: NodeJS.ProcessEnv): number {
  const v = env[GIT_STALL_ENV];
  if (v === undefined || v === '') return DEFAULT_GIT_STALL_SECONDS;
  return /^[1-9][0-9]{0,4}$/.test(v) && Number(v) <= 86400 ? Number(v) : fallback;
}

/**
 * The stall bound for git's network transfers, in seconds: `XENREL_GIT_STALL_SECONDS`
 * (a whole number, 1 to 86400), else 60. A value that is not one is a usage error.
 */
export function gitStallSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const n = gitStallSecondsOr(-1, env);
  if (n > 0) return n;
  throw new XenrelError(
    'E_USAGE',
    `${GIT_STALL_ENV}=${JSON.stringify(env[GIT_STALL_ENV])} is not a whole number of seconds from 1 to 86400`,
    {
      exitCode: ExitCode.usage,
      hint: `unset ${GIT_STALL_ENV} (default ${DEFAULT_GIT_STALL_SECONDS}) or set it to e.g. 120`,
    },
  );
}

/**
 * Run git against a remote (`fetch`, `ls-remote`), with every wait bounded by the stall
 * bound N (gitStallSeconds):
 *
 * - HTTP(S): git's `http.lowSpeedLimit=1` / `http.lowSpeedTime=N` make curl give up on a
 *   server that sends less than a byte a second for N seconds (connect and every request).
 * - Every transport (git://, ssh, HTTP too): a watchdog stops git when it writes nothing for
 *   N seconds. Fetches run with `--progress`, which git refreshes at least every second
 *   while objects arrive, and remotes send their own progress while they prepare a pack.
 * - ssh (when xenrel sets GIT_SSH_COMMAND): `ConnectTimeout` and `ServerAliveInterval`.
 *
 * A stopped git gives E_GIT_STALLED (exit 3) naming `url`; other failures are left to the
 * caller (the result's code and stderr, as runGit).
 */
export async function runGitRemote(
  args: string[],
  opts: RunGitOptions & { url: string; label?: string },
): Promise<GitResult> {
  const n = gitStallSeconds();
  const [cmd, ...rest] = args;
  // --progress: git writes while it works, which the watchdog counts as life, and its counts
  // feed the progress bar. unpackLimit=1: always index-pack, which reports bytes received
  // (unpack-objects, used for small fetches, reports nothing).
  const fetch = cmd === 'fetch';
  const r = await runGit(
    [
      '-c',
      'http.lowSpeedLimit=1',
      '-c',
      `http.lowSpeedTime=${n}`,
      ...(fetch ? ['-c', 'fetch.unpackLimit=1'] : []),
      cmd!,
      ...(fetch ? ['--progress'] : []),
      ...rest,
    ],
    { ...opts, stallMs: n * 1000 },
  );
  if (r.stalled || /Operation too slow/i.test(r.stderr)) throw gitStalled(opts.url, n, opts.label, r);
  return r;
}

export function gitStalled(url: string, seconds: number, label: string | undefined, r?: GitResult): XenrelError {
  return new XenrelError(
    'E_GIT_STALLED',
    `${label ? `component ${label}: ` : ''}${url} sent no data for ${seconds} s; git was stopped`,
    {
      exitCode: ExitCode.fetch,
      hint: `check the URL and your network access; a slow but live server may need a longer bound (${GIT_STALL_ENV}=${seconds * 2})`,
      details: { url, seconds, ...(r ? { stderr: r.stderr } : {}) },
    },
  );
}

/** Run git; a non-zero exit becomes an E_GIT error carrying git's own message. */
export async function git(args: string[], opts: RunGitOptions & { what?: string } = {}): Promise<string> {
  const r = await runGit(args, opts);
  if (r.code !== 0) throw gitFailure(args, r, opts.what);
  return r.stdout.toString('utf8');
}

export function gitFailure(args: string[], r: GitResult, what?: string): XenrelError {
  const msg = lastLines(r.stderr, 6) || `exit code ${r.code}`;
  return new XenrelError(
    'E_GIT',
    `${
      what ??
      `git ${args
        .filter((a) => !a.startsWith('-c'))
        .slice(0, 3)
        .join(' ')}`
    } failed: ${msg}`,
    {
      exitCode: ExitCode.fetch,
      hint: "check the URL and your network access; run with --debug for git's full output",
      details: { args, stderr: r.stderr },
    },
  );
}

export function lastLines(s: string, n: number): string {
  return s
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join('; ');
}

export { FULL_COMMIT_SHA1 as FULL_SHA } from '../../util/patterns.js';
export const SHORT_SHA = /^[0-9a-f]{4,39}$/;

/**
 * Settings for a git child that streams a whole tree (`cat-file --batch`, `archive`): git
 * otherwise maps pack windows of up to 1 GiB and keeps up to 96 MiB of delta bases, so its
 * RSS grows with the repository, and holds each blob below 512 MiB whole in memory. These
 * hold it near 12 MiB at the same speed (measured on Xen's history pack and on a tree of
 * 12 MiB blobs, which git now streams from the pack).
 */
export const BOUNDED_MEMORY_CONFIG = [
  'core.packedGitWindowSize=4m',
  'core.packedGitLimit=8m',
  'core.deltaBaseCacheLimit=8m',
  'core.bigFileThreshold=1m',
];

/** `-c` options for BOUNDED_MEMORY_CONFIG, to put before a command's arguments. */
export const boundedMemoryArgs = (): string[] => BOUNDED_MEMORY_CONFIG.flatMap((c) => ['-c', c]);

/** One record of `git ls-tree -z`. */
export interface LsTreeRecord {
  mode: string;
  type: string;
  oid: string;
  path: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes `from`..`to` of `rec` as their own string; undefined where a separator was missing. */
const latin1Field = (rec: Buffer, from: number, to: number) =>
  from < 0 || to < from ? undefined : rec.toString('latin1', from, to);

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
    // Each field read on its own: split() would give slices that keep the whole line alive
    // for as long as the object id is held (a release holds it through the whole write).
    const sp1 = rec.indexOf(0x20);
    const sp2 = sp1 < 0 ? -1 : rec.indexOf(0x20, sp1 + 1);
    const mode = latin1Field(rec, 0, sp1);
    const type = latin1Field(rec, sp1 + 1, sp2);
    const oid = sp2 < 0 ? undefined : latin1Field(rec, sp2 + 1, tab);
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
