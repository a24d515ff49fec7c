/**
 * Bad configuration and lockfiles: random and mutated YAML configs and JSON
 * lockfiles go into the parsers; each either parses or throws a ConfigError whose every
 * issue has file:line:col — never another exception, never a hang. The same mutations
 * through the built CLI: test/integration/config-fuzz-cli.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { parseLockText } from '../../src/lock/lockfile.js';
import {
  ALIAS_BOMB,
  mutatedConfig,
  mutatedLock,
  structuralLock,
  VALID_CONFIG,
  VALID_LOCK,
  VALID_LOCK_TEXT,
} from '../helpers/config-mutations.js';

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
    expect(parseConfigText(VALID_CONFIG, 'xenrel.config.yaml').components.seabios!.ref).toBe('rel-1.16.3');
    expect(parseLockText(VALID_LOCK_TEXT, 'xenrel.lock')).toEqual(VALID_LOCK);
  });

  it('mutated YAML configs: parsed or a ConfigError with file:line:col', () => {
    fc.assert(
      fc.property(mutatedConfig, (text) =>
        expectCleanOutcome(() => parseConfigText(text, 'xenrel.config.yaml'), 'xenrel.config.yaml'),
      ),
      { numRuns: 1500 },
    );
  });

  it('random text and random YAML documents as configs', () => {
    const yamlish = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), yamlish),
        (text) => expectCleanOutcome(() => parseConfigText(text, 'xenrel.config.yaml'), 'xenrel.config.yaml'),
      ),
      { numRuns: 1000 },
    );
  });

  it('mutated and restructured JSON lockfiles: parsed or a ConfigError with file:line:col', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedLock, structuralLock, fc.string({ maxLength: 100 })), (text) =>
        expectCleanOutcome(() => parseLockText(text, 'xenrel.lock'), 'xenrel.lock'),
      ),
      { numRuns: 1500 },
    );
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
      expectCleanOutcome(() => parseConfigText(text, 'xenrel.config.yaml'), 'xenrel.config.yaml');
      expectCleanOutcome(() => parseLockText(text, 'xenrel.lock'), 'xenrel.lock');
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
  });
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
          parseConfigText(text, 'xenrel.config.yaml');
        } catch (e) {
          err = e;
        }
        expect(err, text).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).message).toMatch(
          new RegExp(`^xenrel\\.config\\.yaml:${line}:\\d+: a key must be a plain name`),
        );
      }
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('keys named like Object.prototype plumbing', () => {
  const cfg = (name: string) =>
    `version: 1\nname: xen\ncomponents:\n  prebuilt:\n    local: a.bin\n    path: tools/a.bin\n  ${name}:\n    local: b.bin\n    path: tools/b.bin\n`;
  it('a component named __proto__ or constructor is refused at its line, not dropped or mistaken for a locked one', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      expect(() => parseConfigText(cfg(name), 'xenrel.config.yaml'), name).toThrow(
        new RegExp(`^xenrel\\.config\\.yaml:7:3: components\\.${name}: "${name}" is a reserved name`),
      );
    }
  });
  it('in a lockfile too, at any depth', () => {
    const text = VALID_LOCK_TEXT.replace('"seabios": {', '"__proto__": {"x": 1},\n    "seabios": {');
    expect(() => parseLockText(text, 'xenrel.lock')).toThrow(
      /^xenrel\.lock:\d+:\d+: components\.__proto__: "__proto__" is a reserved name/,
    );
    const deep = VALID_LOCK_TEXT.replace(
      '"path": "tools/firmware/seabios-dir-remote"',
      '"path": "tools/firmware/seabios-dir-remote", "constructor": 1',
    );
    expect(() => parseLockText(deep, 'xenrel.lock')).toThrow(
      /components\.seabios\.constructor: "constructor" is a reserved name/,
    );
  });
});

describe('integrity strings at their exact length', () => {
  it('a sha512 digest one character too long or short is refused at its line, in the lock and the config', () => {
    for (const bad of [
      `sha512-${'A'.repeat(87)}==`,
      `sha512-${'A'.repeat(85)}==`,
      `sha512-${'A'.repeat(86)}`,
      `sha256-${'A'.repeat(44)}`,
    ]) {
      const text = VALID_LOCK_TEXT.replace((VALID_LOCK.components.newlib as { integrity: string }).integrity, bad);
      expect(() => parseLockText(text, 'xenrel.lock'), bad).toThrow(
        /^xenrel\.lock:\d+:\d+: components\.newlib\.integrity: /,
      );
      const cfg = VALID_CONFIG.replace(/integrity: .*/, `integrity: ${bad}`);
      expect(() => parseConfigText(cfg, 'xenrel.config.yaml'), bad).toThrow(/^xenrel\.config\.yaml:17:\d+: /);
    }
    for (const good of [`sha256-${'A'.repeat(43)}=`, `sha384-${'A'.repeat(64)}`, `sha512-${'A'.repeat(86)}==`]) {
      expect(
        () => parseConfigText(VALID_CONFIG.replace(/integrity: .*/, `integrity: ${good}`), 'xenrel.config.yaml'),
        good,
      ).not.toThrow();
    }
  });
});
