import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { diffEntries, treeHash, type TreeEntry } from '../../src/tree/hash.js';
import { hashDir } from '../../src/tree/walk.js';
import { parseLsTree } from '../../src/sources/git/run.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('tree hash', () => {
  it('is the sha256 of the documented lines, in bytewise order', () => {
    const entries: TreeEntry[] = [
      { path: 'b', mode: '100644', sha256: sha('b') },
      { path: 'a/z', mode: '100755', sha256: sha('z') },
      { path: 'B', mode: '120000', sha256: sha('target') },
      { path: 'a-', mode: '100644', sha256: sha('x') },
    ];
    const lines = [
      `120000 ${sha('target')} B\n`,
      `100644 ${sha('x')} a-\n`,
      `100755 ${sha('z')} a/z\n`,
      `100644 ${sha('b')} b\n`,
    ].join('');
    expect(treeHash(entries)).toBe(`sha256-${createHash('sha256').update(lines).digest('base64')}`);
    // Order of input does not matter; content, mode and path do.
    expect(treeHash([...entries].reverse())).toBe(treeHash(entries));
    expect(treeHash([{ ...entries[0]!, mode: '100755' }, ...entries.slice(1)])).not.toBe(treeHash(entries));
    expect(treeHash([{ ...entries[0]!, path: 'c' }, ...entries.slice(1)])).not.toBe(treeHash(entries));
  });

  it('of a directory matches the shell recipe in the README', async () => {
    const d = await tmp.make();
    await mkdir(join(d, 'sub', 'deep'), { recursive: true });
    await mkdir(join(d, 'empty'));
    await writeFile(join(d, 'README'), 'hello\n');
    await writeFile(join(d, 'sub', 'deep', 'x.c'), 'int x;\n');
    await writeFile(join(d, 'run.sh'), '#!/bin/sh\n');
    await chmod(join(d, 'run.sh'), 0o755);
    await writeFile(join(d, 'sub', 'ünïcode name'), 'u\n');
    // Starts with the bytes of a UTF-8 byte-order mark: they are part of the name.
    await writeFile(join(d, 'sub', '\uFEFFbom.txt'), 'b\n');
    await symlink('sub/deep/x.c', join(d, 'link'));
    await mkdir(join(d, '.git'));
    await writeFile(join(d, '.git', 'HEAD'), 'ignored\n');
    const { hash, entries } = await hashDir(d);
    expect(entries.map((e) => e.path)).toEqual([
      'README',
      'link',
      'run.sh',
      'sub/deep/x.c',
      'sub/ünïcode name',
      'sub/\uFEFFbom.txt',
    ]);
    expect(entries.find((e) => e.path === 'link')!.mode).toBe('120000');
    expect(entries.find((e) => e.path === 'run.sh')!.mode).toBe('100755');

    const recipe = `cd "$1" && find . -path ./.git -prune -o \\( -type f -o -type l \\) -print | sed 's|^\\./||' | LC_ALL=C sort |
      while IFS= read -r p; do
        if [ -L "$p" ]; then printf '120000 %s %s\\n' "$(printf %s "$(readlink "$p")" | sha256sum | cut -d' ' -f1)" "$p"
        elif [ -x "$p" ]; then printf '100755 %s %s\\n' "$(sha256sum < "$p" | cut -d' ' -f1)" "$p"
        else printf '100644 %s %s\\n' "$(sha256sum < "$p" | cut -d' ' -f1)" "$p"; fi
      done | sha256sum | cut -d' ' -f1 | xxd -r -p | base64`;
    const shell = execFileSync('bash', ['-c', recipe, 'recipe', d], { encoding: 'utf8' }).trim();
    expect(hash).toBe(`sha256-${shell}`);
  });

  it('hashes files around the streaming size and names that are not ASCII', async () => {
    const d = await tmp.make();
    const sizes = { empty: 0, one: 1, under: (1 << 20) - 1, at: 1 << 20, over: (1 << 20) + 1 };
    for (const [name, size] of Object.entries(sizes))
      await writeFile(join(d, name), Buffer.alloc(size, name.charCodeAt(0)));
    await mkdir(join(d, 'names'));
    await writeFile(join(d, 'names', 'plain'), 'p');
    await writeFile(join(d, 'names', 'ünï'), 'u');
    await writeFile(Buffer.from(`${join(d, 'names')}/raw\xff`, 'latin1'), 'r');
    const { entries } = await hashDir(d);
    const byPath = new Map(entries.map((e) => [e.path, e.sha256]));
    for (const [name, size] of Object.entries(sizes))
      expect(byPath.get(name), name).toBe(
        createHash('sha256')
          .update(Buffer.alloc(size, name.charCodeAt(0)))
          .digest('hex'),
      );
    expect(entries.filter((e) => e.path.startsWith('names/')).map((e) => [e.path, e.sha256])).toEqual([
      ['names/plain', sha('p')],
      ['names/raw\udcff', sha('r')],
      ['names/ünï', sha('u')],
    ]);
  });

  it("keeps a leading byte-order mark in a name git lists, as in the folder's own name", async () => {
    const d = await tmp.make();
    await writeFile(join(d, '\uFEFFbom.txt'), 'b\n');
    const git = (...a: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...a], { cwd: d });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'bom');
    const listed = parseLsTree(git('ls-tree', '-r', '-z', 'HEAD'), (shown) => new Error(shown));
    expect(listed.map((r) => r.path)).toEqual(['\uFEFFbom.txt']);
    expect((await hashDir(d)).entries.map((e) => e.path)).toEqual(['\uFEFFbom.txt']);
  });

  it('diffs entries into missing, extra and modified', () => {
    const a: TreeEntry[] = [
      { path: 'keep', mode: '100644', sha256: sha('1') },
      { path: 'gone', mode: '100644', sha256: sha('2') },
      { path: 'edit', mode: '100644', sha256: sha('3') },
      { path: 'chmod', mode: '100644', sha256: sha('4') },
    ];
    const b: TreeEntry[] = [
      { path: 'keep', mode: '100644', sha256: sha('1') },
      { path: 'edit', mode: '100644', sha256: sha('changed') },
      { path: 'chmod', mode: '100755', sha256: sha('4') },
      { path: 'new', mode: '100644', sha256: sha('5') },
    ];
    expect(diffEntries(a, b)).toEqual({ missing: ['gone'], extra: ['new'], modified: ['chmod', 'edit'] });
  });
});
