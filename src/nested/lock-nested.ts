import type { Cache } from '../content-cache/cache.js';
import { XenrelError, ExitCode } from '../errors.js';
import { compareBytewise } from '../tree/hash.js';
import { isLockedGit, isLockedLocal } from '../model/kind.js';
import type { ComponentSpec } from '../model/config.js';
import type { FieldChange, ProgressSink } from '../types.js';
import type { LockedChild, LockedComponent } from '../model/lock.js';
import { computeVendoredTree, hasNested } from './build.js';
import { resolveChildren } from './children.js';
import { lockPatches, patchesDrift } from './patches.js';

/** How `lock` and `lock --check` reach the nested parts of a component. */
export interface NestedContext {
  cache: Cache;
  /** The config's folder (patch paths are relative to it). */
  configRoot: string;
  mirrors?: string[];
  progress?: ProgressSink;
  offline?: boolean;
}

/**
 * Adds `children`, `patches` and `vendoredTree` to a freshly resolved entry. `previous`
 * (the old lock's entry) lets unchanged children keep their tree hashes without rehashing.
 */
export async function lockNested<T extends LockedComponent>(
  name: string,
  spec: ComponentSpec,
  entry: T,
  ctx: NestedContext,
  previous?: LockedComponent,
): Promise<T> {
  const out = { ...entry } as T & { children?: Record<string, LockedChild>; patches?: unknown; vendoredTree?: string };
  delete out.children;
  delete out.patches;
  delete out.vendoredTree;
  if (isLockedGit(entry)) {
    const known = previous && isLockedGit(previous) ? previous.children : undefined;
    const children = await resolveChildren(entry, ctx.cache, {
      name,
      mirrors: ctx.mirrors,
      progress: ctx.progress,
      offline: ctx.offline,
      known,
    });
    if (Object.keys(children).length) out.children = children;
  }
  const patches = await lockPatches(name, spec, ctx.configRoot);
  if (patches) {
    if (isLockedLocal(entry) && !entry.tree)
      throw new XenrelError(
        'E_CONFIG',
        `component ${name}: patches apply to a local directory, not to a prebuilt file (${entry.local})`,
        {
          exitCode: ExitCode.usage,
          hint: 'remove "patches:" or point "local:" at a directory',
        },
      );
    out.patches = patches;
  }
  if (hasNested(out)) out.vendoredTree = await computeVendoredTree(name, out, ctx.cache, ctx.configRoot);
  return out;
}

/** Does the kept (unchanged-spec) entry still hold for its patch files? No network. */
export async function patchesUnchanged(old: LockedComponent, configRoot: string): Promise<boolean> {
  return (await patchesDrift('patches' in old ? old.patches : undefined, configRoot)).length === 0;
}

const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([x], [y]) => compareBytewise(x, y)))
      : val,
  );
const same = (a: unknown, b: unknown) => stable(a) === stable(b);

/**
 * `lock --check` for the nested parts of an entry whose own pin still holds: children
 * found again at the locked commit (wrap-git tags and branches resolved upstream again),
 * and the patch files' bytes. Returns the drift as field changes with a reason.
 */
export async function checkNested(
  name: string,
  old: LockedComponent,
  ctx: NestedContext,
): Promise<{ fields: FieldChange[]; reasons: string[] }> {
  const fields: FieldChange[] = [];
  const reasons: string[] = [];
  // Offline: the children come from the pinned commit, which cannot change; only a moved
  // ref of a child could, and seeing that takes the network.
  if (isLockedGit(old) && !ctx.offline) {
    const now = await resolveChildren(old, ctx.cache, {
      name,
      mirrors: ctx.mirrors,
      progress: ctx.progress,
      known: old.children,
      recheckRefs: true,
    });
    const before = old.children ?? {};
    for (const p of [...new Set([...Object.keys(before), ...Object.keys(now)])].sort(compareBytewise)) {
      if (same(before[p], now[p])) continue;
      fields.push({ field: `children[${p}]`, old: before[p], new: now[p] });
      const b = before[p];
      const n = now[p];
      reasons.push(
        !b
          ? `new nested source ${p}`
          : !n
            ? `nested source ${p} is gone`
            : b.kind === 'wrap-git' && n.kind === 'wrap-git' && b.ref && b.commit !== n.commit
              ? `${p}: "${b.ref}" now points to ${n.commit}`
              : `nested source ${p} changed`,
      );
    }
  }
  for (const d of await patchesDrift('patches' in old ? old.patches : undefined, ctx.configRoot)) {
    fields.push({ field: `patches[${d.file}]`, old: d.old, new: d.new ?? '(missing)' });
    reasons.push(d.new ? `patch ${d.file} changed` : `patch ${d.file} is missing`);
  }
  return { fields, reasons };
}
