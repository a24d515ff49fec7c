import { describe, expect, it } from 'vitest';
import { parseWrap, sriFromSha256Hex } from '../../src/nested/wrap.js';
import { wrapFileEntries } from '../../src/nested/children.js';

const HASH = 'e16d2d3311acee920a9eb8d33b8cbc1787ce4a264e85f964c2404b969bdcd487';

describe('meson wrap files', () => {
  it('reads wrap-git and wrap-file the way meson does (defaults, case, comments, diff_files)', () => {
    expect(
      parseWrap('subprojects/dtc.wrap', '# c\n[wrap-git]\nURL = https://x/dtc.git\nrevision: abc\ndepth = 1\n'),
    ).toEqual({
      type: 'git',
      name: 'dtc',
      directory: 'dtc',
      url: 'https://x/dtc.git',
      revision: 'abc',
      diffFiles: [],
      cloneRecursive: false,
    });
    const f = parseWrap(
      'subprojects/anyhow-1-rs.wrap',
      `[wrap-file]\ndirectory = anyhow-1.0.98\nsource_url = https://x/a.tar.gz\nsource_filename = a.tar.gz\nsource_hash = ${HASH.toUpperCase()}\npatch_directory = anyhow-1-rs\ndiff_files = a/1.patch, a/2.patch\n\n[provide]\ndependency_names = anyhow\n`,
    );
    expect(f).toMatchObject({
      type: 'file',
      directory: 'anyhow-1.0.98',
      sourceHash: HASH,
      patchDirectory: 'anyhow-1-rs',
      diffFiles: ['a/1.patch', 'a/2.patch'],
      leadDirectoryMissing: false,
    });
    expect(parseWrap('subprojects/x.wrap', '[wrap-redirect]\nfilename = a/subprojects/x.wrap\n')).toEqual({
      type: 'redirect',
      name: 'x',
    });
    expect(sriFromSha256Hex(HASH)).toBe(`sha256-${Buffer.from(HASH, 'hex').toString('base64')}`);
  });

  it.each([
    ['no section', 'url = x\n', /exactly one \[wrap-\*\] section/],
    ['floating HEAD', '[wrap-git]\nurl = https://x\nrevision = head\n', /no fixed revision/],
    ['no revision', '[wrap-git]\nurl = https://x\n', /no fixed revision/],
    [
      'escaping directory',
      '[wrap-git]\nurl = https://x\nrevision = v1\ndirectory = ../../etc\n',
      /must be one folder name/,
    ],
    [
      'escaping patch_directory',
      '[wrap-git]\nurl = https://x\nrevision = v1\npatch_directory = ../x\n',
      /patch_directory/,
    ],
    [
      'bad hash',
      '[wrap-file]\nsource_url = https://x/a.tgz\nsource_filename = a.tgz\nsource_hash = 1234\n',
      /not a sha256/,
    ],
    [
      'missing source',
      '[wrap-file]\nsource_url = https://x/a.tgz\n',
      /needs source_url, source_filename and source_hash/,
    ],
  ])('refuses %s with exit 2 naming the file', (_what, text, re) => {
    try {
      parseWrap('qemu-xen: subprojects/w.wrap', text);
      throw new Error('no error');
    } catch (err) {
      expect((err as Error).message).toMatch(/^qemu-xen: subprojects\/w\.wrap: /);
      expect((err as Error).message).toMatch(re);
      expect((err as { exitCode: number }).exitCode).toBe(2);
    }
  });

  it('strips the archive top folder named by directory, and refuses another layout', () => {
    const e = [{ path: 'a-1/x' }, { path: 'a-1/y/z' }];
    expect(wrapFileEntries('w', e, ['a-1'], 'a-1', false).map((x) => x.path)).toEqual(['x', 'y/z']);
    expect(wrapFileEntries('w', e, ['a-1'], 'a-1', true)).toBe(e);
    expect(() => wrapFileEntries('w', e, ['a-1'], 'a-2', false)).toThrow(
      /top level is a-1, the wrap says directory = a-2/,
    );
  });
});
