import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { run, type RunResult } from './netns.js';

export const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'dist', 'cli.js');

export type CliResult = RunResult;

/** Run the built CLI (`npm test` builds first) as a user would. */
export function runCli(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return run(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    timeoutMs: opts.timeoutMs,
  });
}
