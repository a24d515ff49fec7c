/**
 * The layering of src/ (.dependency-cruiser.mjs): no import cycles, no import that points up
 * a layer or sideways, only commands import the report. Each violation is listed by rule,
 * importing module and imported module.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

/** dependency-cruiser's violations for `src` under `cwd`, one line each. */
async function violations(cwd: string): Promise<string[]> {
  // Exit status 1 means violations; the JSON on stdout says which.
  const out = await promisify(execFile)(
    process.execPath,
    [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'],
    { cwd, maxBuffer: 64 << 20 },
  ).catch((err: { stdout?: string; stderr?: string }) => {
    if (!err.stdout) throw new Error(`dependency-cruiser failed: ${err.stderr ?? String(err)}`);
    return { stdout: err.stdout };
  });
  const result = JSON.parse(out.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  expect(result.summary.totalCruised).toBeGreaterThan(0);
  return result.summary.violations.map((v) => {
    const via = v.cycle?.length ? ` (cycle: ${[v.from, ...v.cycle.map((c) => c.name)].join(' -> ')})` : '';
    return `${v.rule.name}: ${v.from} -> ${v.to}${via}`;
  });
}

describe('architecture', () => {
  it('src/ has no import cycle and no import that points up or sideways', async () => {
    expect(await violations(ROOT)).toEqual([]);
  }, 120_000);

  it('every folder and top-level file of src/ has its place in a layer', async () => {
    const { LAYERS, CLI } = (await import(pathToFileURL(CONFIG).href)) as { LAYERS: string[][]; CLI: string[] };
    const placed = new Set([...LAYERS.flat(), ...CLI]);
    const entries = (await readdir(join(ROOT, 'src'), { withFileTypes: true })).filter(
      (e) => e.isDirectory() || e.name.endsWith('.ts'),
    );
    expect(entries.map((e) => e.name).filter((n) => !placed.has(n))).toEqual([]);
  });

  it('the rules catch an upward import, a cycle and a library module that prints', async () => {
    const dir = await tmp.make();
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
      }),
      'src/util/a.ts': "import { b } from '../cli/b.js';\nexport const a = b;\n",
      'src/cli/b.ts': 'export const b = 1;\n',
      'src/lock/c.ts': "import { d } from '../nested/d.js';\nexport const c = () => d;\n",
      'src/nested/d.ts': "import type { c } from '../lock/c.js';\nexport const d: typeof c | undefined = undefined;\n",
      'src/fetch/e.ts': "import { r } from '../report/r.js';\nexport const e = r;\n",
      'src/report/r.ts': 'export const r = 1;\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), text);
    }
    const found = await violations(dir);
    expect(found).toContain('layer:util: src/util/a.ts -> src/cli/b.ts');
    expect(found).toContain('layer:nested: src/nested/d.ts -> src/lock/c.ts');
    expect(found.some((v) => v.startsWith('no-cycles: src/lock/c.ts -> src/nested/d.ts'))).toBe(true);
    expect(found).toContain('report-only-from-cli: src/fetch/e.ts -> src/report/r.ts');
  }, 120_000);
});
