import { describe, expect, it } from 'vitest';
import { closeNames } from '../../src/sources/git/refs.js';
import { resolveSubmoduleUrl } from '../../src/sources/git/submodules.js';
import { symlinkEscapes } from '../../src/sources/git/tree.js';
import { parseExportAttributes } from '../../src/sources/git/tree.js';

describe('resolveSubmoduleUrl (git’s rule for relative .gitmodules URLs)', () => {
  it.each([
    ['https://github.com/tianocore/edk2.git', '../openssl.git', 'https://github.com/tianocore/openssl.git'],
    ['https://github.com/tianocore/edk2.git', '../../openssl/openssl', 'https://github.com/openssl/openssl'],
    ['https://github.com/tianocore/edk2.git/', './sub', 'https://github.com/tianocore/edk2.git/sub'],
    ['https://host', '../x', 'https://host/x'],
    ['file:///srv/git/parent', '../sub', 'file:///srv/git/sub'],
    ['/srv/git/parent', '../sub', '/srv/git/sub'],
    ['git@example.org:group/parent.git', '../child.git', 'git@example.org:group/child.git'],
    ['git://127.0.0.1:9418/top', '../mid', 'git://127.0.0.1:9418/mid'],
    ['https://host/a/b.git', 'https://other/abs.git', 'https://other/abs.git'],
  ])('%s + %s', (parent, rel, want) => {
    expect(resolveSubmoduleUrl(parent, rel)).toBe(want);
  });
});

describe('symlinkEscapes (resolved through the tree’s own links)', () => {
  const links = (o: Record<string, string>) => new Map(Object.entries(o));
  it.each<[string, Record<string, string>, boolean]>([
    ['l', { l: 'README' }, false],
    ['a/l', { 'a/l': '../docs/x' }, false],
    ['l', { l: '/etc/passwd' }, true],
    ['l', { l: '../x' }, true],
    ['a/b/l', { 'a/b/l': '../../..' }, true],
    ['l', { l: '.' }, true],
    ['a/l', { 'a/l': '..' }, true],
    ['a/b/m', { 'a/b/l': '..', 'a/b/m': 'l/../..' }, true],
    ['a/b/m', { 'a/b/l': '..', 'a/b/m': 'l/x' }, false],
    ['x', { x: 'y', y: 'x' }, true],
    ['l', { l: '' }, true],
    ['d/l', { d: 'sub', 'd/l': 'f' }, false],
  ])('%s in %j → %s', (path, map, escapes) => {
    expect(symlinkEscapes(path, links(map))).toBe(escapes);
  });
});

describe('closeNames', () => {
  it('suggests tags that look like the unknown ref, closest first', () => {
    const tags = ['rel-1.16.3', 'rel-1.17.0', 'rel-1.6.0', 'v2.0', 'qemu-xen-4.22.0'];
    expect(closeNames('rel-1.17', tags)[0]).toBe('rel-1.17.0');
    expect(closeNames('rel-1.17.O', tags)[0]).toBe('rel-1.17.0');
    expect(closeNames('zzzzzzzzzzzz', tags)).toEqual([]);
  });
});

describe('parseExportAttributes', () => {
  it('keeps set export-subst / export-ignore, prefixed with the folder of the .gitattributes', () => {
    const into = { exportSubst: [] as string[], exportIgnore: [] as string[] };
    parseExportAttributes('', '# c\n*.c text\nVERSION export-subst\n', into);
    parseExportAttributes('tools', 'tests/ export-ignore\nx -export-subst !export-ignore\n', into);
    expect(into).toEqual({ exportSubst: ['VERSION'], exportIgnore: ['tools/tests/'] });
  });
});
