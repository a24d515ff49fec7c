/**
 * The README's error catalogue lists every code xenrel raises: each `'E_…'` string literal
 * in src/ must appear as `E_…` between the catalogue markers, and the catalogue names no
 * code the source no longer has.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function codesInSource(): Set<string> {
  const codes = new Set<string>();
  for (const f of sources(join(ROOT, 'src')))
    for (const m of readFileSync(f, 'utf8').matchAll(/['"`](E_[A-Z0-9_]*[A-Z0-9])['"`]/g)) codes.add(m[1]!);
  return codes;
}

function codesInCatalogue(): Set<string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- error-catalogue:start -->');
  const end = readme.indexOf('<!-- error-catalogue:end -->');
  expect(start, 'catalogue markers in README.md').toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return new Set([...readme.slice(start, end).matchAll(/`(E_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
}

describe('the error code catalogue', () => {
  it('the source raises many codes (the scan works)', () => {
    const codes = codesInSource();
    for (const c of ['E_CONFIG', 'E_GIT_STALLED', 'E_TAR_ABSOLUTE', 'E_SIZE_MISMATCH', 'E_INTERNAL'])
      expect(codes).toContain(c);
    expect(codes.size).toBeGreaterThan(80);
  });

  it('every code in src/ is in the README catalogue', () => {
    const documented = codesInCatalogue();
    const missing = [...codesInSource()].filter((c) => !documented.has(c)).sort();
    expect(missing, 'codes raised in src/ but not in the README catalogue').toEqual([]);
  });

  it('the catalogue lists no code the source does not have', () => {
    const raised = codesInSource();
    const stale = [...codesInCatalogue()].filter((c) => !raised.has(c)).sort();
    expect(stale, 'codes in the README catalogue that src/ no longer raises').toEqual([]);
  });
});
