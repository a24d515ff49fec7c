import { readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { BLOCK_BEGIN, BLOCK_END, removeConfigBlock, renderBlockBody, splitConfig, writeConfigBlock } from '../../src/vendor/config-block.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const block = `${BLOCK_BEGIN}\n${renderBlockBody()}${BLOCK_END}\n`;

describe('.config block', () => {
  test.each([
    ['no file', undefined],
    ['empty file', ''],
    ['lines with a final newline', 'debug := y\nGIT = /usr/local/bin/git\n'],
    ['no final newline', 'debug := y\n# end'],
    ['CRLF and tabs', 'a\t:= 1\r\nb = 2\r\n'],
  ])('%s: written once, removed byte for byte', async (_label, user) => {
    const dir = await tmp.make();
    const file = join(dir, '.config');
    if (user !== undefined) await writeFile(file, user);
    expect(await writeConfigBlock(dir)).toBe(true);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith(user ?? '')).toBe(true);
    expect(text.endsWith(`${renderBlockBody()}${BLOCK_END}\n`)).toBe(true);
    expect(text.match(/^# BEGIN xenrel/gm)).toHaveLength(1);
    expect(await writeConfigBlock(dir)).toBe(false);
    expect(await readFile(file, 'utf8')).toBe(text);
    expect(await removeConfigBlock(dir)).toBe(true);
    if (user === undefined || user === '') expect(await stat(file).catch(() => undefined)).toBeUndefined();
    else expect(await readFile(file, 'utf8')).toBe(user);
  });

  test('an outdated block is replaced; user lines after it are kept', async () => {
    const dir = await tmp.make();
    const file = join(dir, '.config');
    await writeFile(file, `x = 1\n${BLOCK_BEGIN}\noverride GIT := /old/shim\n${BLOCK_END}\ny = 2\n`);
    await chmod(file, 0o600);
    expect(await writeConfigBlock(dir, { qemuDisableDownload: true })).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(`x = 1\ny = 2\n${BLOCK_BEGIN}\n${renderBlockBody({ qemuDisableDownload: true })}${BLOCK_END}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  test('a current block in the middle stays where it is', async () => {
    const dir = await tmp.make();
    const text = `x = 1\n${block}y = 2\n`;
    await writeFile(join(dir, '.config'), text);
    expect(await writeConfigBlock(dir)).toBe(false);
    expect(splitConfig(text)).toEqual({ user: 'x = 1\ny = 2\n', block });
  });

  test('the override lines win over a later FETCHER := and the command line (GNU make)', async () => {
    const dir = await tmp.make();
    await writeConfigBlock(dir);
    await writeFile(
      join(dir, 'Makefile'),
      'XEN_ROOT := $(CURDIR)\n-include $(XEN_ROOT)/.config\nFETCHER := wget -c -O\nGIT ?= git\nall:\n\t@echo "$(GIT)|$(FETCHER)"\n',
    );
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('make', ['-s', 'FETCHER=curl -o', 'GIT=/usr/bin/git'], { cwd: dir, encoding: 'utf8', env: { ...process.env, MAKEFLAGS: '' } });
    expect(r.stdout.trim()).toBe(`${dir}/.xenrel/bin/git|${dir}/.xenrel/bin/fetch`);
  });
});
