/**
 * Running a command with no network at all: a new network namespace (`unshare -n` as root,
 * `unshare -rn` otherwise), where the only interface, lo, is down. Nothing inside can reach
 * the loopback servers of the test, let alone the internet.
 */
import { spawn, spawnSync } from 'node:child_process';

export const netnsPrefix = (): string[] => (process.getuid?.() === 0 ? ['unshare', '-n'] : ['unshare', '-rn']);

/** True when this machine lets us make a network namespace (checked once). */
let usable: boolean | undefined;
export function canUnshareNet(): boolean {
  if (usable === undefined) {
    const [cmd, ...args] = netnsPrefix();
    usable = spawnSync(cmd!, [...args, 'true'], { stdio: 'ignore' }).status === 0;
  }
  return usable;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; netns?: boolean; timeoutMs?: number },
): Promise<RunResult> {
  const argv = opts.netns ? [...netnsPrefix(), cmd, ...args] : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** `make ARGS` in `cwd`, offline when `netns`. MAKEFLAGS from the test runner are dropped. */
export function make(
  cwd: string,
  args: string[] = [],
  opts: { netns?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', ...opts.env };
  delete env.MAKEFLAGS;
  delete env.MAKELEVEL;
  delete env.MFLAGS;
  return run('make', ['--no-print-directory', ...args], { cwd, env, netns: opts.netns });
}
