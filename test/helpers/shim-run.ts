import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface ShimResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface ShimRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Called with the pid before the tool starts: the script then runs as that process
   * itself (exec), so its `$$` is this pid and files named after it can be planted first.
   */
  beforeStart?: (pid: number) => Promise<void>;
}

/** Runs `.xenrel/bin/TOOL` of the tree at `root` under `shell` (dash, bash, busybox sh …). */
export function runShim(shell: string, root: string, tool: 'git' | 'fetch', args: string[], opts: ShimRunOptions = {}): Promise<ShimResult> {
  const script = join(root, '.xenrel/bin', tool);
  const gated = opts.beforeStart !== undefined;
  return new Promise((resolve, reject) => {
    const child = gated
      ? spawn('/bin/sh', ['-c', 'read -r go; exec "$@"', 'sh', shell, script, ...args], {
          cwd: opts.cwd ?? root,
          env: { ...process.env, ...opts.env },
          stdio: ['pipe', 'pipe', 'pipe'],
        })
      : spawn(shell, [script, ...args], { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr }));
    if (gated) void opts.beforeStart!(child.pid!).then(() => child.stdin!.end('go\n'), reject);
  });
}
