import { describe, expect, it } from 'vitest';
import { generatedMatcher } from '../../src/verify/tarball-git.js';

describe('upstreamGit.generated patterns', () => {
  it.each([
    ['configure', 'configure', true],
    ['configure', 'sub/configure', false],
    ['*/configure', 'sub/configure', true],
    ['*/configure', 'a/b/configure', false],
    ['*.m4', 'aclocal.m4', true],
    ['*.m4', 'm4/libtool.m4', false],
    ['m4/', 'm4/libtool.m4', true],
    ['m4/', 'm4x/libtool.m4', false],
    ['a.c', 'abc', false],
    ['Makefile.in', 'Makefile.in', true],
  ])('%s matches %s: %s', (pattern, path, want) => {
    expect(generatedMatcher([pattern])(path)).toBe(want);
  });
});
