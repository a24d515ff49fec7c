/**
 * What ships and what runs in CI must read on its own: no comment, test title or message
 * may send the reader to a document or tracker that is not in this repository.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCANNED = [
  'src',
  'scripts',
  'test',
  '.ci',
  'config',
  'README.md',
  'CHANGELOG.md',
  'package.json',
  'vitest.config.ts',
  '.dependency-cruiser.mjs',
];
const SKIP = new Set(['node_modules', '__snapshots__', 'fixtures']);

// Written in pieces so that this file does not match itself.
const OUTSIDE = [
  ['hostile', '-inputs'],
  ['xen', '-facts'],
  ['stack', '-notes'],
  ['DESIGN', '\\.md'],
  ['\\.\\./', 'shared/'],
  ['/work', '/'],
  ['\\b[Ii]ssue', ' #?[0-9]+\\b'],
].map(([a, b]) => new RegExp(`${a}${b}`));

function* files(path: string): Generator<string> {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) if (!SKIP.has(name)) yield* files(join(path, name));
  } else if (/\.(ts|mjs|js|cjs|sh|md|json|ya?ml)$|(^|\/)run$/.test(path)) yield path;
}

/** `file:line: text` for every line that points outside the repository. */
function outsideReferences(root: string): string[] {
  const found: string[] = [];
  // A missing top-level entry is skipped; any other read error fails the test.
  for (const top of SCANNED.filter((t) => existsSync(join(root, t))))
    for (const f of files(join(root, top)))
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (OUTSIDE.some((re) => re.test(line))) found.push(`${relative(root, f)}:${i + 1}: ${line.trim()}`);
        });
  return found;
}

describe('self-contained text', () => {
  it('no comment, title or message cites a document or issue that does not ship', () => {
    expect(outsideReferences(ROOT)).toEqual([]);
  });

  it('the check names each such line, and leaves plain text alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenrel-self-contained-'));
    try {
      mkdirSync(join(dir, 'src', 'a'), { recursive: true });
      mkdirSync(join(dir, 'test', 'fixtures'), { recursive: true });
      const bad = [
        `// see ${'DESIGN'}.md`,
        `/* ${'hostile'}-inputs §1.4 */`,
        `it('x (${'issue'} 7)')`,
        `// ${'..'}/shared/notes`,
      ];
      writeFileSync(
        join(dir, 'src', 'a', 'b.ts'),
        ['// the rule, stated here', ...bad, 'const issues = 3;'].join('\n'),
      );
      writeFileSync(join(dir, 'test', 'fixtures', 'c.ts'), bad.join('\n'));
      expect(outsideReferences(dir)).toEqual(bad.map((l, i) => `src/a/b.ts:${i + 2}: ${l}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
