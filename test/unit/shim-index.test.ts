/**
 * `.xenrel/shim.tsv` from a tarball or tree goes through a schema (src/vendoring/shim-index.ts):
 * the index vendor writes parses; each malformed field is named with its line.
 */
import { describe, expect, it } from 'vitest';
import type { Lockfile } from '../../src/model/lock.js';
import { renderIndex } from '../../src/vendoring/shim.js';
import { parseShimIndex } from '../../src/vendoring/shim-index.js';

const LOCK: Lockfile = {
  lockfileVersion: 1,
  name: 'xen',
  components: {
    seabios: {
      git: 'https://example.invalid/seabios.git',
      ref: 'rel-1.17.0',
      commit: 'a'.repeat(40),
      tree: `sha256-${'B'.repeat(43)}=`,
      path: 'tools/firmware/seabios-dir-remote',
    },
    newlib: {
      url: 'https://example.invalid/newlib-1.16.0.tar.gz',
      integrity: `sha512-${'A'.repeat(86)}==`,
      size: 1,
      path: 'stubdom/newlib-1.16.0.tar.gz',
    },
  },
};

describe('the shim index schema', () => {
  it('the index vendor writes parses, with and without a component left out', async () => {
    for (const without of [[], ['newlib']]) {
      const r = parseShimIndex(await renderIndex('/nonexistent', LOCK, without));
      expect('entries' in r ? r.entries.map((e) => [e.name, e.kind, e.status]) : r.problem).toEqual([
        ['newlib', 'file', without.length ? 'without' : 'vendored'],
        ['seabios', 'tree', 'vendored'],
      ]);
    }
  });

  it('each malformed field is named with its line', async () => {
    const good = await renderIndex('/nonexistent', LOCK, []);
    const lines = good.split('\n');
    const sea = lines.findIndex((l) => l.startsWith('seabios\t'));
    const edit = (col: number, v: string | null) => {
      const copy = [...lines];
      const cols = copy[sea]!.split('\t');
      if (v === null) cols.splice(col, 1);
      else cols[col] = v;
      copy[sea] = cols.join('\t');
      return copy.join('\n');
    };
    const at = `line ${sea + 1} (seabios)`;
    const cases: [string, string][] = [
      [edit(7, 'sources/../../etc'), `${at}: store: must be relative, without . or .. segments`],
      [edit(7, 'sources/newlib'), `${at}: store: must be under sources/seabios`],
      [edit(6, '/etc'), `${at}: path: must be relative`],
      [edit(1, 'dir'), `${at}: kind: expected tree or file`],
      [edit(4, 'abc'), `${at}: commit: expected a 40-hex commit or -`],
      [edit(5, `tree:${'a'.repeat(63)}`), `${at}: digest: expected tree:<64 hex>`],
      [edit(5, '-'), `${at}: digest: a vendored component needs a digest`],
      [edit(8, 'trusted'), `${at}: status: expected vendored or without`],
      [edit(9, 'x'), `${at}: 10 fields, expected 9`],
      [edit(3, null), `${at}: 8 fields, expected 9`],
      [edit(0, 'Sea Bios'), `line ${sea + 1} (Sea Bios): name: expected a component name`],
      [`${good}${lines[sea]}\n`, `line ${lines.length} (seabios): component seabios is listed twice`],
    ];
    for (const [text, problem] of cases) {
      const r = parseShimIndex(text);
      expect('problem' in r ? r.problem : 'parsed', problem).toContain(problem);
    }
  });
});
