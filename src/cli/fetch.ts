import { Command, Option } from 'clipanion';
import { fetchAll } from '../fetch/fetch-all.js';
import type { Report } from '../report/report.js';
import { jobsOption } from './numeric-options.js';
import { BaseCommand } from './base.js';

export class FetchCommand extends BaseCommand {
  static override paths = [['fetch']];
  static override usage = Command.Usage({
    description: 'Download every locked component into the verified cache',
    details: `
      Brings every component of \`xenrel.lock\` into the cache (\`--cache\`, \`$XENREL_CACHE\`, or
      \`$XDG_CACHE_HOME/xenrel\`), checking each against the lock: tarballs by their sha512
      integrity (mirrors first, then the URL; a mismatch moves on to the next source),
      git components by commit and tree hash. What the cache already holds and verifies is
      not downloaded again, so the download phase of a build (Yocto's do_fetch, Buildroot's
      \`make source\`) runs this once and the build itself needs no network.

      \`--offline\` never opens a connection and exits 3 naming every component that is missing.

      \`--premirror-only\` fetches only from the config's \`mirrors:\` (tarballs as
      \`<mirror>/<file name>\`, git as \`<mirror>/git/<name>.git\`, the layout \`xenrel mirror\`
      writes), never from an upstream URL, and exits 3 naming every component no mirror has:
      Yocto's BB_FETCH_PREMIRRORONLY.
    `,
    examples: [
      ['Fetch everything', '$0 fetch'],
      ['Fetch two components, eight at a time', '$0 fetch --jobs 8 seabios qemu-xen'],
      ['Prove the cache is complete, without network', '$0 fetch --offline'],
      ['Fetch from the organisation mirror only', '$0 fetch --premirror-only'],
    ],
  });

  offline = Option.Boolean('--offline', false, { description: 'Use only the cache; fail naming what is missing' });
  premirrorOnly = Option.Boolean('--premirror-only', false, {
    description: "Fetch only from the config's mirrors, never from upstream URLs",
  });
  jobs = Option.String('--jobs,-j', '4', { description: 'Downloads at once (default 4)' });
  names = Option.Rest({ name: 'NAME' });

  async run(report: Report): Promise<void> {
    const jobs = jobsOption(this.jobs);
    const { loaded, lock } = await this.loadLocked();
    const cache = await this.openCache();
    report.info(
      `fetching ${this.names.length || Object.keys(lock.components).length} components into ${cache.root}${this.offline ? ' (offline)' : this.premirrorOnly ? ' (mirrors only)' : ''}`,
    );
    try {
      const outcomes = await fetchAll({
        lock,
        cache,
        loaded,
        names: this.names,
        offline: this.offline,
        premirrorOnly: this.premirrorOnly,
        jobs,
        progress: report,
      });
      report.set('components', outcomes);
      const fetched = outcomes.filter((o) => o.status === 'fetched').length;
      report.info(`done: ${fetched} fetched, ${outcomes.length - fetched} already in the cache`);
    } catch (err) {
      const outcomes = (err as { details?: { outcomes?: unknown } }).details?.outcomes;
      if (outcomes) report.set('components', outcomes);
      throw err;
    }
  }
}
