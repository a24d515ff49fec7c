/** Exit codes, as documented in the README. */
export const ExitCode = {
  ok: 0,
  checkFailed: 1,
  usage: 2,
  fetch: 3,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Every error a user can see. `code` is stable (E_CONFIG, E_INTEGRITY, …) so that
 * scripts and tests can match on it; `hint` says what to do next.
 */
export class XenrelError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    opts: { exitCode?: ExitCodeValue; hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'XenrelError';
    this.code = code;
    this.exitCode = opts.exitCode ?? ExitCode.usage;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

export const configError = (message: string, hint?: string) =>
  new XenrelError('E_CONFIG', message, { exitCode: ExitCode.usage, hint });

export const usageError = (message: string, hint?: string) =>
  new XenrelError('E_USAGE', message, { exitCode: ExitCode.usage, hint });

export const fetchError = (
  code: string,
  message: string,
  opts: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
) => new XenrelError(code, message, { ...opts, exitCode: ExitCode.fetch });

export const checkError = (
  code: string,
  message: string,
  opts: { hint?: string; details?: Record<string, unknown> } = {},
) => new XenrelError(code, message, { ...opts, exitCode: ExitCode.checkFailed });

/** ENOSPC and friends are reported as such, never as a stack trace. */
export function wrapFsError(err: unknown, what: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e && (e.code === 'ENOSPC' || e.code === 'EDQUOT')) {
    return new XenrelError('E_NOSPACE', `no space left on device while ${what}`, {
      exitCode: ExitCode.fetch,
      hint: 'free some disk space (or point XENREL_CACHE elsewhere) and run the command again; nothing already stored was changed',
      cause: err,
    });
  }
  return err;
}

/**
 * A file-system error as the user's problem, not xenrel's: no space (E_NOSPACE), or any
 * other errno (E_FS, its code in the message). Anything else is returned as is.
 */
export function fsFailure(err: unknown, what: string, hint?: string): unknown {
  const wrapped = wrapFsError(err, what);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (wrapped !== err || !code || !/^E[A-Z]+$/.test(code)) return wrapped;
  return new XenrelError('E_FS', `${what}: ${code} (${(err as Error).message})`, {
    exitCode: ExitCode.fetch,
    hint: hint ?? 'check the path and its permissions, then run the command again',
    details: { errno: code },
    cause: err,
  });
}

/**
 * An error as a report shows it and `--json` prints it: plain data, so library results
 * (a failed component in a batch) carry it without depending on the report.
 */
export interface ReportedError {
  code: string;
  message: string;
  hint?: string;
  exitCode: number;
  details?: Record<string, unknown>;
}

/** Any thrown value as a ReportedError; an unexpected one says to rerun with --debug. */
export function toReported(err: unknown): ReportedError {
  if (err instanceof XenrelError)
    return { code: err.code, message: err.message, hint: err.hint, exitCode: err.exitCode, details: err.details };
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT')
    return {
      code: 'E_NOSPACE',
      message: `no space left on device: ${e.message}`,
      exitCode: ExitCode.fetch,
      hint: 'free some disk space and run the command again',
    };
  return {
    code: 'E_INTERNAL',
    message: `unexpected error: ${e?.message ?? String(err)}`,
    exitCode: ExitCode.usage,
    hint: 'run again with --debug for the stack trace, and report it',
  };
}
