import { Command, Option } from 'clipanion';
import { resolve } from 'node:path';
import { exportMirror } from '../mirror/export.js';
import { MIRROR_INDEX } from '../layout/mirror.js';
import type { Lockfile } from '../model/lock.js';
import type { Report } from '../report/report.js';
import { BaseCommand } from './base.js';

export class MirrorCommand extends BaseCommand {
  static override paths = [['mirror']];
  static override usage = Command.Usage({
    description: 'Export the cache as a static mirror any web server can host',
    details: `
      Writes DIR so that a plain HTTP server (nginx, busybox httpd, \`python3 -m http.server\`),
      an object store or a CDN can serve it:

      - tarballs under their file names, the flat layout Xen's \`XEN_EXTFILES_URL\` expects,
        and by the sha512 of their bytes under \`by-hash/sha512/<hex>\`;
      - git components as bare repositories for the dumb HTTP protocol,
        \`git/<name>.git\`, holding the locked commits (as \`refs/xenrel/pins/<commit>\`) and the
        locked tag or branch;
      - \`${MIRROR_INDEX}\`, an index of components, URLs, mirror paths and integrities.

      By default it exports what the current \`xenrel.lock\` needs (nested sources included);
      \`--all\` exports everything the cache holds. Nothing is downloaded: run \`xenrel fetch\`
      first. Every file is written atomically, a second run changes nothing, and what earlier
      runs published stays, so one mirror serves several releases.

      A config with \`mirrors: [https://mirror.example/xen]\` makes \`xenrel fetch\` try the
      mirror before upstream; \`xenrel fetch --premirror-only\` uses nothing else.
    `,
    examples: [
      ['Export what the lock needs', '$0 mirror /srv/www/xen-mirror'],
      ['Export the whole cache', '$0 mirror --all /srv/www/xen-mirror'],
    ],
  });

  all = Option.Boolean('--all', false, { description: "Export every object in the cache, not only the lock's" });
  dir = Option.String({ name: 'DIR' });

  async run(report: Report): Promise<void> {
    const cache = await this.openCache();
    let lock: Lockfile | undefined;
    if (!this.all) {
      ({ lock } = await this.loadLocked());
    }
    const dir = resolve(this.cwd, this.dir);
    report.info(
      `exporting ${this.all ? 'the whole cache' : `${Object.keys(lock!.components).length} components`} from ${cache.root} to ${this.dir}`,
    );
    const { index, changed } = await exportMirror({ dir, cache, lock, all: this.all, progress: report });
    report.set('dir', dir);
    report.set('changed', changed);
    report.set('index', index);
    report.info(
      changed.length
        ? `wrote ${changed.length} path${changed.length === 1 ? '' : 's'} (${MIRROR_INDEX} lists them)`
        : 'the mirror is up to date; nothing changed',
    );
  }
}
