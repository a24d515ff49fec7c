import { Command, Option } from 'clipanion';
import { ExitCode, usageError } from '../errors.js';
import { readLock, writeLock } from '../lock/lockfile.js';
import { checkLock, lockProject } from '../lock/resolve.js';
import { formatChanges } from '../lock/diff.js';
import { displayPath } from '../config/load.js';
import type { Report } from '../report/report.js';
import { jobsOption } from './numeric-options.js';
import { BaseCommand } from './base.js';

export class LockCommand extends BaseCommand {
  static override paths = [['lock']];
  static override usage = Command.Usage({
    description: 'Resolve every pin in the config into xenrel.lock',
    details: `
      Writes \`xenrel.lock\` beside the config: for git components the commit the ref points
      to and the tree hash of its content; for tarballs the sha512 integrity and size of the
      bytes (and the tree hash of their content). Components whose entry still matches the
      config are kept as they are, without network access, so re-locking unchanged inputs
      leaves the file byte-identical.

      \`--check\` writes nothing and exits 1 with a per-component diff when the config changed
      a pin, a tag or branch now points elsewhere, or a tarball's bytes changed upstream: the
      check to run in CI. With \`--offline\` only the config is compared with the lock (and local
      components and patch files re-hashed): instant, and enough for a pre-commit hook. An edit of metadata only (\`license\`) is listed as metadata and
      does not fail the check: no pin moved, and \`xenrel lock\` copies it into the lock
      without downloading anything. Config fields the lock does not hold (\`groups\`,
      \`vars\`, \`description\`, \`configure\`, \`mirrors\`) never make it out of date. \`--update NAME\` re-resolves only the named components (a moved tag, a new
      release on a branch pin).
    `,
    examples: [
      ['Lock (or re-lock) the project', '$0 lock'],
      ['Fail CI when upstream or the config moved', '$0 lock --check'],
      ['Only whether the lock still answers the config (no network)', '$0 lock --check --offline'],
      ['Take the new commit of a branch pin', '$0 lock --update mini-os'],
    ],
  });

  check = Option.Boolean('--check', false, { description: 'Write nothing; exit 1 when the lock is out of date' });
  offline = Option.Boolean('--offline', false, {
    description: 'With --check: compare the config with the lock only (no network; moved tags are not seen)',
  });
  update = Option.Array('--update', [], { description: 'Re-resolve only this component (repeatable)' });
  jobs = Option.String('--jobs,-j', '4', { description: 'Components resolved at once' });

  async run(report: Report): Promise<void> {
    const jobs = jobsOption(this.jobs);
    if (this.offline && !this.check)
      throw usageError('--offline goes with --check: resolving a pin needs its upstream');
    const loaded = await this.loadConfig();
    const cache = await this.openCache();
    if (!this.offline) await cache.init();
    const lockFile = this.lockPathFor(loaded);
    const shown = displayPath(lockFile, this.cwd);
    const existing = await readLock(lockFile, shown);

    if (this.check) {
      const changes = await checkLock({ loaded, cache, existing, progress: report, jobs, offline: this.offline });
      const drift = changes.filter((c) => c.kind !== 'metadata');
      const metadata = changes.filter((c) => c.kind === 'metadata');
      report.set('lockfile', shown);
      report.set('drift', drift);
      report.set('metadata', metadata);
      if (drift.length) {
        report.output(`${shown} is out of date:\n${formatChanges(drift)}`);
        if (metadata.length)
          report.output(`metadata changed in the config (no pin moved):\n${formatChanges(metadata)}`);
        report.info('Run `xenrel lock` (or `xenrel lock --update NAME`) to update it.');
        report.failWith(ExitCode.checkFailed);
      } else if (metadata.length) {
        report.output(`${shown}: every pin holds; metadata changed in the config:\n${formatChanges(metadata)}`);
        report.info('Run `xenrel lock` to copy it into the lock (nothing is downloaded).');
      } else
        report.info(
          `${shown} is up to date (${Object.keys(loaded.config.components).length} components checked against ${this.offline ? 'the config, offline: a moved tag or changed upstream bytes would not show' : 'upstream'})`,
        );
      return;
    }

    const { lock, changes, warnings } = await lockProject({
      loaded,
      cache,
      existing,
      update: this.update,
      progress: report,
      jobs,
    });
    for (const w of warnings) report.warn(w);
    const written = await writeLock(lockFile, lock);
    report.set('lockfile', shown);
    report.set('changes', changes);
    report.set('written', written);
    if (!written) report.info(`${shown} is up to date; nothing changed`);
    else report.info(`wrote ${shown}${changes.length ? `:\n${formatChanges(changes)}` : ''}`);
  }
}
