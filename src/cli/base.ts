import { Command, Option } from 'clipanion';
import { dirname, join } from 'node:path';
import type { Cache } from '../content-cache/cache.js';
import { LOCKFILE_NAME } from '../layout/xenrel-dir.js';
import { resolveWithout } from '../xen/without.js';
import { Report } from '../report/report.js';
import type { LoadedConfig } from '../config/load.js';
import type { Lockfile } from '../model/lock.js';

/**
 * Global options and the one error path every command shares. A command implements
 * `run(report)`; output and the exit code go through the report.
 */
export abstract class BaseCommand extends Command {
  config = Option.String('--config', {
    description: 'Config file (default: the nearest xenrel.config.yaml, .xenrelrc or package.json "xenrel" key)',
  });
  cacheDir = Option.String('--cache', {
    description: 'Cache folder (default: $XENREL_CACHE, else $XDG_CACHE_HOME/xenrel)',
  });
  json = Option.Boolean('--json', false, { description: 'Print one JSON document for machines' });
  quiet = Option.Boolean('--quiet,-q', false, { description: 'Print only errors and the essential result' });
  debug = Option.Boolean('--debug', false, { description: 'Show stack traces of unexpected errors' });

  abstract run(report: Report): Promise<void>;

  /** The running command's report (for helpers that need to tell the user something). */
  private report?: Report;

  async execute(): Promise<number> {
    const tty = Boolean((this.context.stderr as NodeJS.WriteStream).isTTY);
    const report = new Report({
      stdout: this.context.stdout,
      stderr: this.context.stderr,
      json: this.json,
      quiet: this.quiet,
      debug: this.debug,
      tty,
      bars: tty && !this.json && !this.quiet ? (await import('cli-progress')).default : undefined,
      command: this.path.join(' ') || undefined,
    });
    this.report = report;
    try {
      await this.run(report);
    } catch (err) {
      report.error(err);
    }
    return report.finish();
  }

  get cwd(): string {
    return process.cwd();
  }

  // The cache, the lock format (zod) and the config loader (yaml) load only in the commands
  // that use them: `hash` and `verify` start without them.
  async openCache(): Promise<Cache> {
    const { Cache, defaultCacheDir } = await import('../content-cache/cache.js');
    const cache = new Cache(this.cacheDir ? this.cacheDir : defaultCacheDir());
    const report = this.report;
    if (report)
      cache.onWait = (what) =>
        report.info(`waiting for another xenrel process, which holds ${what} in the cache ${cache.root}`);
    return cache;
  }

  async loadConfig(): Promise<LoadedConfig> {
    const { loadConfig } = await import('../config/load.js');
    return loadConfig({ cwd: this.cwd, config: this.config });
  }

  /**
   * `--without NAME|GROUP` → component names (groups from the config's `groups:`), and the
   * Xen configure options that make the build do without them.
   */
  resolveWithout(loaded: LoadedConfig, names: string[]): { names: string[]; flags: string[] } {
    if (!names.length) return { names: [], flags: [] };
    const r = resolveWithout(names, loaded.config.components);
    return { names: [...r.components.map((c) => c.component), ...r.unswitchable].sort(), flags: r.flags };
  }

  /** The config and its lockfile, which must exist (`xenrel lock` first). */
  async loadLocked(): Promise<{ loaded: LoadedConfig; lock: Lockfile; lockFile: string }> {
    const loaded = await this.loadConfig();
    const lockFile = this.lockPathFor(loaded);
    const [{ displayPath }, { requireLock }] = await Promise.all([
      import('../config/load.js'),
      import('../lock/lockfile.js'),
    ]);
    return { loaded, lockFile, lock: await requireLock(lockFile, displayPath(lockFile, this.cwd)) };
  }

  /** The lockfile sits beside the config. */
  lockPathFor(loaded: LoadedConfig): string {
    return join(dirname(loaded.file), LOCKFILE_NAME);
  }
}
