import { Command, Option } from 'clipanion';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { XenrelError } from '../errors.js';
import { readLock } from '../lock/lockfile.js';
import { displayPath } from '../config/load.js';
import { human, type Report } from '../report/report.js';
import type { LoadedConfig } from '../config/load.js';
import { splitArgs } from '../xen/configure-options.js';
import { readXenTree } from '../xen/init.js';
import { planBuild } from '../xen/plan.js';
import { BaseCommand } from './base.js';

export class PlanCommand extends BaseCommand {
  static override paths = [['plan']];
  static override usage = Command.Usage({
    description: 'List what a build of this Xen tree will download',
    details: `
      For a Xen tree configured with the given options, lists every source the build will
      download — component, URL, pin, size (from xenrel.lock), whether it is already in the
      cache or in the tree — and, separately, the components the options leave out with the
      option responsible.

      The defaults are those of Xen's configure: stub domains on for x86 hosts (Mini-OS,
      newlib, zlib, pciutils), the vTPM stub domains on when \`cmake\` is installed (lwip, gmp,
      polarssl, tpm_emulator), qemu-xen and SeaBIOS on, OVMF and iPXE off unless enabled,
      pv-grub (GRUB 0.97) off, and \`--disable-extfiles\` moving five stubdom URLs upstream.

      Without a xenrel config, the pins are read from the tree's makefiles as \`xenrel init\`
      would.
    `,
    examples: [
      ['What does a default build download?', '$0 plan'],
      ['A distro build with its own qemu and OVMF enabled', '$0 plan --configure="--with-system-qemu --enable-ovmf"'],
      ['The same, configure arguments after --', '$0 plan -- --with-system-qemu --enable-ovmf'],
      ['For a script', '$0 plan --json --configure="--disable-stubdom"'],
    ],
  });

  configure = Option.String('--configure', '', {
    description: 'Arguments for Xen\'s ./configure, in one string: --configure="--enable-ovmf --disable-stubdom"',
  });
  /** `xenrel plan -- --enable-ovmf`: configure arguments as they are (a value that starts with "--" needs `--configure=…`). */
  configureRest = Option.Rest({ name: 'configure-args' });
  host = Option.String('--host', {
    description: 'Build for this host triplet (default: this machine), like configure --host',
  });

  async run(report: Report): Promise<void> {
    const loaded = await this.configOrTree(report);
    const lock = loaded.file
      ? await readLock(this.lockPathFor(loaded), displayPath(this.lockPathFor(loaded), this.cwd))
      : undefined;
    const plan = await planBuild({
      config: loaded.config,
      root: loaded.root,
      lock,
      cache: await this.openCache(),
      configure: [...splitArgs(this.configure), ...this.configureRest],
      host: this.host,
    });
    for (const w of plan.warnings) report.warn(w);
    report.set('host', plan.host);
    report.set('cmake', plan.cmake);
    report.set('configure', plan.configure);
    report.set('components', plan.components);
    report.set('excluded', plan.excluded);
    report.set('ignoredOptions', plan.ignored);

    report.info(
      `Xen build for ${plan.host}${plan.configure.length ? ` with ${plan.configure.join(' ')}` : ' with configure defaults'}${plan.cmake ? ' (cmake found)' : ' (no cmake)'}:`,
    );
    if (plan.components.length)
      report.table(
        plan.components.map((c) => [
          c.name,
          c.url,
          c.ref,
          c.size !== null ? human(c.size) : c.kind === 'git' ? '-' : '?',
          c.cached ? 'yes' : 'no',
          c.vendored ? 'yes' : 'no',
        ]),
        ['COMPONENT', 'URL', 'PIN', 'SIZE', 'CACHED', 'VENDORED'],
        { primary: true },
      );
    else report.output('  nothing is downloaded');
    const toFetch = plan.components.filter((c) => !c.cached && !c.vendored).length;
    report.info(
      `${plan.components.length} downloaded by the build; ${toFetch} neither cached nor vendored${lock ? '' : ' (no xenrel.lock: sizes and cache state unknown; run `xenrel lock`)'}`,
    );
    if (plan.excluded.length) {
      report.info('Left out by this configuration:');
      report.table(plan.excluded.map((e) => [`  ${e.name}`, e.reason, `[${e.option}]`]));
    }
    if (plan.ignored.length) report.info(`Options that change no download: ${plan.ignored.join(' ')}`);
  }

  /** The config, or — in a Xen tree without one — the pins its makefiles give. */
  private async configOrTree(report: Report): Promise<LoadedConfig & { file: string }> {
    try {
      return await this.loadConfig();
    } catch (err) {
      const isXenTree = await access(join(this.cwd, 'Config.mk')).then(
        () => true,
        () => false,
      );
      if (!(err instanceof XenrelError) || err.code !== 'E_NO_CONFIG' || this.config || !isXenTree) throw err;
      const { derived } = await readXenTree(this.cwd);
      report.warn("no xenrel config here: pins read from the tree's makefiles (run `xenrel init` to write one)");
      return { config: derived.config, file: '', root: this.cwd };
    }
  }
}
