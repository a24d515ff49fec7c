import { Command, Option } from 'clipanion';
import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { exportBuildroot } from '../export/buildroot.js';
import type { ExportContext } from '../export/context.js';
import { exportDebian } from '../export/debian.js';
import { exportFedora } from '../export/fedora.js';
import { exportYocto } from '../export/yocto.js';
import { displayPath } from '../config/load.js';
import { detectProject } from '../release/project-tree.js';
import { human, type Report } from '../report/report.js';
import { sbomEpoch } from '../sbom/sbom.js';
import { BaseCommand } from './base.js';

const FORMATS = ['debian', 'fedora', 'yocto', 'buildroot'] as const;

export class ExportCommand extends BaseCommand {
  static override paths = [['export']];
  static override usage = Command.Usage({
    description: "Write what a distribution's packaging needs from the lock (Debian, Fedora, Yocto, Buildroot)",
    details: `
      From the lock and the cache (never the network; run \`xenrel fetch\` first):

      - \`debian\`: PATH is a folder. Debian's multi-tarball orig layout for "3.0 (quilt)":
        \`<src>_<ver>.orig.tar.gz\` (the project without its components, with a relative
        symlink at each component's path into the unpacked component) and
        \`<src>_<ver>.orig-<component>.tar.gz\` per component: git components as
        deterministic tarballs of the commit with nested sources, without \`patches:\`;
        tarball components wrap the upstream file byte for byte (\`newlib/newlib-1.16.0.tar.gz\`),
        since Xen's stubdom and iPXE make want the file, not its content. After
        \`dpkg-source -x\` every component is where Xen's make looks, offline. Also
        \`SHA256SUMS\`, \`components\` (\`<component> <path>\` lines) and \`watch.components\`
        (uscan v4 lines with \`component=\`; for wrapped files, commented lines whose pattern
        matches the upstream name).
      - \`fedora\`: PATH is the \`sources\` file (\`SHA512 (file) = hex\`); the files it names are
        written beside it, for the lookaside cache.
      - \`yocto\`: PATH is a BitBake fragment: \`SRC_URI\` entries with \`name=\`, \`destsuffix=\`
        (git, \`nobranch=1\`, \`gitsm://\` when there are submodules) or
        \`unpack=0;subdir=;downloadfilename=\` (tarballs; the DL_DIR name always carries the
        version, and a do_unpack postfunc gives the file the name Xen's make wants),
        \`SRCREV_<name>\` and \`SRC_URI[<name>.sha256sum]\`.
      - \`buildroot\`: PATH is a \`.hash\` file (\`sha256  <hex>  <file>\`); the files are written
        beside it. Git components are hashed as the tarball xenrel writes, not as Buildroot's
        own git download helper would make it: use that file as the package's source.

      Tarballs made by xenrel are deterministic (bytewise order, owner 0, gzip without name or
      time; mtime = the git commit time, else SOURCE_DATE_EPOCH or the project's HEAD time).
    `,
    examples: [
      ['Debian orig tarballs', '$0 export --format debian --out ../orig'],
      ['A Yocto fragment', '$0 export --format yocto --out xen-sources.inc'],
      ['Fedora sources file (and the files)', '$0 export --format fedora --out rpm/sources'],
    ],
  });

  format = Option.String('--format', { required: true, description: 'debian, fedora, yocto or buildroot' });
  out = Option.String('--out', { required: true, description: 'A folder (debian) or a file (the others)' });
  without = Option.Array('--without', [], { description: 'Leave this component out (repeatable)' });

  async run(report: Report): Promise<void> {
    if (!(FORMATS as readonly string[]).includes(this.format))
      throw usageError(`--format must be one of ${FORMATS.join(', ')}, not "${this.format}"`);
    const { loaded, lock } = await this.loadLocked();
    for (const w of this.without)
      if (!(w in lock.components)) throw usageError(`--without ${w}: no such component in the lock`);
    const project = await detectProject(loaded.root, { describe: !loaded.config.release?.version }).catch(
      () => undefined,
    );
    const ctx: ExportContext = {
      lock,
      loaded,
      cache: await this.openCache(),
      version: loaded.config.release?.version ?? project?.describe,
      epoch: sbomEpoch(project?.commitTime),
      without: this.without,
      warn: (m) => report.warn(m),
    };
    const out = resolve(this.cwd, this.out);
    const shown = displayPath(out, this.cwd);
    report.set('format', this.format);
    report.set('out', shown);
    if (this.format === 'yocto') {
      await exportYocto(ctx, out);
      report.info(`wrote ${shown}`);
      return;
    }
    const r =
      this.format === 'debian'
        ? await exportDebian(ctx, out)
        : this.format === 'fedora'
          ? await exportFedora(ctx, out)
          : await exportBuildroot(ctx, out);
    report.set(
      'files',
      r.files.map((f) => ({ file: f.file, component: f.component || undefined, sha256: f.sha256, size: f.size })),
    );
    report.table(
      r.files.map((f) => [f.file, human(f.size), f.sha256.slice(0, 16)]),
      ['FILE', 'SIZE', 'SHA256'],
    );
    report.info(`wrote ${shown}`);
  }
}
