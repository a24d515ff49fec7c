import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { lockedPins, makeValue, TREE_PINS_VAR, type PinAssignment } from '../xen/locked-pins.js';

/**
 * The lines xenrel owns in Xen's `.config`. Config.mk `-include`s `.config` first and
 * `make distclean` keeps it; an `override` there beats the later `FETCHER :=` of
 * config/Tools.mk and config/Stubdom.mk and the command line: the one place that switches
 * Xen's fetcher for every sub-make.
 * Everything outside the block is the user's and is kept byte for byte.
 */
export const BLOCK_BEGIN = '# BEGIN xenrel (managed by xenrel vendor; do not edit)';
/** Same, when vendor had to end the user's last line with a newline: clean takes it back. */
export const BLOCK_BEGIN_NL = '# BEGIN xenrel (managed by xenrel vendor; do not edit; added a final newline)';
export const BLOCK_END = '# END xenrel';

export interface ConfigBlockOptions {
  /**
   * Add `--disable-download` to QEMU's configure arguments, so a meson subproject or
   * Python package missing from the vendored qemu-xen fails the build instead of going
   * online (only when qemu-xen is vendored: QEMU before 8.1 rejects the option).
   */
  qemuDisableDownload?: boolean;
  /**
   * The locked pins as make variables (src/xen/locked-pins.ts). Written with `override`,
   * so neither the environment, the command line, configure's `<LIB>_URL` in
   * config/Stubdom.mk nor a `.config` line of the user's sends make elsewhere: a release
   * tarball asks the shim for exactly what its lock holds, however the tree was configured.
   */
  pins?: PinAssignment[];
}

export function renderBlockBody(opts: ConfigBlockOptions = {}): string {
  const lines = ['override GIT := $(XEN_ROOT)/.xenrel/bin/git', 'override FETCHER := $(XEN_ROOT)/.xenrel/bin/fetch'];
  if (opts.qemuDisableDownload) lines.push('CONFIG_QEMUU_EXTRA_ARGS += --disable-download');
  if (opts.pins?.length) {
    lines.push(`# The locked pins (xenrel.lock); make ${TREE_PINS_VAR}=y shows the tree's own.`);
    lines.push(`ifneq ($(${TREE_PINS_VAR}),y)`);
    for (const p of opts.pins) lines.push(`override ${p.variable} := ${makeValue(p.value)}`);
    lines.push('endif');
  }
  return lines.map((l) => `${l}\n`).join('');
}

interface Split {
  /** The user's text with the block taken out (and vendor's added newline taken back). */
  user: string;
  /** The block as found, if any. */
  block?: string;
}

/** Finds the block by its marker lines; text outside it is returned untouched. */
export function splitConfig(text: string): Split {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const begin = lines.findIndex((l) => l === `${BLOCK_BEGIN}\n` || l === `${BLOCK_BEGIN_NL}\n`);
  if (begin < 0) return { user: text };
  let end = lines.findIndex((l, i) => i > begin && (l === `${BLOCK_END}\n` || l === BLOCK_END));
  if (end < 0) end = lines.length - 1;
  const block = lines.slice(begin, end + 1).join('');
  let before = lines.slice(0, begin).join('');
  const after = lines.slice(end + 1).join('');
  if (lines[begin] === `${BLOCK_BEGIN_NL}\n` && !after && before.endsWith('\n')) before = before.slice(0, -1);
  return { user: before + after, block };
}

export function withBlock(userText: string, opts: ConfigBlockOptions = {}): string {
  const needsNl = userText.length > 0 && !userText.endsWith('\n');
  return `${userText}${needsNl ? '\n' : ''}${needsNl ? BLOCK_BEGIN_NL : BLOCK_BEGIN}\n${renderBlockBody(opts)}${BLOCK_END}\n`;
}

/** Writes (or refreshes) the block at the end of `.config`. Returns true when the file changed. */
export async function writeConfigBlock(treeRoot: string, opts: ConfigBlockOptions = {}): Promise<boolean> {
  const file = join(treeRoot, '.config');
  const old = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  // A current block stays where it is, even if the user added lines after it.
  if (old !== undefined && blockIsCurrent(old, opts)) return false;
  const mode = ((await stat(file).catch(() => undefined))?.mode ?? 0o644) & 0o777;
  await writeFileAtomic(file, withBlock(splitConfig(old ?? '').user, opts), mode);
  return true;
}

function blockIsCurrent(text: string, opts: ConfigBlockOptions): boolean {
  const { block } = splitConfig(text);
  if (!block?.endsWith(`${BLOCK_END}\n`)) return false;
  const body = block
    .split('\n')
    .slice(1, -2)
    .map((l) => `${l}\n`)
    .join('');
  return body === renderBlockBody(opts);
}

/** Takes the block out again; removes `.config` when nothing of the user's remains. */
export async function removeConfigBlock(treeRoot: string): Promise<boolean> {
  const file = join(treeRoot, '.config');
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (old === undefined) return false;
  const { user, block } = splitConfig(old);
  if (!block) return false;
  if (user === '') await rm(file, { force: true });
  else await writeFileAtomic(file, user, ((await stat(file)).mode & 0o777) as number);
  return true;
}

/** Whether `.config` holds the current block. */
export async function hasCurrentBlock(treeRoot: string, opts: ConfigBlockOptions = {}): Promise<boolean> {
  const old = await readFile(join(treeRoot, '.config'), 'utf8').catch(() => undefined);
  return old !== undefined && blockIsCurrent(old, opts);
}

const isQemuXen = (name: string, c: LockedComponent) =>
  name === 'qemu-xen' || /^tools\/qemu-xen(-dir-remote)?$/.test(c.path);

export function configBlockOptions(lock: Lockfile, without: string[]): ConfigBlockOptions {
  return {
    qemuDisableDownload: Object.entries(lock.components).some(([n, c]) => !without.includes(n) && isQemuXen(n, c)),
    pins: lockedPins(lock, without).assignments,
  };
}
