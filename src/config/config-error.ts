import { ExitCode, XenrelError } from '../errors.js';

/** One problem in a config or lockfile, at a position a user can jump to. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** Every problem found in a config or lockfile, each as file:line:col. */
export class ConfigError extends XenrelError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], hint?: string) {
    super(
      'E_CONFIG',
      issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'),
      {
        exitCode: ExitCode.usage,
        hint,
        details: { issues },
      },
    );
    this.issues = issues;
  }
}
