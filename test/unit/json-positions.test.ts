/**
 * Lock errors are positioned by a scan of the JSON text; the YAML parser (JSON is YAML)
 * is the oracle it must agree with, on generated documents and every path in them.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonPositionOf } from '../../src/util/json-positions.js';
import { parseWithPositions, positionOf } from '../../src/util/yaml-positions.js';

type Path = (string | number)[];

function pathsOf(v: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(v)) for (const [i, x] of v.entries()) out.push(...pathsOf(x, [...prefix, i]));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...prefix, k]));
  return out;
}

const key = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('a', 'b', 'x"y', 'back\\slash', 'é', 'line\nbreak', '{', ']'),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4 }).filter((o) => !Object.keys(o).includes('__proto__')),
})).object;

describe('JSON positions', () => {
  it('agree with the YAML parser for every value and key of generated documents', () => {
    fc.assert(
      fc.property(json, fc.constantFrom(0, 2, 4), (doc, indent) => {
        const text = JSON.stringify(doc, null, indent);
        const pd = parseWithPositions(text);
        for (const path of pathsOf(doc)) {
          expect(jsonPositionOf(text, path), JSON.stringify(path)).toEqual(positionOf(pd, path));
          if (path.length && typeof path[path.length - 1] === 'string')
            expect(jsonPositionOf(text, path, { key: true }), `key ${JSON.stringify(path)}`).toEqual(
              positionOf(pd, path, { key: true }),
            );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('points a missing path at its closest existing ancestor', () => {
    const text = '{\n  "components": {\n    "seabios": { "ref": "rel-1" }\n  }\n}\n';
    expect(jsonPositionOf(text, ['components', 'seabios', 'commit'])).toEqual({ line: 3, col: 16 });
    expect(jsonPositionOf(text, ['components', 'qemu', 'ref'])).toEqual({ line: 2, col: 17 });
    expect(jsonPositionOf(text, ['nothing'])).toEqual({ line: 1, col: 1 });
  });

  it('resolves a repeated key to the occurrence JSON.parse keeps', () => {
    const text = '{"a": 1,\n "a": 2}';
    expect(JSON.parse(text).a).toBe(2);
    expect(jsonPositionOf(text, ['a'])).toEqual({ line: 2, col: 7 });
    expect(jsonPositionOf(text, ['a'], { key: true })).toEqual({ line: 2, col: 2 });
  });
});
