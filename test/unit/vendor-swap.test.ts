import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { recoverSiblings, stagingPath, swapInto } from '../../src/vendoring/swap.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

test('swapInto replaces a folder; nothing is left beside it', async () => {
  const dir = await tmp.make();
  const target = join(dir, 'seabios');
  await mkdir(target);
  await writeFile(join(target, 'old'), 'old\n');
  const staged = stagingPath(target);
  await mkdir(staged);
  await writeFile(join(staged, 'new'), 'new\n');
  await swapInto(staged, target);
  expect(await readdir(dir)).toEqual(['seabios']);
  expect(await readdir(target)).toEqual(['new']);
});

test('recoverSiblings after a crash between the two renames puts the old copy back and drops staging', async () => {
  const dir = await tmp.make();
  await mkdir(join(dir, '.seabios.xenrel-old-1-aa'));
  await writeFile(join(dir, '.seabios.xenrel-old-1-aa/file'), 'old\n');
  await mkdir(join(dir, '.seabios.xenrel-tmp-1-bb'));
  await writeFile(join(dir, '.seabios.xenrel-tmp-1-bb/half'), 'half\n');
  await mkdir(join(dir, '.other.xenrel-tmp-2-cc'));
  await recoverSiblings(dir, new Set(['seabios']));
  expect((await readdir(dir)).sort()).toEqual(['.other.xenrel-tmp-2-cc', 'seabios']);
  expect(await readFile(join(dir, 'seabios/file'), 'utf8')).toBe('old\n');
  // Once the new copy is in place, a leftover old copy is just deleted.
  await mkdir(join(dir, '.seabios.xenrel-old-3-dd'));
  await recoverSiblings(dir);
  expect((await readdir(dir)).sort()).toEqual(['seabios']);
  await rename(join(dir, 'seabios'), join(dir, 'x'));
});
