import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { hashFromWorkTree } from '../../src/release/worktree-hashes.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

describe('blob hashes from the work tree', () => {
  for (const format of ['sha1', 'sha256'])
    it(`counts a file or symlink only when git's ${format} object id of its bytes is the blob's`, async () => {
      const dir = await tmp.make();
      execFileSync('git', ['init', '-q', `--object-format=${format}`, dir]);
      await mkdir(join(dir, 'd'));
      const big = Buffer.alloc((1 << 20) * 3 + 17, 'x'); // several read chunks
      await writeFile(join(dir, 'd', 'big'), big);
      await writeFile(join(dir, 'small'), 'small\n');
      await writeFile(join(dir, 'empty'), '');
      await symlink('d/big', join(dir, 'ln'));
      const oid = (args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
      const blob = (p: string) => oid(['hash-object', '--no-filters', p]);
      const linkOid = execFileSync('git', ['hash-object', '--stdin'], { cwd: dir, input: 'd/big' }).toString().trim();
      const sha256sum = (p: string) => execFileSync('sha256sum', [p], { cwd: dir, encoding: 'utf8' }).slice(0, 64);
      const wanted = [
        { oid: blob('d/big'), path: 'd/big', symlink: false },
        { oid: blob('small'), path: 'small', symlink: false },
        { oid: blob('empty'), path: 'empty', symlink: false },
        { oid: linkOid, path: 'ln', symlink: true },
        { oid: blob('small'), path: 'empty', symlink: false }, // another file's id: not this one
        { oid: blob('d/big'), path: 'ln', symlink: false }, // a symlink where a file is wanted
        { oid: blob('small'), path: 'missing', symlink: false },
      ];
      const got = await hashFromWorkTree(dir, wanted);
      expect(got.get(blob('d/big'))).toEqual({ size: big.length, sha256: sha256sum('d/big') });
      expect(got.get(blob('empty'))).toEqual({ size: 0, sha256: sha256sum('empty') });
      const ln = got.get(linkOid)!;
      expect(ln.target?.toString()).toBe('d/big');
      expect(ln.sha256).toBe(execFileSync('sha256sum', { input: 'd/big', encoding: 'utf8' }).slice(0, 64));
      // `small` counts from its own path only; the wrong paths add nothing.
      expect(got.get(blob('small'))).toEqual({ size: 6, sha256: sha256sum('small') });
      expect(got.size).toBe(4);
    });
});
