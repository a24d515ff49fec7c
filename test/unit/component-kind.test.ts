/**
 * A component's kind is its source key; neither the config nor the lock has a kind field.
 * kindOf() reads it and the dispatch picks the module for it; the lock's bytes stay as written.
 */
import { describe, expect, it } from 'vitest';
import { opsFor, specOps } from '../../src/components/dispatch.js';
import { parseLockText, serializeLock } from '../../src/lock/lockfile.js';
import { kindOf, lockedIntegrity, vendoredTreeOf } from '../../src/model/kind.js';
import type { LockedLocal, Lockfile } from '../../src/model/lock.js';
import { VALID_LOCK } from '../helpers/config-mutations.js';

const tree = (c: string) => `sha256-${c.repeat(43)}=`;
const local: LockedLocal = { local: 'prebuilt/ipxe', tree: tree('C'), vendoredTree: tree('D'), path: 'tools/firmware/etherboot/ipxe' };
const lock: Lockfile = { ...VALID_LOCK, components: { ...VALID_LOCK.components, ipxe: local } };
const { seabios, newlib } = lock.components as Record<'seabios' | 'newlib', Lockfile['components'][string]>;

describe('the kind of a component', () => {
  it('is the source key, for config and lock entries alike', () => {
    expect(Object.fromEntries(Object.entries(lock.components).map(([n, c]) => [n, kindOf(c)]))).toEqual({ seabios: 'git', newlib: 'tarball', ipxe: 'local' });
    expect(kindOf({ git: 'https://example.org/a.git' })).toBe('git');
    expect(kindOf({ url: 'https://example.org/a.tar.gz' })).toBe('tarball');
    expect(kindOf({})).toBe('local');
  });

  it('picks the module of that kind, and reads its pin', () => {
    expect(opsFor(seabios).kind).toBe('git');
    expect(opsFor(seabios).lockedPin(seabios)).toBe('a'.repeat(40));
    expect(opsFor(newlib).lockedPin(newlib)).toBe(`sha512-${'A'.repeat(86)}==`);
    expect(opsFor(local).lockedPin(local)).toBe(tree('C'));
    expect(specOps({ path: 'p', local: 'x' }).pinOf({ path: 'p', local: 'x' })).toBe('x');
  });

  it('tells how many bytes a download takes, where the lock records them', () => {
    expect(opsFor(seabios).downloadSize(seabios)).toBeUndefined();
    expect(opsFor(newlib).downloadSize(newlib)).toBe(123);
    expect(opsFor(local).downloadSize(local)).toBeUndefined();
  });

  it('leaves the lock as written: parsed and serialized again, the same bytes, no kind key', () => {
    const text = serializeLock(lock);
    expect(serializeLock(parseLockText(text, 'xenrel.lock'))).toBe(text);
    expect(text).not.toMatch(/"kind"/);
  });

  it('vendoredTree falls back to tree; integrity only where the kind has one', () => {
    expect(vendoredTreeOf(local)).toBe(tree('D'));
    expect(vendoredTreeOf(seabios)).toBe(tree('B'));
    expect(lockedIntegrity(seabios)).toBeUndefined();
    expect(lockedIntegrity(newlib)).toBe(`sha512-${'A'.repeat(86)}==`);
  });
});
