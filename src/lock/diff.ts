import type { ComponentSpec, LockedComponent, Lockfile } from '../types.js';
import { compareBytewise } from '../tree/hash.js';

export interface FieldChange {
  field: string;
  old?: unknown;
  new?: unknown;
}

export interface ComponentChange {
  name: string;
  kind: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
  /** Why, in words (`tag rel-1.17.0 moved`, `upstream bytes changed`). */
  reason?: string;
}

const FIELDS = ['git', 'url', 'local', 'ref', 'commit', 'integrity', 'size', 'tree', 'path', 'license'] as const;

export function diffComponent(name: string, a: LockedComponent | undefined, b: LockedComponent | undefined): ComponentChange | undefined {
  if (!a && !b) return undefined;
  if (!a) return { name, kind: 'added', fields: FIELDS.filter((f) => f in b!).map((f) => ({ field: f, new: (b as unknown as Record<string, unknown>)[f] })) };
  if (!b) return { name, kind: 'removed', fields: FIELDS.filter((f) => f in a).map((f) => ({ field: f, old: (a as unknown as Record<string, unknown>)[f] })) };
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  const fields = FIELDS.filter((f) => JSON.stringify(ra[f]) !== JSON.stringify(rb[f])).map((f) => ({ field: f, old: ra[f], new: rb[f] }));
  return fields.length ? { name, kind: 'changed', fields } : undefined;
}

export function diffLocks(before: Lockfile | undefined, after: Lockfile): ComponentChange[] {
  const names = new Set([...Object.keys(before?.components ?? {}), ...Object.keys(after.components)]);
  return [...names]
    .sort(compareBytewise)
    .map((n) => diffComponent(n, before?.components[n], after.components[n]))
    .filter((c): c is ComponentChange => c !== undefined);
}

/** Does the locked entry still answer what the manifest asks for? (No network.) */
export function specMatchesLocked(spec: ComponentSpec, locked: LockedComponent | undefined): boolean {
  if (!locked) return false;
  if (spec.path !== locked.path || (spec.license ?? undefined) !== (locked.license ?? undefined)) return false;
  if (spec.git !== undefined) return 'git' in locked && locked.git === spec.git && locked.ref === spec.ref;
  if (spec.url !== undefined)
    return 'url' in locked && locked.url === spec.url && (spec.integrity === undefined || spec.integrity === locked.integrity);
  if (spec.local !== undefined) return 'local' in locked && locked.local === spec.local && (spec.integrity === undefined || spec.integrity === locked.integrity);
  return false;
}

const show = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

/** A readable, per-component diff for `lock --check` and `xenrel diff`. */
export function formatChanges(changes: ComponentChange[]): string {
  const out: string[] = [];
  for (const c of changes) {
    const sign = c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : '~';
    out.push(`${sign} ${c.name}${c.reason ? `: ${c.reason}` : c.kind !== 'changed' ? ` (${c.kind})` : ''}`);
    for (const f of c.fields) {
      if (c.kind === 'added') out.push(`    ${f.field}: ${show(f.new)}`);
      else if (c.kind === 'removed') out.push(`    ${f.field}: ${show(f.old)}`);
      else out.push(`    ${f.field}: ${show(f.old)} -> ${show(f.new)}`);
    }
  }
  return out.join('\n');
}
