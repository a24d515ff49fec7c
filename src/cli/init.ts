import { Command, Option } from 'clipanion';
import { access } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ExitCode, XenrelError } from '../errors.js';
import { displayPath, loadConfig, parseConfigText } from '../config/load.js';
import type { Report } from '../report/report.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkPins } from '../xen/check-pins.js';
import { readXenTree, renderConfigYaml } from '../xen/init.js';
import { OVERRIDE_RE } from '../xen/make-eval.js';
import { formatSite } from '../xen/scan-fetches.js';
import { BaseCommand } from './base.js';

export class InitCommand extends BaseCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    description: 'Write xenrel.config.yaml from the pins of a Xen tree',
    details: `
      Asks GNU make for the values of the tree's pin variables the way its build sees them —
      \`Config.mk\` with \`.config\`, the environment and any \`VAR=value\` given here as on a make
      command line — plus the iPXE variables of \`tools/firmware/etherboot/Makefile\` and the
      stubdom tarballs of \`stubdom/configure.ac\` (or \`config/Stubdom.mk\` when configured).
      Only variables are printed: no recipe of the tree runs, nothing is downloaded.

      It also scans the tree's Makefiles and scripts for every download (\`$(FETCHER)\`,
      \`git-checkout.sh\`, \`$(GIT) clone\`, \`wget\`, \`curl\`) and warns about any it cannot tie to
      a component, with file and line.

      \`--check\` writes nothing and exits 1 when the tree's variables and the config disagree
      (a fork bumped \`SEABIOS_UPSTREAM_REVISION\` but not the config), naming the variable,
      where it is set and both values, or when a download is not covered by any component.
    `,
    examples: [
      ['Write xenrel.config.yaml in the current Xen tree', '$0 init'],
      ['Read another tree, write the config elsewhere', '$0 init --xen-tree ~/src/xen --out /tmp/xen.yaml'],
      ['See what a different qemu pin would give', '$0 init --force QEMU_UPSTREAM_REVISION=master'],
      ['In CI: fail when Config.mk and the config drift apart', '$0 init --check'],
    ],
  });

  xenTree = Option.String('--xen-tree', { description: 'The Xen source tree (default: the current folder)' });
  out = Option.String('--out,-o', { description: 'Config file to write (default: DIR/xenrel.config.yaml)' });
  check = Option.Boolean('--check', false, {
    description: 'Write nothing; exit 1 when the tree and the config disagree',
  });
  force = Option.Boolean('--force', false, { description: 'Overwrite an existing config file' });
  overrides = Option.Rest({ name: 'VAR=value' });

  async run(report: Report): Promise<void> {
    for (const o of this.overrides)
      if (!OVERRIDE_RE.test(o))
        throw new XenrelError('E_USAGE', `unexpected argument "${o}"`, {
          exitCode: ExitCode.usage,
          hint: 'extra arguments are make variable overrides: NAME=VALUE',
        });
    const tree = resolve(this.cwd, this.xenTree ?? '.');
    const reading = await readXenTree(tree, { overrides: this.overrides });
    const { derived, scan, pins } = reading;

    for (const n of derived.notes) report.warn(n);
    for (const s of scan.unmapped) report.warn(`download not tied to any component: ${formatSite(s)}`);
    report.set('tree', tree);
    report.set(
      'components',
      Object.fromEntries(derived.components.map((d) => [d.name, { ...d.spec, pinnedBy: d.sources }])),
    );
    report.set('stubdomSource', pins.stubdom.source);
    report.set('fetchSites', scan.sites);
    report.set('unmappedFetches', scan.unmapped);

    if (this.check) return this.runCheck(report, tree, reading);

    const out = resolve(this.cwd, this.out ?? resolve(tree, 'xenrel.config.yaml'));
    const shown = displayPath(out, this.cwd);
    if (
      !this.force &&
      (await access(out).then(
        () => true,
        () => false,
      ))
    )
      throw new XenrelError('E_EXISTS', `${shown} already exists`, {
        exitCode: ExitCode.usage,
        hint: 'compare it with the tree using `xenrel init --check`, or pass --force to overwrite it',
      });
    const text = renderConfigYaml(reading, tree);
    parseConfigText(text, shown); // never write a config xenrel itself would reject
    await writeFileAtomic(out, text);
    report.set('written', shown);
    report.table(
      derived.components.map((d) => [
        d.name,
        d.spec.ref ?? basename(d.spec.url ?? ''),
        d.sources
          .map((s) => s.where)
          .filter((w, i, a) => a.indexOf(w) === i)
          .join(', ') || 'xenrel default',
      ]),
      ['COMPONENT', 'PIN', 'FROM'],
    );
    report.info(
      `wrote ${shown} (${derived.components.length} components; ${scan.sites.length} download sites in ${scan.filesScanned} build files${scan.unmapped.length ? `, ${scan.unmapped.length} not tied to a component` : ''})`,
    );
  }

  private async runCheck(report: Report, tree: string, reading: Awaited<ReturnType<typeof readXenTree>>) {
    const config = this.config ?? this.out;
    const loaded = await loadConfig({ cwd: config ? this.cwd : tree, config });
    const shown = displayPath(loaded.file, this.cwd);
    const drift = checkPins(reading.derived, loaded.config, shown);
    report.set('config', shown);
    report.set('drift', drift);
    for (const d of drift) report.output(d.message);
    if (drift.length || reading.scan.unmapped.length) {
      report.info(
        drift.length
          ? `${shown} does not match the tree: update it (\`xenrel init --force\`, or edit it), then \`xenrel lock\``
          : `${shown} matches the tree's pins, but the tree downloads something no component covers (see the warnings)`,
      );
      report.failWith(ExitCode.checkFailed);
    } else
      report.info(
        `${shown} matches the tree's pins (${reading.derived.components.filter((d) => d.sources.length).length} components checked)`,
      );
  }
}
