import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import { parseLockText, serializeLock } from '../../src/lock/lockfile.js';
import { diffLocks, formatChanges, specMatchesLocked } from '../../src/lock/diff.js';
import type { Lockfile } from '../../src/model/lock.js';

const tree = `sha256-${'A'.repeat(43)}=`;
const lock: Lockfile = {
  name: 'xen',
  lockfileVersion: 1,
  components: {
    seabios: {
      path: 'tools/firmware/seabios-dir-remote',
      git: 'https://x/seabios.git',
      ref: 'rel-1.17.0',
      commit: 'a'.repeat(40),
      tree,
    },
    newlib: {
      url: 'https://x/newlib-1.16.0.tar.gz',
      path: 'stubdom/newlib-1.16.0.tar.gz',
      integrity: `sha512-${'B'.repeat(86)}==`,
      size: 12,
    },
  },
};

describe('lockfile', () => {
  it('serialises with sorted keys, 2-space indent and a final newline', () => {
    const text = serializeLock(lock);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe('  "components": {');
    const keys = Object.keys(JSON.parse(text).components.seabios);
    expect(keys).toEqual([...keys].sort());
    expect(Object.keys(JSON.parse(text).components)).toEqual(['newlib', 'seabios']);
    // Round trip is byte-identical.
    expect(serializeLock(parseLockText(text, 'xenrel.lock'))).toBe(text);
  });

  it('reports malformed JSON with line and column', () => {
    const text = serializeLock(lock).replace('"size": 12', '"size": 12,,');
    try {
      parseLockText(text, 'xenrel.lock');
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issue = (err as ConfigError).issues[0]!;
      expect(issue.file).toBe('xenrel.lock');
      expect(issue.line).toBe(text.split('\n').findIndex((l) => l.includes('12,,')) + 1);
      expect((err as ConfigError).exitCode).toBe(2);
    }
  });

  it('reports schema errors at the offending key', () => {
    const text = serializeLock(lock).replace(`"commit": "${'a'.repeat(40)}"`, '"commit": "abc"');
    expect(() => parseLockText(text, 'xenrel.lock')).toThrow(/xenrel\.lock:\d+:\d+: components\.seabios/);
    const v2 = serializeLock(lock).replace('"lockfileVersion": 1', '"lockfileVersion": 2');
    expect(() => parseLockText(v2, 'xenrel.lock')).toThrow(/lockfileVersion: expected 1/);
  });

  it('diffs two locks per component and field', () => {
    const next: Lockfile = JSON.parse(JSON.stringify(lock));
    (next.components.seabios as { commit: string }).commit = 'b'.repeat(40);
    delete next.components.newlib;
    next.components.zlib = {
      url: 'https://x/zlib.tgz',
      path: 'stubdom/zlib.tgz',
      integrity: `sha512-${'C'.repeat(86)}==`,
      size: 3,
    };
    const changes = diffLocks(lock, next);
    expect(changes.map((c) => [c.name, c.kind])).toEqual([
      ['newlib', 'removed'],
      ['seabios', 'changed'],
      ['zlib', 'added'],
    ]);
    expect(formatChanges(changes)).toContain(`    commit: ${'a'.repeat(40)} -> ${'b'.repeat(40)}`);
  });

  it('knows when the config still matches the locked entry', () => {
    const spec = { git: 'https://x/seabios.git', ref: 'rel-1.17.0', path: 'tools/firmware/seabios-dir-remote' };
    expect(specMatchesLocked(spec, lock.components.seabios)).toBe(true);
    expect(specMatchesLocked({ ...spec, ref: 'rel-1.18.0' }, lock.components.seabios)).toBe(false);
    expect(specMatchesLocked({ ...spec, path: 'elsewhere' }, lock.components.seabios)).toBe(false);
    expect(
      specMatchesLocked(
        { url: 'https://x/newlib-1.16.0.tar.gz', path: 'stubdom/newlib-1.16.0.tar.gz' },
        lock.components.newlib,
      ),
    ).toBe(true);
  });
});
