import { Command, Option } from 'clipanion';
import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { displayPath } from '../config/load.js';
import { detectProject } from '../release/project-tree.js';
import type { Report } from '../report/report.js';
import { generateSbom, sbomEpoch, SBOM_FORMATS, type SbomFormat } from '../sbom/sbom.js';
import { writeFileAtomic } from '../util/atomic.js';
import { BaseCommand } from './base.js';

export class SbomCommand extends BaseCommand {
  static override paths = [['sbom']];
  static override usage = Command.Usage({
    description: 'Write a software bill of materials (SPDX 2.3 or CycloneDX 1.5 JSON) from the lock',
    details: `
      Lists every locked component and, transitively, its nested sources (git submodules,
      meson wraps): version or commit, download location (\`git+URL@COMMIT\` for git),
      checksums (a tarball's sha512 from the lock, its sha256 when the bytes are in the
      cache), xenrel's tree hash, the license from the config, and the sha256 of a
      \`COPYING\`/\`LICENSE\` file found in the cached sources. The project CONTAINS each
      component; a component CONTAINS its nested sources.

      The output is deterministic: the creation time is \`SOURCE_DATE_EPOCH\`, else the
      project's HEAD commit time, and the document's id derives from the lock's hash. Never
      uses the network: run \`xenrel fetch\` first for the cache-derived facts.
      \`xenrel release\` puts the SPDX document inside the tarball and beside it.
    `,
    examples: [
      ['SPDX to standard output', '$0 sbom'],
      ['CycloneDX into a file', '$0 sbom --format cyclonedx --out xen.cdx.json'],
    ],
  });

  format = Option.String('--format', 'spdx', { description: 'spdx (default) or cyclonedx' });
  out = Option.String('--out', { description: 'Write to this file (default: standard output)' });
  without = Option.Array('--without', [], { description: 'Leave this component out (repeatable)' });

  async run(report: Report): Promise<void> {
    if (!(SBOM_FORMATS as readonly string[]).includes(this.format))
      throw usageError(`--format must be one of ${SBOM_FORMATS.join(', ')}, not "${this.format}"`);
    const { loaded, lock } = await this.loadLocked();
    for (const w of this.without)
      if (!(w in lock.components))
        throw usageError(
          `--without ${w}: no such component in the lock`,
          `components: ${Object.keys(lock.components).join(', ')}`,
        );
    const project = await detectProject(loaded.root, { describe: !loaded.config.release?.version }).catch(
      () => undefined,
    );
    const text = await generateSbom(lock, {
      format: this.format as SbomFormat,
      cache: await this.openCache(),
      config: loaded.config,
      configRoot: loaded.root,
      version: loaded.config.release?.version ?? project?.describe,
      created: sbomEpoch(project?.commitTime),
      without: this.without,
    });
    if (this.out) {
      const file = resolve(this.cwd, this.out);
      await writeFileAtomic(file, text);
      report.set('file', displayPath(file, this.cwd));
      report.info(`wrote ${displayPath(file, this.cwd)} (${this.format === 'spdx' ? 'SPDX 2.3' : 'CycloneDX 1.5'})`);
    } else {
      report.output(text.trimEnd());
      report.set('sbom', JSON.parse(text));
    }
    report.set('format', this.format);
  }
}
