import { Command, Option } from 'clipanion';
import { resolve } from 'node:path';
import { ExitCode } from '../errors.js';
import { diffReleases, formatShortLogs } from '../lock/changelog.js';
import { formatChanges } from '../lock/diff.js';
import { requireLock } from '../lock/lockfile.js';
import type { Report } from '../report/report.js';
import { wholeNumberOption } from './numeric-options.js';
import { BaseCommand } from './base.js';

export class DiffCommand extends BaseCommand {
  static override paths = [['diff']];
  static override usage = Command.Usage({
    description: 'Show what changed between two lockfiles (two releases), with upstream short logs',
    details: `
      Compares OLD and NEW component by component: added (\`+\`), removed (\`-\`) and changed
      (\`~\`) components with each field that moved (ref, commit, integrity, tree, nested
      sources, patches). For every git pin that moved (nested submodules and wraps too) whose
      old and new commits are both in the cache's mirror, it adds the upstream
      \`git log --oneline OLD..NEW\`, ready for release notes. Never uses the network: run
      \`xenrel fetch\` with each lock first to have both commits. Exit code 0, or 1 with
      \`--exit-code\` when the locks differ.
    `,
    examples: [
      ["Release notes between two tarballs' locks", '$0 diff xen-4.21.0/xenrel.lock xen-4.22.0/xenrel.lock'],
      ['For a script', '$0 diff old.lock xenrel.lock --json'],
    ],
  });

  old = Option.String({ name: 'OLD.lock' });
  new = Option.String({ name: 'NEW.lock' });
  exitCode = Option.Boolean('--exit-code', false, { description: 'Exit 1 when the locks differ' });
  noLog = Option.Boolean('--no-log', false, { description: 'Do not add upstream short logs' });
  limit = Option.String('--limit', '200', { description: 'At most this many commits per short log (default 200)' });

  async run(report: Report): Promise<void> {
    const before = await requireLock(resolve(this.cwd, this.old), this.old);
    const after = await requireLock(resolve(this.cwd, this.new), this.new);
    const limit = wholeNumberOption('--limit', this.limit, 1, 1_000_000);
    const d = await diffReleases(before, after, { cache: this.noLog ? undefined : await this.openCache(), limit });
    report.set('changes', d.changes);
    report.set('logs', d.logs);
    if (!d.changes.length) report.info(`${this.old} and ${this.new} pin the same sources`);
    else {
      report.output(formatChanges(d.changes));
      if (d.logs.length) report.output(`\n${formatShortLogs(d.logs)}`);
      if (this.exitCode) report.failWith(ExitCode.checkFailed);
    }
  }
}
