import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import ssri from 'ssri';
import { XenrelError, ExitCode } from '../errors.js';
import type { ComponentSpec } from '../model/config.js';
import type { LockedLocal } from '../model/lock.js';
import { hashDir } from '../tree/walk.js';

/** A `local:` path is relative to the config's folder. */
export function localSourcePath(root: string, local: string): string {
  return isAbsolute(local) ? local : resolve(root, local);
}

async function describeLocal(name: string, abs: string): Promise<{ integrity?: string; tree?: string }> {
  const st = await stat(abs).catch(() => undefined);
  if (!st)
    throw new XenrelError('E_LOCAL_MISSING', `component ${name}: local source ${abs} does not exist`, {
      exitCode: ExitCode.usage,
      hint: 'build or copy the prebuilt file there, or fix "local:" in the config',
    });
  if (st.isDirectory()) return { tree: (await hashDir(abs)).hash };
  const integrity = await ssri.fromStream(createReadStream(abs), { algorithms: ['sha512'] });
  return { integrity: integrity.toString() };
}

export async function lockLocal(name: string, spec: ComponentSpec, root: string): Promise<LockedLocal> {
  const abs = localSourcePath(root, spec.local!);
  const found = await describeLocal(name, abs);
  if (spec.integrity && found.integrity && !ssri.parse(spec.integrity, { strict: true }).match(found.integrity))
    throw new XenrelError(
      'E_INTEGRITY',
      `component ${name}: ${abs} has integrity ${found.integrity}, the config pins ${spec.integrity}`,
      {
        exitCode: ExitCode.checkFailed,
        hint: 'put the expected prebuilt file in place, or update "integrity" in the config',
      },
    );
  return { local: spec.local!, ...found, path: spec.path, ...(spec.license ? { license: spec.license } : {}) };
}

/** The prebuilt input still has the locked content. */
export async function verifyLocal(name: string, locked: LockedLocal, root: string): Promise<void> {
  const abs = localSourcePath(root, locked.local);
  const found = await describeLocal(name, abs);
  const ok = locked.tree
    ? found.tree === locked.tree
    : Boolean(locked.integrity && found.integrity && ssri.parse(locked.integrity).match(found.integrity));
  if (!ok)
    throw new XenrelError(
      'E_LOCAL_CHANGED',
      `component ${name}: ${abs} no longer matches the lock (${locked.tree ?? locked.integrity} expected, found ${found.tree ?? found.integrity})`,
      {
        exitCode: ExitCode.checkFailed,
        hint: `restore the prebuilt input, or run \`xenrel lock --update ${name}\` if the change is intended`,
      },
    );
}

/** Does `file` have the bytes `integrity` names? */
export async function fileMatches(file: string, integrity: string): Promise<boolean> {
  try {
    await ssri.checkStream(createReadStream(file), integrity);
    return true;
  } catch {
    return false;
  }
}
