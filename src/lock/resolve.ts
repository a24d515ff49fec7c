import type { Cache } from '../content-cache/cache.js';
import type { ComponentSpec } from '../model/config.js';
import type { LoadedConfig } from '../config/load.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import type { ProgressSink } from '../types.js';
import { isLockedLocal, isLockedTarball } from '../model/kind.js';
import { opsFor, specOps } from '../components/dispatch.js';
import { compareBytewise } from '../tree/hash.js';
import {
  diffComponent,
  diffLocks,
  metadataChanges,
  pinChanges,
  pinMatchesLocked,
  withMetadata,
  type ComponentChange,
} from './diff.js';
import { checkSigner } from './signatures.js';
import { assertKnownComponents } from '../components/names.js';
import { forEachComponent } from '../util/settle.js';
import { withProgress } from '../util/progress.js';
import { checkNested, lockNested, patchesUnchanged } from '../nested/lock-nested.js';

export interface LockOptions {
  loaded: LoadedConfig;
  cache: Cache;
  existing?: Lockfile;
  /** Re-resolve only these components (`lock --update NAME`); others are kept when they still match. */
  update?: string[];
  progress?: ProgressSink;
  jobs?: number;
  /**
   * `lock --check --offline`: compare the config with the lock and re-hash local components
   * and patch files, nothing else. A moved tag or changed upstream bytes are not seen.
   */
  offline?: boolean;
}

export interface LockResult {
  lock: Lockfile;
  changes: ComponentChange[];
  warnings: string[];
}

/** Mirrors for a tarball: the component's own, then the manifest's. */
export function mirrorsFor(loaded: LoadedConfig | undefined, name: string): string[] {
  const spec = loaded?.config.components[name];
  return [...(spec?.mirrors ?? []), ...(loaded?.config.mirrors ?? [])];
}

/** Warnings are collected and returned with the result (the CLI prints them once). */
const collectWarnings = (progress: ProgressSink | undefined, into: string[]): ProgressSink =>
  withProgress(progress, { warn: (m) => void into.push(m) });

async function resolveOwn(
  name: string,
  spec: ComponentSpec,
  opts: LockOptions,
  warnings: string[],
): Promise<LockedComponent> {
  const { cache, loaded } = opts;
  const own = await specOps(spec).lock(name, spec, {
    cache,
    configRoot: loaded.root,
    mirrors: mirrorsFor(loaded, name),
    progress: collectWarnings(opts.progress, warnings),
  });
  if (isLockedLocal(own)) return own;
  const previous = opts.existing?.components[name];
  const signer = await checkSigner(name, spec, own, cache, loaded.root, {
    expected: previous && 'signer' in previous ? previous.signer : undefined,
  });
  return signer ? { ...own, signer } : own;
}

/** The entry with its nested sources and patches (src/nested/). */
async function resolveOne(
  name: string,
  spec: ComponentSpec,
  opts: LockOptions,
  warnings: string[],
): Promise<LockedComponent> {
  const own = await resolveOwn(name, spec, opts, warnings);
  if (isLockedTarball(own)) {
    if (spec.patches?.length) await lockNested(name, spec, own, nestedContext(name, opts, warnings)); // throws: a tarball takes no patches
    return own;
  }
  return lockNested(name, spec, own, nestedContext(name, opts, warnings), opts.existing?.components[name]);
}

function nestedContext(name: string, opts: LockOptions, warnings: string[]) {
  return {
    cache: opts.cache,
    configRoot: opts.loaded.root,
    mirrors: mirrorsFor(opts.loaded, name),
    progress: collectWarnings(opts.progress, warnings),
  };
}

/**
 * config → lock. Entries whose pin still answers the config are kept (no network), with
 * the config's metadata (license) copied over, so re-locking unchanged inputs rewrites
 * nothing and a license edit downloads nothing.
 */
export async function lockProject(opts: LockOptions): Promise<LockResult> {
  const { config } = opts.loaded;
  if (opts.update?.length) assertKnownComponents(opts.update, Object.keys(config.components));
  const warnings: string[] = [];
  const names = Object.keys(config.components).sort(compareBytewise);
  const entries = await forEachComponent(names, opts.jobs ?? 4, async (name): Promise<[string, LockedComponent]> => {
    const spec = config.components[name]!;
    const old = opts.existing?.components[name];
    if (
      !opts.update?.includes(name) &&
      old &&
      pinMatchesLocked(spec, old) &&
      (await patchesUnchanged(old, opts.loaded.root))
    )
      return [name, withMetadata(spec, old)];
    return [name, await resolveOne(name, spec, opts, warnings)];
  });
  const lock: Lockfile = { lockfileVersion: 1, name: config.name, components: Object.fromEntries(entries) };
  return { lock, changes: diffLocks(opts.existing, lock), warnings };
}

/**
 * `lock --check`: nothing is written. Drift is the manifest's pin no longer matching the
 * lock, a tag or branch now pointing elsewhere, or a tarball's bytes changed upstream
 * (kind `added`, `removed` or `changed`). A config edit of metadata only (license) is a
 * change of kind `metadata`, listed after the drift; the pin is still checked upstream.
 */
export async function checkLock(opts: LockOptions & { existing: Lockfile | undefined }): Promise<ComponentChange[]> {
  const { config } = opts.loaded;
  const drift = await checkPins(opts);
  const metadata: ComponentChange[] = [];
  for (const [name, spec] of Object.entries(config.components).sort(([a], [b]) => compareBytewise(a, b))) {
    const old = opts.existing?.components[name];
    if (!old || !pinMatchesLocked(spec, old)) continue;
    const fields = metadataChanges(spec, old);
    if (fields.length) metadata.push({ name, kind: 'metadata', fields, reason: 'metadata only, the pin holds' });
  }
  return [...drift, ...metadata];
}

async function checkPins(opts: LockOptions & { existing: Lockfile | undefined }): Promise<ComponentChange[]> {
  const { config } = opts.loaded;
  const names = [...new Set([...Object.keys(config.components), ...Object.keys(opts.existing?.components ?? {})])].sort(
    compareBytewise,
  );
  const results = await forEachComponent(names, opts.jobs ?? 4, async (name): Promise<ComponentChange | undefined> => {
    const spec = config.components[name];
    const old = opts.existing?.components[name];
    if (!spec) return { ...diffComponent(name, old, undefined)!, reason: 'in the lock but no longer in the config' };
    if (opts.offline) return offlineDrift(name, spec, old, opts);
    if (!old || !pinMatchesLocked(spec, old)) {
      const fresh = await resolveOne(name, spec, opts, []);
      // The pin moved: its metadata fields are reported with the rest of the entry's diff.
      const change = diffComponent(name, old, fresh);
      return {
        ...(change ?? { name, fields: [] }),
        kind: old ? 'changed' : 'added',
        reason: old ? 'the config changed' : 'not in the lock yet',
      };
    }
    return (await ownDrift(name, old, opts)) ?? nestedDrift(name, old, opts);
  });
  return results.filter((c): c is ComponentChange => c !== undefined);
}

/**
 * Offline drift: the config against the lock, local components and patch files re-hashed.
 * A pinned commit or integrity cannot change, so the children it names cannot either.
 */
async function offlineDrift(
  name: string,
  spec: ComponentSpec,
  old: LockedComponent | undefined,
  opts: LockOptions,
): Promise<ComponentChange | undefined> {
  if (!old) return { name, kind: 'added', fields: [], reason: 'not in the lock yet' };
  if (!pinMatchesLocked(spec, old))
    return { name, kind: 'changed', fields: pinChanges(spec, old), reason: 'the config changed' };
  return (await ownDrift(name, old, { ...opts, offline: true })) ?? nestedDrift(name, old, { ...opts, offline: true });
}

/** Upstream moved under a pin that still matches the config, or a local input changed. */
async function ownDrift(name: string, old: LockedComponent, opts: LockOptions): Promise<ComponentChange | undefined> {
  const ctx = {
    cache: opts.cache,
    configRoot: opts.loaded.root,
    mirrors: [],
    progress: opts.progress,
    offline: opts.offline,
  };
  const drift = await opsFor(old).drift(name, old, ctx);
  return drift && { name, kind: 'changed', ...drift };
}

/** Drift inside an entry whose own pin holds: its children and its patch files. */
async function nestedDrift(
  name: string,
  old: LockedComponent,
  opts: LockOptions,
): Promise<ComponentChange | undefined> {
  const { fields, reasons } = await checkNested(name, old, { ...nestedContext(name, opts, []), offline: opts.offline });
  if (!fields.length) return undefined;
  return { name, kind: 'changed', fields, reason: reasons.join('; ') };
}
