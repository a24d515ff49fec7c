import { Command } from 'clipanion';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { XenrelError } from '../errors.js';
import { readLock } from '../lock/lockfile.js';
import type { Report } from '../report/report.js';
import { clean } from '../vendoring/vendor.js';
import { XENREL_DIR } from '../layout/xenrel-dir.js';
import { BaseCommand } from './base.js';

export class CleanCommand extends BaseCommand {
  static override paths = [['clean']];
  static override usage = Command.Usage({
    description: 'Remove what `xenrel vendor` placed in the tree (the cache stays)',
    details: `
      Removes the store (\`.xenrel/sources\`), the shim and its files under \`.xenrel/\`, the
      xenrel block in \`.config\` (the rest of the file is kept byte for byte; a \`.config\` that
      held only the block is removed), and the component paths vendor materialised — for the
      components of the vendored lock (\`.xenrel/xenrel.lock\`) that were not left out. Nothing
      else in the tree is touched, and the cache is not touched at all: \`xenrel vendor\`
      puts everything back without downloading.
    `,
    examples: [['Undo `xenrel vendor`', '$0 clean']],
  });

  async run(report: Report): Promise<void> {
    // The tree is the config's folder; without a config (a release tarball), the current one.
    let root = this.cwd;
    let lockPath: string | undefined;
    try {
      const loaded = await this.loadConfig();
      root = loaded.root;
      lockPath = this.lockPathFor(loaded);
    } catch (err) {
      if (
        !(
          err instanceof XenrelError &&
          err.code === 'E_NO_CONFIG' &&
          !this.config &&
          (await stat(join(root, XENREL_DIR)).catch(() => undefined))
        )
      )
        throw err;
    }
    const lock = lockPath ? await readLock(lockPath) : undefined;
    const res = await clean(root, { lock });
    report.set('removed', res.removed);
    report.set('config', res.config);
    for (const p of res.removed) report.info(`removed ${p}`);
    if (res.config) report.info('.config: removed the xenrel block');
    if (!res.removed.length && !res.config) report.output('nothing to clean: the tree has nothing vendor placed');
    else
      report.output(
        `cleaned: ${res.removed.length} path(s) removed${res.config ? ', .config block removed' : ''}; the cache is untouched`,
      );
  }
}
