/**
 * A component's kind is its source key; neither the config nor the lock has a kind field.
 * kindOf() reads it and the dispatch picks the module for it; the lock's bytes stay as written.
 */
import { describe, expect, it } from 'vitest';
import { describeComponent, opsFor, specOps } from '../../src/components/dispatch.js';
import { parseLockText, serializeLock } from '../../src/lock/lockfile.js';
import { kindOf, lockedIntegrity, vendoredTreeOf } from '../../src/model/kind.js';
import type { LockedLocal, LockedTarball, Lockfile } from '../../src/model/lock.js';
import { VALID_LOCK } from '../helpers/config-mutations.js';

const tree = (c: string) => `sha256-${c.repeat(43)}=`;
const local: LockedLocal = {
  local: 'prebuilt/ipxe',
  tree: tree('C'),
  vendoredTree: tree('D'),
  path: 'tools/firmware/etherboot/ipxe',
};
const lock: Lockfile = { ...VALID_LOCK, components: { ...VALID_LOCK.components, ipxe: local } };
const { seabios, newlib } = lock.components as Record<'seabios' | 'newlib', Lockfile['components'][string]>;

describe('the kind of a component', () => {
  it('is the source key, for config and lock entries alike', () => {
    expect(Object.fromEntries(Object.entries(lock.components).map(([n, c]) => [n, kindOf(c)]))).toEqual({
      seabios: 'git',
      newlib: 'tarball',
      ipxe: 'local',
    });
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

  // toStrictEqual: a field the kind lacks is absent, not present as undefined.
  describe('describe(), one shape for every kind, read from the lock entry', () => {
    it('git: the repository, the ref, the commit as the digest', () => {
      expect(describeComponent(seabios)).toStrictEqual({
        kind: 'git',
        origin: 'https://xenbits.xen.org/git-http/seabios.git',
        url: 'https://xenbits.xen.org/git-http/seabios.git',
        version: 'rel-1.16.3',
        digest: { algorithm: 'gitCommit', hex: 'a'.repeat(40) },
        commit: 'a'.repeat(40),
        path: 'tools/firmware/seabios-dir-remote',
      });
    });

    it('tarball: the URL, the version in its file name, the integrity as algorithm and hex', () => {
      expect(describeComponent(newlib)).toStrictEqual({
        kind: 'tarball',
        origin: 'https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz',
        url: 'https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz',
        version: '1.16.0',
        // 86 base64 'A's and '==': 64 zero bytes.
        digest: { algorithm: 'sha512', hex: '00'.repeat(64) },
        integrity: `sha512-${'A'.repeat(86)}==`,
        size: 123,
        path: 'stubdom/newlib-1.16.0.tar.gz',
      });
      const blob: LockedTarball = {
        url: 'https://example.org/firmware.bin',
        integrity: `sha256-${'A'.repeat(43)}=`,
        size: 7,
        path: 'fw/firmware.bin',
      };
      const d = describeComponent(blob);
      expect(d.version).toBeUndefined();
      expect('version' in d).toBe(false);
      expect(d.digest).toStrictEqual({ algorithm: 'sha256', hex: '00'.repeat(32) });
    });

    it('local: the path as written, a folder by its own tree hash (not the vendored one), a file by its integrity', () => {
      expect(describeComponent(local)).toStrictEqual({
        kind: 'local',
        origin: 'prebuilt/ipxe',
        // 43 base64 'C's and '=': the bits 000010 repeated.
        digest: { algorithm: 'xenrelTree', hex: `${'082'.repeat(21)}0` },
        path: 'tools/firmware/etherboot/ipxe',
      });
      const file: LockedLocal = {
        local: 'prebuilt/ipxe.bin',
        integrity: `sha512-${'A'.repeat(86)}==`,
        path: 'tools/firmware/ipxe.bin',
      };
      expect(describeComponent(file)).toStrictEqual({
        kind: 'local',
        origin: 'prebuilt/ipxe.bin',
        digest: { algorithm: 'sha512', hex: '00'.repeat(64) },
        integrity: `sha512-${'A'.repeat(86)}==`,
        path: 'tools/firmware/ipxe.bin',
      });
    });
  });
});
