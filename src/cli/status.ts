import { Command, Option } from 'clipanion';
import { readLock } from '../lock/lockfile.js';
import { pinMatchesLocked, specMatchesLocked } from '../lock/diff.js';
import { displayPath } from '../config/load.js';
import { compareBytewise } from '../tree/hash.js';
import { opsFor, specOps } from '../components/dispatch.js';
import type { ComponentKind } from '../model/kind.js';
import type { Report } from '../report/report.js';
import { jobsOption } from './numeric-options.js';
import { BaseCommand } from './base.js';
import { describeUpstream, upstreamStatus } from '../upstream/check.js';

export interface StatusRow {
  name: string;
  kind: ComponentKind;
  pin: string;
  locked?: string;
  lockState: 'locked' | 'metadata' | 'stale' | 'unlocked' | 'not-in-config';
  cached: boolean | null;
  path: string;
}

export class StatusCommand extends BaseCommand {
  static override paths = [['status']];
  static override usage = Command.Usage({
    description: 'Show each component: pin, locked commit or integrity, whether it is in the cache',
    details: `
      One line per component of the config and the lock: the pin as written (tag, branch,
      commit or URL), what the lock resolved it to, whether the lock still matches the config
      (\`stale\` means run \`xenrel lock\`; \`metadata\` means the pin holds and only its license changed), and whether the cache holds it (\`xenrel fetch\`).
      Nothing is downloaded.

      \`--upstream\` asks upstream instead: per component, the tags of the pin's series that
      are newer than the pin (version-aware: \`rel-1.16.0\` → \`rel-1.17.0\`; for a commit pin,
      newer than the nearest tag before it), whether a tag or branch pin moved away from the
      locked commit, and whether a tarball's bytes at its URL changed. A component that cannot
      be reached is reported with its error; the others are still checked. \`xenrel bump NAME\`
      moves a pin.
    `,
    examples: [
      ['Show the state of every component', '$0 status'],
      ['The same, for scripts', '$0 status --json'],
      ['What is new upstream', '$0 status --upstream'],
    ],
  });

  upstream = Option.Boolean('--upstream', false, {
    description: 'Check upstream for newer tags, moved branches and changed tarballs',
  });
  jobs = Option.String('--jobs,-j', '4', { description: 'Components checked at once (--upstream)' });

  async run(report: Report): Promise<void> {
    const jobs = jobsOption(this.jobs);
    const loaded = await this.loadConfig();
    const lockFile = this.lockPathFor(loaded);
    const lock = await readLock(lockFile, displayPath(lockFile, this.cwd));
    const cache = await this.openCache();
    const names = [...new Set([...Object.keys(loaded.config.components), ...Object.keys(lock?.components ?? {})])].sort(
      compareBytewise,
    );
    const rows: StatusRow[] = [];
    for (const name of names) {
      const spec = loaded.config.components[name];
      const locked = lock?.components[name];
      const ops = spec ? specOps(spec) : opsFor(locked!);
      rows.push({
        name,
        kind: ops.kind,
        pin: spec ? ops.pinOf(spec) : '(removed from config)',
        locked: locked && opsFor(locked).lockedPin(locked),
        lockState: !spec
          ? 'not-in-config'
          : !locked
            ? 'unlocked'
            : specMatchesLocked(spec, locked)
              ? 'locked'
              : pinMatchesLocked(spec, locked)
                ? 'metadata'
                : 'stale',
        cached: locked ? await opsFor(locked).inCache(locked, cache) : false,
        path: spec?.path ?? locked!.path,
      });
    }
    report.set('lockfile', lock ? displayPath(lockFile, this.cwd) : null);
    report.set('cache', cache.root);
    report.set('components', rows);
    if (this.upstream) {
      await cache.init();
      const ups = await upstreamStatus({ loaded, lock, cache, jobs, progress: report });
      report.set('upstream', ups);
      report.table(
        ups.map((u) => [u.name, u.kind, u.pin, describeUpstream(u)]),
        ['COMPONENT', 'KIND', 'PIN', 'UPSTREAM'],
        { primary: true },
      );
      const behind = ups.filter((u) => u.newer.length || u.moved || u.changed).length;
      report.info(
        behind
          ? `${behind} component${behind === 1 ? '' : 's'} behind upstream: \`xenrel bump NAME\` moves a pin`
          : 'every pin is current',
      );
      return;
    }
    report.table(
      rows.map((r) => [
        r.name,
        r.kind,
        r.pin,
        r.locked ? (r.kind === 'git' ? r.locked.slice(0, 12) : `${r.locked.slice(0, 19)}…`) : '-',
        r.lockState,
        r.cached === null ? 'n/a' : r.cached ? 'cached' : 'missing',
      ]),
      ['COMPONENT', 'KIND', 'PIN', 'LOCKED', 'LOCK', 'CACHE'],
      { primary: true },
    );
    if (!lock) report.info('no xenrel.lock yet: run `xenrel lock`');
  }
}
