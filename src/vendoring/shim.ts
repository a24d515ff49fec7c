import { sriHex } from '../util/sri.js';
import { chmod, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { XenrelError, ExitCode } from '../errors.js';
import { packageRoot } from '../version.js';
import { serializeLock } from '../lock/lockfile.js';
import { manifestLine, treeHash, treeHashHex, type TreeEntry } from '../tree/hash.js';
import { sha256File, walkTree } from '../tree/walk.js';
import { writeFileAtomic } from '../util/atomic.js';
import { describeComponent } from '../components/dispatch.js';
import { lockedIntegrity, vendoredTreeOf } from '../model/kind.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import {
  BIN_DIR,
  LOCK_COPY,
  MANIFESTS_DIR,
  SHIM_INDEX,
  SHIM_TOOLS,
  WITHOUT_FILE,
  XENREL_DIR,
  storeAbs,
  storeKind,
  storeRel,
} from '../layout/xenrel-dir.js';
import { withoutAdvice, withoutRule } from './without.js';

/** The shim's shell sources, shipped in the package. */
export const SHIM_TEMPLATE_DIR = join(packageRoot, 'scripts', 'shim');

export interface ShimOptions {
  without?: string[];
  /** Tree entries already computed by placeStore (saves walking the store again). */
  entries?: Record<string, TreeEntry[]>;
}

export interface ShimResult {
  /** Files under .xenrel/ that were written because they differed. */
  changed: string[];
}

/** The shim scripts are the templates concatenated: fixed bytes for a given xenrel. */
export async function renderShim(tool: (typeof SHIM_TOOLS)[number]): Promise<string> {
  const common = await readFile(join(SHIM_TEMPLATE_DIR, 'common.sh'), 'utf8');
  const own = await readFile(join(SHIM_TEMPLATE_DIR, `${tool}.sh`), 'utf8');
  return (
    `#!/bin/sh\n` +
    `# xenrel shim: ${tool}. Written by \`xenrel vendor\` from scripts/shim/; do not edit.\n` +
    `# Make reaches it through the xenrel block in .config. It serves what\n` +
    `# .xenrel/xenrel.lock lists from .xenrel/sources/ and refuses everything else.\n` +
    `XR_TOOL=${tool}\n` +
    common +
    own
  );
}

/** The digest column: tree:<hex> for folders, <algo>:<hex> for files (sha512 or sha256). */
/** The sha256 (hex) of a component's file as placed in the store, when the caller knows it. */
export type StoreSha256 = (name: string, c: LockedComponent) => string | undefined;

async function digestFor(treeRoot: string, name: string, c: LockedComponent, known?: StoreSha256): Promise<string> {
  if (storeKind(c) === 'tree') {
    const tree = vendoredTreeOf(c);
    if (!tree)
      throw new XenrelError('E_LOCK', `component ${name}: the lock has no tree hash`, {
        exitCode: ExitCode.usage,
        hint: 'run `xenrel lock` again',
      });
    return `tree:${treeHashHex(tree)}`;
  }
  const integrity = lockedIntegrity(c);
  if (integrity) {
    for (const algo of ['sha512', 'sha256'] as const) {
      const hex = sriHex(integrity, algo);
      if (hex) return `${algo}:${hex}`;
    }
  }
  // Only weaker or no algorithms in the lock: the store copy was verified against it, so
  // its sha256 stands for it.
  return `sha256:${known?.(name, c) ?? (await sha256File(storeAbs(treeRoot, name, c)))}`;
}

function field(name: string, what: string, v: string | undefined): string {
  const s = v ?? '-';
  if (s === '' || /[\t\n\r]/.test(s))
    throw new XenrelError(
      'E_SHIM_FIELD',
      `component ${name}: its ${what} ${JSON.stringify(s)} cannot be written to the shim index (empty, or contains a tab or newline)`,
      {
        exitCode: ExitCode.usage,
        hint: 'fix the component in xenrel.config.yaml',
      },
    );
  return s;
}

export const SHIM_INDEX_HEADER =
  '# xenrel shim index: written by `xenrel vendor`; do not edit. Tab-separated:\n' +
  '# name\tkind\turl\tref\tcommit\tdigest\tpath\tstore\tstatus\n';

export async function renderIndex(
  treeRoot: string,
  lock: Lockfile,
  without: string[],
  storeSha256?: StoreSha256,
): Promise<string> {
  let out = SHIM_INDEX_HEADER;
  for (const name of Object.keys(lock.components).sort()) {
    const c = lock.components[name]!;
    const left = without.includes(name);
    const d = describeComponent(c);
    const cols = [
      field(name, 'name', name),
      storeKind(c),
      field(name, 'url', d.url ?? '-'),
      // Only a git pin has a ref and a commit.
      field(name, 'ref', d.commit ? (d.version ?? '-') : '-'),
      d.commit ?? '-',
      left ? '-' : await digestFor(treeRoot, name, c, storeSha256),
      field(name, 'path', c.path),
      // Relative to .xenrel/.
      storeRel(name, c).slice(XENREL_DIR.length + 1),
      left ? 'without' : 'vendored',
    ];
    out += `${cols.join('\t')}\n`;
  }
  return out;
}

async function writeIfChanged(abs: string, text: string, mode: number, changed: string[], rel: string): Promise<void> {
  const old = await readFile(abs, 'utf8').catch(() => undefined);
  const st = await stat(abs).catch(() => undefined);
  if (old === text && st && (st.mode & 0o777) === mode) return;
  await writeFileAtomic(abs, text, mode);
  await chmod(abs, mode);
  changed.push(rel);
}

/** One file under .xenrel/ the shim consists of, as vendor writes it. */
export interface ShimFile {
  rel: string;
  text: string;
  mode: number;
}

/**
 * Every file `installShim` writes, as text: the scripts, the index, a manifest for each
 * vendored folder whose entries `entriesOf` gives, the WITHOUT list (when not empty) and
 * the lock copy. `verify` regenerates them through this same function and compares bytes.
 */
export async function renderShimFiles(
  treeRoot: string,
  lock: Lockfile,
  without: string[],
  entriesOf: (name: string, c: LockedComponent) => Promise<TreeEntry[] | undefined>,
  storeSha256?: StoreSha256,
): Promise<ShimFile[]> {
  const files: ShimFile[] = [];
  for (const tool of SHIM_TOOLS) files.push({ rel: `${BIN_DIR}/${tool}`, text: await renderShim(tool), mode: 0o755 });
  files.push({ rel: SHIM_INDEX, text: await renderIndex(treeRoot, lock, without, storeSha256), mode: 0o644 });
  // Manifests: the expected tree-hash lines, only for folders that are vendored.
  for (const name of Object.keys(lock.components).sort()) {
    const c = lock.components[name]!;
    if (without.includes(name) || storeKind(c) !== 'tree') continue;
    const entries = await entriesOf(name, c);
    if (entries)
      files.push({ rel: `${MANIFESTS_DIR}/${name}.tree`, text: entries.map(manifestLine).join(''), mode: 0o644 });
  }
  const withoutText = renderWithout(lock, without);
  if (withoutText) files.push({ rel: WITHOUT_FILE, text: withoutText, mode: 0o644 });
  files.push({ rel: LOCK_COPY, text: serializeLock(lock), mode: 0o644 });
  return files;
}

/** .xenrel/WITHOUT: one line per left-out component (name, configure flag, advice). */
export function renderWithout(lock: Lockfile, without: string[]): string {
  return Object.keys(lock.components)
    .sort()
    .filter((n) => without.includes(n))
    .map((n) => {
      const c = lock.components[n]!;
      return `${n}\t${withoutRule(n, c)?.flag ?? '-'}\t${withoutAdvice(n, c)}\n`;
    })
    .join('');
}

/**
 * Writes .xenrel/bin/{git,fetch}, the index, the manifests, the WITHOUT list and the lock
 * copy. Needs the store in place (for manifests and file digests). Only what differs is
 * rewritten, so a second run reports nothing.
 */
export async function installShim(treeRoot: string, lock: Lockfile, opts: ShimOptions = {}): Promise<ShimResult> {
  const without = opts.without ?? [];
  const changed: string[] = [];
  const files = await renderShimFiles(treeRoot, lock, without, async (name, c) => {
    const entries = opts.entries?.[name] ?? (await walkTree(storeAbs(treeRoot, name, c)));
    if (treeHash(entries) !== vendoredTreeOf(c))
      throw new XenrelError(
        'E_STORE_MISMATCH',
        `component ${name}: ${storeRel(name, c)} does not match the lock's tree hash`,
        {
          exitCode: ExitCode.checkFailed,
          hint: 'run `xenrel vendor` to restore it',
        },
      );
    return entries;
  });
  await mkdir(join(treeRoot, MANIFESTS_DIR), { recursive: true });
  for (const f of files) await writeIfChanged(join(treeRoot, f.rel), f.text, f.mode, changed, f.rel);
  const wanted = new Set(files.map((f) => f.rel));
  for (const f of await readdir(join(treeRoot, MANIFESTS_DIR))) {
    if (!wanted.has(`${MANIFESTS_DIR}/${f}`)) {
      await rm(join(treeRoot, MANIFESTS_DIR, f), { force: true, recursive: true });
      changed.push(`${MANIFESTS_DIR}/${f}`);
    }
  }
  if (!wanted.has(WITHOUT_FILE) && (await stat(join(treeRoot, WITHOUT_FILE)).catch(() => undefined))) {
    await rm(join(treeRoot, WITHOUT_FILE), { force: true });
    changed.push(WITHOUT_FILE);
  }
  return { changed };
}
