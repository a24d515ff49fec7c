import type { ComponentSpec } from '../model/config.js';
import type { FieldChange } from '../types.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { describeComponent } from '../components/dispatch.js';
import type { ComponentKind } from '../model/kind.js';
import { compareBytewise } from '../tree/hash.js';

export interface ComponentChange {
  name: string;
  /**
   * `metadata`: only fields that describe the pin changed (license), never what it points
   * at; `xenrel lock` rewrites them without a download and `lock --check` does not fail.
   */
  kind: 'added' | 'removed' | 'changed' | 'metadata';
  fields: FieldChange[];
  /** Why, in words (`tag rel-1.17.0 moved`, `upstream bytes changed`). */
  reason?: string;
}

/**
 * Lock fields copied from the config that say nothing about which bytes are pinned. Config
 * fields that are not in the lock at all (groups, vars, description, configure, mirrors)
 * never touch it.
 */
export const METADATA_FIELDS: readonly string[] = ['license'];

const FIELDS = [
  'git',
  'url',
  'local',
  'ref',
  'commit',
  'integrity',
  'size',
  'tree',
  'path',
  'license',
  'patches',
  'vendoredTree',
  'signer',
] as const;

const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([x], [y]) => compareBytewise(x, y)))
      : val,
  );

/** Nested sources, one field per child that changed: `children[subprojects/dtc]`. */
function childFields(a: LockedComponent | undefined, b: LockedComponent | undefined): FieldChange[] {
  const ca: Record<string, unknown> = (a && 'children' in a && a.children) || {};
  const cb: Record<string, unknown> = (b && 'children' in b && b.children) || {};
  return [...new Set([...Object.keys(ca), ...Object.keys(cb)])]
    .sort(compareBytewise)
    .filter((p) => stable(ca[p]) !== stable(cb[p]))
    .map((p) => ({ field: `children[${p}]`, old: ca[p], new: cb[p] }));
}

export function diffComponent(
  name: string,
  a: LockedComponent | undefined,
  b: LockedComponent | undefined,
): ComponentChange | undefined {
  if (!a && !b) return undefined;
  if (!a)
    return {
      name,
      kind: 'added',
      fields: [
        ...FIELDS.filter((f) => f in b!).map((f) => ({ field: f, new: (b as unknown as Record<string, unknown>)[f] })),
        ...childFields(a, b),
      ],
    };
  if (!b)
    return {
      name,
      kind: 'removed',
      fields: [
        ...FIELDS.filter((f) => f in a).map((f) => ({ field: f, old: (a as unknown as Record<string, unknown>)[f] })),
        ...childFields(a, b),
      ],
    };
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  const fields = [
    ...FIELDS.filter((f) => stable(ra[f]) !== stable(rb[f])).map((f) => ({ field: f, old: ra[f], new: rb[f] })),
    ...childFields(a, b),
  ];
  if (!fields.length) return undefined;
  return { name, kind: fields.every((f) => METADATA_FIELDS.includes(f.field)) ? 'metadata' : 'changed', fields };
}

export function diffLocks(before: Lockfile | undefined, after: Lockfile): ComponentChange[] {
  const names = new Set([...Object.keys(before?.components ?? {}), ...Object.keys(after.components)]);
  return [...names]
    .sort(compareBytewise)
    .map((n) => diffComponent(n, before?.components[n], after.components[n]))
    .filter((c): c is ComponentChange => c !== undefined);
}

/** Does the locked entry still answer what the config asks for, metadata included? (No network.) */
export function specMatchesLocked(spec: ComponentSpec, locked: LockedComponent | undefined): boolean {
  return pinMatchesLocked(spec, locked) && metadataChanges(spec, locked!).length === 0;
}

/** The config's metadata fields that differ from the locked entry's. */
export function metadataChanges(spec: ComponentSpec, locked: LockedComponent): FieldChange[] {
  const have = locked.license ?? undefined;
  const want = spec.license ?? undefined;
  return have === want ? [] : [{ field: 'license', old: have, new: want }];
}

/** The locked entry with the config's metadata: the pin itself is kept as it is. */
export function withMetadata(spec: ComponentSpec, locked: LockedComponent): LockedComponent {
  const { license: _old, ...rest } = locked;
  return (spec.license !== undefined ? { ...rest, license: spec.license } : rest) as LockedComponent;
}

/**
 * Does the locked pin still answer what the config asks for, whatever its metadata
 * (license) says? (No network.)
 */
export function pinMatchesLocked(spec: ComponentSpec, locked: LockedComponent | undefined): boolean {
  return locked !== undefined && pinChanges(spec, locked).length === 0;
}

/**
 * What the config asks for that the locked pin does not answer, field by field, without
 * resolving anything: the one rule for whether a pin holds (`lock`, `lock --check`,
 * `lock --check --offline`, `status`).
 */
export function pinChanges(spec: ComponentSpec, locked: LockedComponent): FieldChange[] {
  const out: FieldChange[] = [];
  const cmp = (field: string, want: unknown, got: unknown) => {
    if (want !== got) out.push({ field, old: got, new: want });
  };
  // The config's source key names the kind, so each is compared with the locked origin only
  // when the lock entry is of that kind.
  const d = describeComponent(locked);
  const origin = (kind: ComponentKind) => (d.kind === kind ? d.origin : undefined);
  cmp('git', spec.git, origin('git'));
  if (spec.git !== undefined) cmp('ref', spec.ref, d.kind === 'git' ? d.version : undefined);
  cmp('url', spec.url, origin('tarball'));
  cmp('local', spec.local, origin('local'));
  if (spec.integrity !== undefined) cmp('integrity', spec.integrity, d.integrity);
  cmp('path', spec.path, locked.path);
  // The patch list (names and order); their bytes are compared by patchesMatch (reads files).
  const want = spec.patches ?? [];
  const got = (('patches' in locked && locked.patches) || []).map((p) => p.file);
  if (want.length !== got.length || want.some((f, i) => f !== got[i]))
    out.push({ field: 'patches', old: got.join(', ') || undefined, new: want.join(', ') || undefined });
  if (spec.signingKey !== undefined && !('signer' in locked && locked.signer))
    out.push({ field: 'signer', old: undefined, new: `a signature by ${spec.signingKey}` });
  return out;
}

const show = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

/** A readable, per-component diff for `lock --check` and `xenrel diff`. */
export function formatChanges(changes: ComponentChange[]): string {
  const out: string[] = [];
  for (const c of changes) {
    const sign = c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : c.kind === 'metadata' ? '=' : '~';
    const why = c.reason ?? (c.kind === 'metadata' ? 'metadata only, the pin holds' : undefined);
    out.push(`${sign} ${c.name}${why ? `: ${why}` : c.kind !== 'changed' ? ` (${c.kind})` : ''}`);
    for (const f of c.fields) {
      if (c.kind === 'added') out.push(`    ${f.field}: ${show(f.new)}`);
      else if (c.kind === 'removed') out.push(`    ${f.field}: ${show(f.old)}`);
      else out.push(`    ${f.field}: ${show(f.old)} -> ${show(f.new)}`);
    }
  }
  return out.join('\n');
}
