/**
 * Mutated inputs through whole commands: a real project (a git repository over
 * file://, a tarball on a 127.0.0.1 HTTP server, a local file) is locked once; then its
 * xenrel.config.yaml and xenrel.lock are mutated with fixed seeds and each case goes
 * through `lock --check`, `status`, `sbom` and `verify DIR --lock`. The commands run
 * in-process (the same clipanion entry the binary uses, with captured streams), a sample
 * through the built CLI. Every outcome must be a documented exit code (0, 1, 2, 3), never
 * "unexpected error"; a config or lock that does not parse is exit 2 naming file:line:col.
 * See test/unit/config-fuzz.test.ts for the parsers alone.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCommand } from '../../src/shell/overview.js';
import { newCli } from '../../src/shell/usage.js';
import { runCli } from '../helpers/cli.js';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { makeTarball } from '../helpers/make-tarball.js';
import { tempDirs } from '../helpers/tmp.js';

const CASES = 520;
const CLI_SAMPLE = 4;

const tmp = tempDirs();
let fx: GitFixtures;
let seabios: TestRepo;
let server: TestHttpServer;
let dir: string;
let cache: string;
let configText: string;
let lockText: string;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** One command, in this process, through the CLI's own command classes. */
async function inProcess(args: string[]): Promise<Outcome> {
  const cls = await loadCommand(args[0]!);
  const cli = newCli(false);
  cli.register(cls);
  const collect = () => {
    const s = new PassThrough();
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    return { s, text: () => Buffer.concat(chunks).toString('utf8') };
  };
  const out = collect();
  const err = collect();
  let command;
  try {
    command = cli.process(args);
  } catch (e) {
    return { code: 2, stdout: '', stderr: cli.error(e as Error) };
  }
  const code = await cli.run(command, { stdin: process.stdin, stdout: out.s, stderr: err.s });
  await new Promise((r) => setImmediate(r));
  return { code, stdout: out.text(), stderr: err.text() };
}

/** Characters that matter to YAML, JSON and URLs. */
const SPECIAL = [
  ':',
  '-',
  ' ',
  '\n',
  '"',
  "'",
  '{',
  '}',
  '[',
  ']',
  ',',
  '#',
  '&',
  '*',
  '!',
  '|',
  '%',
  '@',
  '\\',
  '\0',
  '\u00e9',
  '0',
  '1',
  '9',
  'null',
  'true',
  '~',
  '<<',
  '...',
  '/',
  '..',
  '[::1',
  '%zz',
  ':99999',
  'http://',
  'git://',
  '__proto__',
  'constructor',
];

const mutation = fc.oneof(
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ maxLength: 6 })),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 10 }) }),
  fc.record({
    op: fc.constant('replace' as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 6 }),
    text: fc.constantFrom(...SPECIAL),
  }),
  fc.record({ op: fc.constant('dupline' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('dropline' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(text: string, muts: Mutation[]): string {
  let s = text;
  for (const m of muts) {
    const at = s.length ? m.at % (s.length + 1) : 0;
    if (m.op === 'insert') s = s.slice(0, at) + m.text + s.slice(at);
    else if (m.op === 'delete') s = s.slice(0, at) + s.slice(at + m.len);
    else if (m.op === 'replace') s = s.slice(0, at) + m.text + s.slice(at + m.len);
    else {
      const lines = s.split('\n');
      const i = m.at % lines.length;
      if (m.op === 'dupline') lines.splice(i, 0, lines[i]!);
      else lines.splice(i, 1);
      s = lines.join('\n');
    }
  }
  return s;
}

/** A JSON value put in place of one field of the lock: null, wrong types, odd strings. */
const oddValue = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, '', ' ', '..', '/etc/passwd', 'sha512-', '\0', [], {}, [null], { a: null }),
  fc.jsonValue({ maxDepth: 2 }),
);

function structural(lock: string, pathPick: number, value: unknown): string {
  const l = JSON.parse(lock) as Record<string, any>;
  const slots: [Record<string, any>, string][] = [];
  const walk = (o: unknown) => {
    if (!o || typeof o !== 'object') return;
    for (const k of Object.keys(o as object)) {
      slots.push([o as Record<string, any>, k]);
      walk((o as Record<string, any>)[k]);
    }
  };
  walk(l);
  const [obj, key] = slots[pathPick % slots.length]!;
  obj[key] = value;
  return JSON.stringify(l, null, 2);
}

type Case = { config: string; lock: string; what: string };

function cases(n: number, seed: number): Case[] {
  const muts = fc.array(mutation, { minLength: 1, maxLength: 5 });
  const arb: fc.Arbitrary<Case> = fc.oneof(
    muts.map((m) => ({ config: apply(configText, m), lock: lockText, what: 'config text' })),
    muts.map((m) => ({ config: configText, lock: apply(lockText, m), what: 'lock text' })),
    fc
      .tuple(fc.nat(), oddValue)
      .map(([p, v]) => ({ config: configText, lock: structural(lockText, p, v), what: 'lock value' })),
    fc
      .tuple(muts, fc.nat(), oddValue)
      .map(([m, p, v]) => ({ config: apply(configText, m), lock: structural(lockText, p, v), what: 'both' })),
  );
  return fc.sample(arb, { numRuns: n, seed });
}

const COMMANDS = (d: string) => [
  ['lock', '--check'],
  ['status'],
  ['sbom', '--out', join(d, 'out.spdx.json')],
  ['verify', join(d, 'tree'), '--lock', join(d, 'xenrel.lock')],
];

const POSITIONED = /xenrel\.(config\.yaml|lock):\d+:\d+/;

function check(o: Outcome, c: Case, args: string[]) {
  const what = `${args.join(' ')} (${c.what}) → ${o.code}\n${o.stderr}\n--- config ---\n${c.config}\n--- lock ---\n${c.lock}`;
  expect(o.stderr, what).not.toMatch(/unexpected error/i);
  expect(o.stderr, what).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
  expect([0, 1, 2, 3], what).toContain(o.code);
  // Exit 2 is a config or lock problem: positioned, except a problem with what the config
  // names on disk (a local source's file), which has no place in the text to point at.
  if (o.code === 2 && !UNPOSITIONED_OK.test(o.stderr)) expect(o.stderr, what).toMatch(POSITIONED);
}

const UNPOSITIONED_OK = /^error: component [^:]+: local source .* does not exist/m;

/** Whether the lock is not even JSON: then exit 2 with a position is the only answer. */
function lockUnparsable(c: Case): boolean {
  try {
    JSON.parse(c.lock);
    return false;
  } catch {
    return true;
  }
}

beforeAll(async () => {
  fx = await GitFixtures.create();
  seabios = await fx.repo('seabios', { files: { Makefile: 'all:\n', 'src/bios.c': 'int bios;\n', COPYING: 'LGPL\n' } });
  await seabios.commit('first');
  await seabios.tag('rel-1.16.0', { annotated: true });
  server = await startHttpServer({
    files: { '/extfiles/zlib-1.2.3.tar.gz': await makeTarball('zlib-1.2.3', { 'zlib.h': '/* zlib */\n' }) },
  });
  dir = await tmp.make('xenrel-cmdfuzz-');
  cache = join(dir, '.cache');
  await mkdir(join(dir, 'tree'), { recursive: true });
  await mkdir(join(dir, 'prebuilt'), { recursive: true });
  await writeFile(join(dir, 'prebuilt', 'ipxe.bin'), 'ipxe\n');
  configText = `version: 1
name: xen
release:
  version: 4.22.0
components:
  seabios:
    git: ${seabios.url}
    ref: rel-1.16.0
    path: tools/firmware/seabios-dir-remote
    license: LGPL-3.0-only
    groups: [firmware]
  zlib:
    url: ${server.url}/extfiles/zlib-1.2.3.tar.gz
    path: stubdom/zlib-1.2.3.tar.gz
    license: Zlib
  prebuilt:
    local: prebuilt/ipxe.bin
    path: tools/firmware/etherboot/ipxe.bin
`;
  await writeFile(join(dir, 'xenrel.config.yaml'), configText);
  const locked = await inProcess(['lock', '--config', join(dir, 'xenrel.config.yaml'), '--cache', cache]);
  expect(locked.stderr).toBe('');
  expect(locked.code).toBe(0);
  lockText = await readFile(join(dir, 'xenrel.lock'), 'utf8');
  const fetched = await inProcess(['fetch', '--config', join(dir, 'xenrel.config.yaml'), '--cache', cache]);
  expect(fetched.code).toBe(0);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

describe('mutated configs and lockfiles through lock --check, status, sbom and verify', () => {
  it('the unmutated project passes every command', async () => {
    for (const args of COMMANDS(dir)) {
      const o = await inProcess([...args, '--config', join(dir, 'xenrel.config.yaml'), '--cache', cache]);
      // verify of an empty tree against the lock names the missing components: exit 1.
      expect(o.code, `${args.join(' ')}\n${o.stderr}`).toBe(args[0] === 'verify' ? 1 : 0);
    }
  });

  it(`${CASES} seeded cases in-process: only exit 0-3, never an unexpected error`, async () => {
    const t0 = Date.now();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const counts = new Map<number, number>();
    let n = 0;
    for (const c of cases(CASES, 1414)) {
      await writeFile(join(dir, 'xenrel.config.yaml'), c.config);
      await writeFile(join(dir, 'xenrel.lock'), c.lock);
      for (const args of COMMANDS(dir)) {
        const o = await inProcess([...args, '--config', join(dir, 'xenrel.config.yaml'), '--cache', cache]);
        check(o, c, args);
        // A lock that is not JSON: every command but `lock --check` (which re-resolves) stops on it.
        if (lockUnparsable(c) && args[0] !== 'lock') {
          expect(o.code, o.stderr).toBe(2);
          expect(o.stderr).toMatch(POSITIONED);
        }
        counts.set(o.code, (counts.get(o.code) ?? 0) + 1);
        n++;
      }
    }
    // The mutations reach past the parsers: every outcome class occurs.
    for (const code of [0, 1, 2])
      expect(counts.get(code) ?? 0, `exit ${code} never seen: ${JSON.stringify([...counts])}`).toBeGreaterThan(0);
    expect(n).toBe(CASES * 4);
    await new Promise((r) => setTimeout(r, 50));
    process.off('warning', onWarning);
    expect(warnings, 'process warnings (printed to users as noise)').toEqual([]);
    console.log(
      `commands-fuzz: ${CASES} cases × 4 commands in ${Date.now() - t0} ms; exit codes ${JSON.stringify(Object.fromEntries(counts))}`,
    );
  }, 600_000);

  it(`a sample of ${CLI_SAMPLE} cases through the built CLI`, async () => {
    for (const c of cases(CLI_SAMPLE, 2024)) {
      await writeFile(join(dir, 'xenrel.config.yaml'), c.config);
      await writeFile(join(dir, 'xenrel.lock'), c.lock);
      for (const args of COMMANDS(dir)) {
        const o = await runCli([...args, '--cache', cache], { cwd: dir, env: fx.env, timeoutMs: 60_000 });
        check({ code: o.code ?? -1, stdout: o.stdout, stderr: o.stderr }, c, args);
        expect(o.stderr).not.toMatch(/\(node:\d+\) \w*Warning/);
      }
    }
  }, 600_000);
});
