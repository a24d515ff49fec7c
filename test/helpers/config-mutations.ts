/**
 * Valid config and lock texts for xenrel, and fast-check arbitraries that mutate them: the
 * parser fuzz (test/unit/config-fuzz.test.ts) and the CLI fuzz
 * (test/integration/config-fuzz-cli.test.ts) draw from the same inputs.
 */
import fc from 'fast-check';
import { serializeLock } from '../../src/lock/lockfile.js';
import type { Lockfile } from '../../src/model/lock.js';

export const VALID_CONFIG = `version: 1
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
export const ALIAS_BOMB = `a: &a [x]\n${Array.from({ length: 12 }, (_, i) => `b${i}: &b${i} [*${i ? `b${i - 1}` : 'a'}, *${i ? `b${i - 1}` : 'a'}]`).join('\n')}\n`;

export const VALID_LOCK: Lockfile = {
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
export const VALID_LOCK_TEXT = serializeLock(VALID_LOCK);

/** Characters that matter to YAML and JSON. */
const SPECIAL = [
  ':',
  '-',
  ' ',
  '\n',
  '\t',
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
  '>',
  '%',
  '@',
  '`',
  '\\',
  '\0',
  '\u00e9',
  '\ufeff',
  '0',
  '1',
  'null',
  'true',
  '~',
  '<<',
  '---',
  '...',
];

/** One text edit: insert, delete, replace a span, duplicate a line, or swap two lines. */
const mutation = fc.oneof(
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ maxLength: 8 })),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({
    op: fc.constant('replace' as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 6 }),
    text: fc.constantFrom(...SPECIAL),
  }),
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

export const mutatedConfig = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((m) => apply(VALID_CONFIG, m));
export const mutatedLock = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((m) => apply(VALID_LOCK_TEXT, m));

/** Random JSON values placed at random spots of a valid lock. */
export const structuralLock = fc
  .tuple(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(
      'lockfileVersion',
      'name',
      'components',
      'seabios',
      'newlib',
      'path',
      'commit',
      'size',
      'integrity',
      'extra',
    ),
  )
  .map(([v, key]) => {
    const l = JSON.parse(VALID_LOCK_TEXT) as Record<string, any>;
    if (key in l) l[key] = v;
    else if (key === 'seabios' || key === 'newlib') l.components[key] = v;
    else if (key === 'extra') l.components.seabios.extra = v;
    else l.components.seabios[key] = v;
    return JSON.stringify(l, null, 2);
  });
