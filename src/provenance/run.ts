import { spawn } from 'node:child_process';
import { ExitCode, XenrelError } from '../errors.js';

export interface ToolRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run gpg or ssh-keygen with `input` on stdin; a missing program is a usage error naming it. */
export function runTool(
  program: string,
  args: string[],
  opts: { input?: Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, LC_ALL: 'C', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new XenrelError('E_MISSING_PROGRAM', `${program} is not installed, and the provenance signature needs it`, {
              exitCode: ExitCode.usage,
              hint: program === 'gpg' ? 'install GnuPG (gpg)' : 'install OpenSSH (ssh-keygen)',
            })
          : err,
      ),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? Buffer.alloc(0));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr }));
  });
}

/** The last lines of a tool's complaint, for a one-line message. */
export const lastLines = (stderr: string, code: number): string =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('[GNUPG:]'))
    .slice(-2)
    .join(' ') || `exit code ${code}`;
