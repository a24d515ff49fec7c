import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import ssri from 'ssri';
import { XenrelError, ExitCode } from '../errors.js';
import { localSourcePath } from '../sources/local.js';
import type { ComponentSpec } from '../model/config.js';
import type { LockedPatch } from '../model/lock.js';

/**
 * `patches:` — files relative to the config, applied in order with GNU `patch -p1` at
 * vendor time (the tool every distro's packaging uses; `git apply` would need the tree to
 * be a repository). Always into a staging copy: a patch that does not apply leaves
 * nothing half-applied behind. Each is locked with its integrity, so editing a patch is
 * drift `lock --check` reports.
 */

async function fileIntegrity(file: string): Promise<string> {
  return (await ssri.fromStream(createReadStream(file), { algorithms: ['sha512'] })).toString();
}

function patchMissing(name: string, file: string, abs: string): XenrelError {
  return new XenrelError('E_PATCH_MISSING', `component ${name}: patch ${file} not found (${abs})`, {
    exitCode: ExitCode.usage,
    hint: 'fix "patches:" in the config (paths are relative to the config file), or restore the file',
  });
}

/** The lock's `patches` for a component (undefined when it has none). */
export async function lockPatches(
  name: string,
  spec: ComponentSpec,
  configRoot: string,
): Promise<LockedPatch[] | undefined> {
  if (!spec.patches?.length) return undefined;
  if (spec.url !== undefined)
    throw new XenrelError(
      'E_CONFIG',
      `component ${name}: patches apply to folder components (git, or a local directory); ${spec.url} is placed as the file make downloads`,
      {
        exitCode: ExitCode.usage,
        hint: 'patch the tarball where the build unpacks it (Xen applies its own stubdom patches there), or remove "patches:"',
      },
    );
  const out: LockedPatch[] = [];
  for (const file of spec.patches) {
    const abs = localSourcePath(configRoot, file);
    if (!(await stat(abs).catch(() => undefined))?.isFile()) throw patchMissing(name, file, abs);
    out.push({ file, integrity: await fileIntegrity(abs) });
  }
  return out;
}

/** Do the patch files still have the locked bytes? Names the first that does not. */
export async function patchesDrift(
  locked: LockedPatch[] | undefined,
  configRoot: string,
): Promise<{ file: string; old: string; new: string | undefined }[]> {
  const out: { file: string; old: string; new: string | undefined }[] = [];
  for (const p of locked ?? []) {
    const abs = localSourcePath(configRoot, p.file);
    const now = (await stat(abs).catch(() => undefined))?.isFile() ? await fileIntegrity(abs) : undefined;
    if (now !== p.integrity) out.push({ file: p.file, old: p.integrity, new: now });
  }
  return out;
}

export interface PatchRun {
  code: number;
  output: string;
}

function patchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  delete env.POSIXLY_CORRECT; // POSIX mode changes how patch names files and backs up
  delete env.PATCH_GET;
  delete env.QUILT_PATCHES;
  return env;
}

/** `patch -p1 --forward --batch` in `dir`, input from `patchFile`; no backups, rejects discarded. */
export function runPatch(dir: string, patchFile: string): Promise<PatchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'patch',
      ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '--reject-file=-', '-d', dir, '-i', patchFile],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: patchEnv(),
      },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        reject(
          new XenrelError('E_NO_PATCH_TOOL', 'the `patch` program is not installed; it is needed to apply patches:', {
            exitCode: ExitCode.usage,
            hint: 'install GNU patch (apt-get install patch, dnf install patch)',
          }),
        );
      else reject(err);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/**
 * Apply the locked patches, in order, to the staged tree `dir`. Each file must still have
 * its locked bytes (else the result would not be what the lock describes).
 */
export async function applyPatches(
  name: string,
  dir: string,
  patches: LockedPatch[],
  configRoot: string,
): Promise<void> {
  for (const [i, p] of patches.entries()) {
    const abs = localSourcePath(configRoot, p.file);
    if (!(await stat(abs).catch(() => undefined))?.isFile()) throw patchMissing(name, p.file, abs);
    const now = await fileIntegrity(abs);
    if (now !== p.integrity)
      throw new XenrelError(
        'E_PATCH_CHANGED',
        `component ${name}: patch ${p.file} changed since it was locked (${p.integrity} locked, ${now} now)`,
        {
          exitCode: ExitCode.checkFailed,
          hint: `run \`xenrel lock --update ${name}\` to lock the new patch, or restore the file`,
        },
      );
    const r = await runPatch(dir, abs);
    if (r.code !== 0)
      throw new XenrelError(
        'E_PATCH_FAILED',
        `component ${name}: patch ${i + 1} of ${patches.length}, ${p.file}, does not apply:\n${r.output
          .trim()
          .split('\n')
          .slice(-12)
          .map((l) => `    ${l}`)
          .join('\n')}`,
        {
          exitCode: ExitCode.usage,
          hint: `nothing was changed; refresh the patch against the locked source (or drop it from "patches:"), then run \`xenrel lock --update ${name}\``,
          details: { component: name, patch: p.file, output: r.output },
        },
      );
  }
}
