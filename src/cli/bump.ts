import { Command, Option } from 'clipanion';
import { relative } from 'node:path';
import { bump } from '../bump/bump.js';
import { displayPath } from '../config/load.js';
import type { Report } from '../report/report.js';
import { BaseCommand } from './base.js';

export class BumpCommand extends BaseCommand {
  static override paths = [['bump']];
  static override usage = Command.Usage({
    description: 'Move a pin to a newer upstream version, re-lock, and print the upstream log',
    details: `
      Moves the pin of component NAME: \`--to\` a tag, branch or commit (git), or a version or
      URL (tarball: the version in the old URL is replaced). Without \`--to\`, a git pin moves to
      the newest upstream tag of its series (\`rel-1.16.0\` → \`rel-1.17.0\`, the order
      \`xenrel status --upstream\` shows), and a branch pin to the branch's current commit.

      The config is edited in place (only the pin changes; comments and layout stay). When the
      config was written by \`xenrel init\` from this Xen tree, the make variable the pin came
      from (\`SEABIOS_UPSTREAM_REVISION ?= …\` in Config.mk, wherever make says it is defined)
      is rewritten too. Then the component is re-locked and the upstream short log between the
      old and the new commit is printed, ready for release notes. Files with uncommitted
      changes are not edited unless \`--allow-dirty\`; if re-locking fails, every edit is undone.
    `,
    examples: [
      ['Move SeaBIOS to its newest release tag', '$0 bump seabios'],
      ['Pin a given tag', '$0 bump qemu-xen --to qemu-xen-4.23.0'],
      ['A new stubdom library version', '$0 bump zlib --to 1.3.1'],
    ],
  });

  to = Option.String('--to', { description: 'Tag, branch or commit (git); version or URL (tarball)' });
  allowDirty = Option.Boolean('--allow-dirty', false, { description: 'Edit files that have uncommitted changes' });
  configOnly = Option.Boolean('--config-only', false, { description: "Do not rewrite the Xen tree's make variables" });
  name = Option.String({ name: 'NAME' });

  async run(report: Report): Promise<void> {
    const loaded = await this.loadConfig();
    const lockFile = this.lockPathFor(loaded);
    const cache = await this.openCache();
    await cache.init();
    const r = await bump({
      loaded,
      lockFile,
      cache,
      name: this.name,
      to: this.to,
      allowDirty: this.allowDirty,
      configOnly: this.configOnly,
      progress: report,
    });
    for (const w of r.warnings) report.warn(w);
    report.set('bump', r);
    if (r.unchanged) {
      report.info(`${r.name}: nothing to bump`);
      return;
    }
    const short = (c?: string) => (c ? ` (${c.slice(0, 12)})` : '');
    report.output(`${r.name}: ${r.from.pin}${short(r.from.commit)} -> ${r.to.pin}${short(r.to.commit)}`);
    if (r.configEdit) report.info(`  ${displayPath(r.configEdit.file, this.cwd)}: ${r.configEdit.field} = ${r.to.pin}`);
    for (const e of r.treeEdits)
      report.info(`  ${relative(this.cwd, `${loaded.root}/${e.file}`) || e.file}:${e.line}: ${e.after.trim()}`);
    for (const s of r.skipped) report.warn(`not rewritten: ${s}`);
    report.info(`  ${displayPath(lockFile, this.cwd)} updated`);
    if (r.direction === 'backward')
      report.warn(`${r.to.pin} is older than ${r.from.pin}: the log lists the commits this bump removes`);
    if (r.log.length) {
      report.output(
        `${r.direction === 'backward' ? 'Removed' : 'Upstream changes'} in ${r.name} (${r.log.length} commit${r.log.length === 1 ? '' : 's'}):`,
      );
      for (const l of r.log) report.output(`  ${l.commit.slice(0, 12)} ${l.subject}`);
    }
  }
}
