import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fixtureText, loadFixture, readFixture } from './fixtures.js';

/**
 * A Xen-like tree with just the build files xenrel reads pins from and scans for fetches,
 * written for the tests (never copied from Xen) as plain files in test/fixtures/xen-pins-tree:
 * `common/`, overlaid by one folder per variant. Three variants:
 *   4.19     — qemu-xen-traditional pinned, tag pins, mktarball calling archive-source.sh
 *   4.22     — no qemu-xen-traditional, git-checkout.sh fetches the pin
 *   unstable — SHA and `master` pins, no pv-grub (GRUB) library
 */
export type XenVariant = '4.19' | '4.22' | 'unstable';

export interface XenPinsTreeOptions {
  /** Contents of `.config` (read by Config.mk first). */
  dotConfig?: string;
  /** Contents of `config/Stubdom.mk` (a configured stubdom). */
  stubdomMk?: string;
  /** Extra files: relative path → contents. */
  extra?: Record<string, string>;
}

const SEABIOS = { '4.19': 'rel-1.16.3', '4.22': 'rel-1.17.0', unstable: 'rel-1.17.0' };
const QEMU = { '4.19': 'qemu-xen-4.19.0', '4.22': 'qemu-xen-4.22.0', unstable: 'master' };
const MINIOS = {
  '4.19': 'xen-RELEASE-4.19.0',
  '4.22': 'xen-RELEASE-4.22.0',
  unstable: '0123456789abcdef0123456789abcdef01234567',
};
export const OVMF_PIN = 'ba91d0292e593df8528b66f99c1b0b14fadc8e16';
export const IPXE_PIN = '1d1cf74a5e58811822bee4b3da3cff7282fcdfca';

export const expectedPins = (v: XenVariant) => ({ seabios: SEABIOS[v], qemu: QEMU[v], minios: MINIOS[v] });

/** Xen's stubdom/configure.ac as far as the library versions and default URLs go. */
export function stubdomConfigureAc(v: XenVariant = '4.22'): string {
  return readFixture(PINS_TREE, { layers: layersOf(v) }).get('stubdom/configure.ac')!.text;
}

const PINS_TREE = 'xen-pins-tree';
/** test/fixtures/xen-pins-tree: what the variants share, then the variant's own files. */
const layersOf = (v: XenVariant) => ['common', v];

export async function writeXenPinsTree(
  root: string,
  variant: XenVariant,
  opts: XenPinsTreeOptions = {},
): Promise<string> {
  await loadFixture(PINS_TREE, root, { layers: layersOf(variant) });
  const files: Record<string, string> = {
    ...(opts.dotConfig !== undefined ? { '.config': opts.dotConfig } : {}),
    ...(opts.stubdomMk !== undefined ? { 'config/Stubdom.mk': opts.stubdomMk } : {}),
    ...opts.extra,
  };
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), text);
  }
  // The fixture's scripts stay executable when `extra` replaces one.
  for (const rel of ['scripts/git-checkout.sh', 'automation/scripts/build', 'tools/misc/mktarball'])
    await chmod(join(root, rel), 0o755).catch(() => {});
  return root;
}

/** A configured stubdom (what `./configure`, or `./configure --disable-extfiles`, writes), in config/Stubdom.mk syntax. */
export function stubdomMkText(opts: { extfiles: boolean }): string {
  return fixtureText(`${PINS_TREE}/configured/Stubdom-${opts.extfiles ? 'extfiles' : 'upstream'}.mk`);
}

/** Commit the fixture tree in a git repository (for tests that need a HEAD). */
export function gitInit(root: string): void {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@e',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@e',
    GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
  };
  execFileSync('git', ['init', '-q', root], { env });
  execFileSync('git', ['-C', root, 'add', '-A'], { env });
  execFileSync('git', ['-C', root, 'commit', '-qm', 'fixture'], { env });
}
