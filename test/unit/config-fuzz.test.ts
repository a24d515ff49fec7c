/**
 * Bad configuration and lockfiles (issue 7): random and mutated YAML configs and JSON
 * lockfiles go into the parsers; each either parses or throws a ConfigError whose every
 * issue has file:line:col — never another exception, never a hang. A few dozen of the
 * same mutations go through the built CLI (`xenrel status`): exit 0 or 2, a
 * `file:line:col` message on error, no stack trace, bounded time.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseManifestText } from '../../src/manifest/load.js';
import { parseLockText, serializeLock } from '../../src/lock/lockfile.js';
import type { Lockfile } from '../../src/types.js';
import { runXenrel } from '../helpers/hardening.js';

const VALID_CONFIG = `version: 1
name: xen
release:
  version: 4.22.0
mirrors:
  - https://mirror.example/xen-extfiles
components:
  seabios:
    git: https://xenbits.xen.org/git-http/seabios.git
    ref: rel-1.16.3
    path: tools/firmware/seabios-dir-remote
    license: LGPL-3.0-only
    groups: [firmware]
  newlib:
    url: https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
    integrity: sha512-${'A'.repeat(86)}==
    limits:
      maxBytes: 1000000
  prebuilt:
    local: prebuilt/ipxe.bin
    path: tools/firmware/etherboot/ipxe.bin
`;

/** A "billion laughs" document: yaml refuses to expand it (it once escaped as an internal error). */
const ALIAS_BOMB = `a: &a [x]\n${Array.from({ length: 12 }, (_, i) => `b${i}: &b${i} [*${i ? `b${i - 1}` : 'a'}, *${i ? `b${i - 1}` : 'a'}]`).join('\n')}\n`;

const VALID_LOCK: Lockfile = {
  lockfileVersion: 1,
  name: 'xen',
  components: {
    seabios: {
      git: 'https://xenbits.xen.org/git-http/seabios.git',
      ref: 'rel-1.16.3',
      commit: 'a'.repeat(40),
      tree: `sha256-${'B'.repeat(43)}=`,
      path: 'tools/firmware/seabios-dir-remote',
    },
    newlib: {
      url: 'https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz',
      integrity: `sha512-${'A'.repeat(86)}==`,
      size: 123,
      path: 'stubdom/newlib-1.16.0.tar.gz',
    },
  },
};
const VALID_LOCK_TEXT = serializeLock(VALID_LOCK);

/** Characters that matter to YAML and JSON. */
const SPECIAL = [':', '-', ' ', '\n', '\t', '"', "'", '{', '}', '[', ']', ',', '#', '&', '*', '!', '|', '>', '%', '@', '`', '\\', '\0', '\u00e9', '\ufeff', '0', '1', 'null', 'true', '~', '<<', '---', '...'];

/** One text edit: insert, delete, replace a span, duplicate a line, or swap two lines. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ maxLength: 8 })) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 6 }), text: fc.constantFrom(...SPECIAL) }),
  fc.record({ op: fc.constant('dupline' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swaplines' as const), a: fc.nat(), b: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(text: string, muts: Mutation[]): string {
  let s = text;
  for (const m of muts) {
    const at = s.length ? ('at' in m ? m.at % (s.length + 1) : 0) : 0;
    if (m.op === 'insert') s = s.slice(0, at) + m.text + s.slice(at);
    else if (m.op === 'delete') s = s.slice(0, at) + s.slice(at + m.len);
    else if (m.op === 'replace') s = s.slice(0, at) + m.text + s.slice(at + m.len);
    else {
      const lines = s.split('\n');
      if (m.op === 'dupline') {
        const i = m.at % lines.length;
        lines.splice(i, 0, lines[i]!);
      } else {
        const i = m.a % lines.length;
        const j = m.b % lines.length;
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      }
      s = lines.join('\n');
    }
  }
  return s;
}

const mutatedConfig = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((m) => apply(VALID_CONFIG, m));
const mutatedLock = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((m) => apply(VALID_LOCK_TEXT, m));

/** Random JSON values placed at random spots of a valid lock. */
const structuralLock = fc
  .tuple(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('lockfileVersion', 'name', 'components', 'seabios', 'newlib', 'path', 'commit', 'size', 'integrity', 'extra'))
  .map(([v, key]) => {
    const l = JSON.parse(VALID_LOCK_TEXT) as Record<string, any>;
    if (key in l) l[key] = v;
    else if (key === 'seabios' || key === 'newlib') l.components[key] = v;
    else if (key === 'extra') l.components.seabios.extra = v;
    else l.components.seabios[key] = v;
    return JSON.stringify(l, null, 2);
  });

/** Either it parses, or every issue carries file:line:col. Anything else fails the property. */
function expectCleanOutcome(parse: () => unknown, file: string) {
  try {
    parse();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${(err as Error)?.stack ?? String(err)}`);
    expect(err.issues.length).toBeGreaterThan(0);
    for (const i of err.issues) {
      expect(i.file).toBe(file);
      expect(Number.isInteger(i.line) && i.line >= 1, `line in ${JSON.stringify(i)}`).toBe(true);
      expect(Number.isInteger(i.col) && i.col >= 1, `col in ${JSON.stringify(i)}`).toBe(true);
    }
    expect(err.message).toMatch(new RegExp(`^${file.replace('.', '\\.')}:\\d+:\\d+: `));
    expect(err.exitCode).toBe(2);
  }
}

describe('fuzzing the config and lockfile parsers', () => {
  it('the valid samples parse', () => {
    expect(parseManifestText(VALID_CONFIG, 'xenrel.config.yaml').components.seabios!.ref).toBe('rel-1.16.3');
    expect(parseLockText(VALID_LOCK_TEXT, 'xenrel.lock')).toEqual(VALID_LOCK);
  });

  it('mutated YAML configs: parsed or a ConfigError with file:line:col', () => {
    fc.assert(fc.property(mutatedConfig, (text) => expectCleanOutcome(() => parseManifestText(text, 'xenrel.config.yaml'), 'xenrel.config.yaml')), { numRuns: 1500 });
  });

  it('random text and random YAML documents as configs', () => {
    const yamlish = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v));
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), yamlish), (text) =>
      expectCleanOutcome(() => parseManifestText(text, 'xenrel.config.yaml'), 'xenrel.config.yaml'),
    ), { numRuns: 1000 });
  });

  it('mutated and restructured JSON lockfiles: parsed or a ConfigError with file:line:col', () => {
    fc.assert(fc.property(fc.oneof(mutatedLock, structuralLock, fc.string({ maxLength: 100 })), (text) =>
      expectCleanOutcome(() => parseLockText(text, 'xenrel.lock'), 'xenrel.lock'),
    ), { numRuns: 1500 });
  });

  it('pathological inputs stay fast: deep nesting, many aliases, huge keys', () => {
    const cases = [
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      ALIAS_BOMB,
      `${'k'.repeat(200_000)}: 1\n`,
      `${'- '.repeat(3000)}x\n`,
    ];
    for (const text of cases) {
      const t0 = Date.now();
      expectCleanOutcome(() => parseManifestText(text, 'xenrel.config.yaml'), 'xenrel.config.yaml');
      expectCleanOutcome(() => parseLockText(text, 'xenrel.lock'), 'xenrel.lock');
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
  });
});

describe('fuzzing through the CLI', () => {
  it('xenrel status on mutated configs and lockfiles: exit 0 or 2, file:line:col, no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenrel-fuzz-'));
    try {
      const configs = fc.sample(mutatedConfig, { numRuns: 24, seed: 7 });
      const locks = fc.sample(fc.oneof(mutatedLock, structuralLock), { numRuns: 12, seed: 11 });
      const runs: { config: string; lock?: string }[] = [{ config: ALIAS_BOMB }, ...configs.map((config) => ({ config })), ...locks.map((lock) => ({ config: VALID_CONFIG, lock }))];
      for (const r of runs) {
        await writeFile(join(dir, 'xenrel.config.yaml'), r.config);
        await writeFile(join(dir, 'xenrel.lock'), r.lock ?? VALID_LOCK_TEXT);
        const out = await runXenrel(['status', '--cache', join(dir, '.cache')], { cwd: dir, timeoutMs: 30_000 });
        const what = `${out.stderr}\n--- config ---\n${r.config}\n--- lock ---\n${r.lock ?? '(valid)'}`;
        expect([0, 2], what).toContain(out.code);
        expect(out.stderr, what).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
        expect(out.stderr, what).not.toContain('unexpected error');
        if (out.code === 2) expect(out.stderr, what).toMatch(/^error: xenrel\.(config\.yaml|lock):\d+:\d+: /m);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('keys that are not plain names', () => {
  it('a list, mapping or alias as a key is a positioned ConfigError, not a yaml warning', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      for (const [text, line] of [
        ['version: 1\nname: xen\n? [a, b]\n: 1\ncomponents: {}\n', 3],
        ['version: 1\nname: xen\ncomponents:\n  {pre: 1}: x\n', 4],
        ['version: 1\nx: &k [1]\nname: xen\n*k : 2\ncomponents: {}\n', 4],
      ] as const) {
        let err: unknown;
        try {
          parseManifestText(text, 'xenrel.config.yaml');
        } catch (e) {
          err = e;
        }
        expect(err, text).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).message).toMatch(new RegExp(`^xenrel\\.config\\.yaml:${line}:\\d+: a key must be a plain name`));
      }
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('keys named like Object.prototype plumbing', () => {
  const cfg = (name: string) => `version: 1\nname: xen\ncomponents:\n  prebuilt:\n    local: a.bin\n    path: tools/a.bin\n  ${name}:\n    local: b.bin\n    path: tools/b.bin\n`;
  it('a component named __proto__ or constructor is refused at its line, not dropped or mistaken for a locked one', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      expect(() => parseManifestText(cfg(name), 'xenrel.config.yaml'), name).toThrow(
        new RegExp(`^xenrel\\.config\\.yaml:7:3: components\\.${name}: "${name}" is a reserved name`),
      );
    }
  });
  it('in a lockfile too, at any depth', () => {
    const text = VALID_LOCK_TEXT.replace('"seabios": {', '"__proto__": {"x": 1},\n    "seabios": {');
    expect(() => parseLockText(text, 'xenrel.lock')).toThrow(/^xenrel\.lock:\d+:\d+: components\.__proto__: "__proto__" is a reserved name/);
    const deep = VALID_LOCK_TEXT.replace('"path": "tools/firmware/seabios-dir-remote"', '"path": "tools/firmware/seabios-dir-remote", "constructor": 1');
    expect(() => parseLockText(deep, 'xenrel.lock')).toThrow(/components\.seabios\.constructor: "constructor" is a reserved name/);
  });
});

describe('integrity strings at their exact length', () => {
  it('a sha512 digest one character too long or short is refused at its line, in the lock and the config', () => {
    for (const bad of [`sha512-${'A'.repeat(87)}==`, `sha512-${'A'.repeat(85)}==`, `sha512-${'A'.repeat(86)}`, `sha256-${'A'.repeat(44)}`]) {
      const text = VALID_LOCK_TEXT.replace((VALID_LOCK.components.newlib as { integrity: string }).integrity, bad);
      expect(() => parseLockText(text, 'xenrel.lock'), bad).toThrow(/^xenrel\.lock:\d+:\d+: components\.newlib\.integrity: /);
      const cfg = VALID_CONFIG.replace(/integrity: .*/, `integrity: ${bad}`);
      expect(() => parseManifestText(cfg, 'xenrel.config.yaml'), bad).toThrow(/^xenrel\.config\.yaml:17:\d+: /);
    }
    for (const good of [`sha256-${'A'.repeat(43)}=`, `sha384-${'A'.repeat(64)}`, `sha512-${'A'.repeat(86)}==`]) {
      expect(() => parseManifestText(VALID_CONFIG.replace(/integrity: .*/, `integrity: ${good}`), 'xenrel.config.yaml'), good).not.toThrow();
    }
  });
});
