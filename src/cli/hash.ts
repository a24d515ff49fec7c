import { Command, Option } from 'clipanion';
import { runHash } from './hash-fast.js';
import type { Report } from '../report/report.js';
import { BaseCommand } from './base.js';

export class HashCommand extends BaseCommand {
  static override paths = [['hash']];
  static override usage = Command.Usage({
    description: 'Print the tree hash of a directory',
    details: `
      The tree hash covers every file and symlink below DIR (\`.git\` is skipped): for each,
      in bytewise order of its relative path, the line \`<mode> <sha256-hex> <path>\`, with mode
      100644, 100755 or 120000 and a symlink hashing its target. The hash is \`sha256-\` and the
      base64 sha256 of those lines. It is what \`xenrel.lock\` records as \`tree\`, and it does
      not depend on git, tar or compression: anyone can recompute it (see the README).
    `,
    examples: [
      ['Hash a vendored SeaBIOS', '$0 hash tools/firmware/seabios-dir-remote'],
      ['Show every line that goes into the hash', '$0 hash --manifest extras/mini-os'],
    ],
  });

  dir = Option.String({ name: 'DIR' });
  manifest = Option.Boolean('--manifest', false, { description: 'Print the hashed lines too' });

  async run(report: Report): Promise<void> {
    await runHash(report, { dir: this.dir, manifest: this.manifest, cwd: this.cwd });
  }
}
