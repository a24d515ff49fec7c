/**
 * Trees kept as plain files under test/fixtures/<name>/, in layers (folders) laid one over
 * the other, a later layer's file replacing an earlier one's:
 *
 *   await loadFixture('xen-tree', dir, { layers: ['common', '4.22'], vars: { QEMU_URL: url } });
 *
 * The one substitution: `{{NAME}}` in a file becomes vars.NAME — for what only the test
 * knows, like a loopback server's URL or a commit it made. A placeholder with no value, or
 * a value no file uses, throws (a typo would otherwise write a tree that still parses).
 * Files are written 0644, or 0755 where the fixture file is executable; the bytes are the
 * file's own otherwise (Makefile recipes keep their tabs, see .editorconfig).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface FixtureOptions {
  /** Folders under test/fixtures/<name>/, in order; default the fixture folder itself. */
  layers?: string[];
  /** Values for `{{NAME}}` placeholders. */
  vars?: Record<string, string>;
}

const PLACEHOLDER = /\{\{([A-Za-z0-9_]+)\}\}/g;

function filesUnder(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(root, r));
    else out.push(r);
  }
  return out;
}

function substitute(text: string, vars: Record<string, string>, used: Set<string>, where: string): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`${where}: no value for {{${name}}}`);
    used.add(name);
    return v;
  });
}

/** The files of a fixture, relative path → { text, exec }, layers merged and placeholders filled. */
export function readFixture(name: string, opts: FixtureOptions = {}): Map<string, { text: string; exec: boolean }> {
  const vars = opts.vars ?? {};
  const used = new Set<string>();
  const files = new Map<string, { text: string; exec: boolean }>();
  for (const layer of opts.layers ?? ['.']) {
    const root = join(FIXTURES_DIR, name, layer);
    for (const rel of filesUnder(root).sort()) {
      const abs = join(root, rel);
      files.set(rel, {
        text: substitute(readFileSync(abs, 'utf8'), vars, used, abs),
        exec: (statSync(abs).mode & 0o100) !== 0,
      });
    }
  }
  const unused = Object.keys(vars).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`fixture ${name}: no file uses ${unused.map((k) => `{{${k}}}`).join(', ')}`);
  return files;
}

/** One fixture file's text (placeholders filled from `vars`, which need not all be used). */
export function fixtureText(path: string, vars: Record<string, string> = {}): string {
  const abs = join(FIXTURES_DIR, path);
  return substitute(readFileSync(abs, 'utf8'), vars, new Set(), abs);
}

/** Write a fixture into `dest` (which may already hold other files); returns the paths written. */
export async function loadFixture(name: string, dest: string, opts: FixtureOptions = {}): Promise<string[]> {
  const files = readFixture(name, opts);
  for (const [rel, f] of files) {
    const abs = join(dest, rel);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, f.text);
    await chmod(abs, f.exec ? 0o755 : 0o644);
  }
  return [...files.keys()];
}
