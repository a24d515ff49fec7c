import { spawn } from 'node:child_process';
import { stat, symlink } from 'node:fs/promises';
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
export function runShim(
  shell: string,
  root: string,
  tool: 'git' | 'fetch',
  args: string[],
  opts: ShimRunOptions = {},
): Promise<ShimResult> {
  const script = join(root, '.xenrel/bin', tool);
  const gated = opts.beforeStart !== undefined;
  return new Promise((resolve, reject) => {
    const child = gated
      ? spawn('/bin/sh', ['-c', 'read -r go; exec "$@"', 'sh', shell, script, ...args], {
          cwd: opts.cwd ?? root,
          env: { ...process.env, ...opts.env },
          stdio: ['pipe', 'pipe', 'pipe'],
        })
      : spawn(shell, [script, ...args], {
          cwd: opts.cwd ?? root,
          env: { ...process.env, ...opts.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr }));
    if (gated) void opts.beforeStart!(child.pid!).then(() => child.stdin!.end('go\n'), reject);
  });
}

/**
 * Fills `bin` with links to these tools only (from /usr/bin or /bin, where they exist): a
 * PATH that proves the shim needs nothing else.
 */
export async function binWith(bin: string, tools: readonly string[]): Promise<string> {
  for (const t of tools)
    for (const d of ['/usr/bin', '/bin'])
      if (await stat(join(d, t)).catch(() => undefined)) {
        await symlink(join(d, t), join(bin, t));
        break;
      }
  return bin;
}
