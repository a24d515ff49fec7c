import { readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Lockfile } from '../../src/model/lock.js';
import {
  BLOCK_BEGIN,
  BLOCK_END,
  removeConfigBlock,
  renderBlockBody,
  splitConfig,
  withBlock,
  writeConfigBlock,
} from '../../src/vendoring/config-block.js';
import { lockedPins } from '../../src/xen/locked-pins.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const scratch: string[] = [];
afterAll(async () => {
  const { rm } = await import('node:fs/promises');
  for (const d of scratch) await rm(d, { recursive: true, force: true });
});
function tmpSync(): string {
  const d = mkdtempSync(join(tmpdir(), 'xenrel-block-'));
  scratch.push(d);
  return d;
}

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
    expect(await readFile(file, 'utf8')).toBe(
      `x = 1\ny = 2\n${BLOCK_BEGIN}\n${renderBlockBody({ qemuDisableDownload: true })}${BLOCK_END}\n`,
    );
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
    const r = spawnSync('make', ['-s', 'FETCHER=curl -o', 'GIT=/usr/bin/git'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, MAKEFLAGS: '' },
    });
    expect(r.stdout.trim()).toBe(`${dir}/.xenrel/bin/git|${dir}/.xenrel/bin/fetch`);
  });
});

describe('.config block: the locked pins', () => {
  const lock: Lockfile = {
    lockfileVersion: 1,
    name: 'xen',
    components: {
      seabios: {
        git: 'https://mirror.example/seabios.git',
        ref: 'rel-1.17.0',
        commit: 'a'.repeat(40),
        tree: 'sha256-x',
        path: 'tools/firmware/seabios-dir-remote',
      },
      newlib: {
        url: 'https://mirror.example/files/newlib-1.16.0.tar.gz',
        integrity: 'sha512-x',
        size: 1,
        path: 'stubdom/newlib-1.16.0.tar.gz',
      },
      // Named differently from xenrel's grub-legacy: found by the path make fetches into.
      grub: {
        url: 'https://mirror.example/files/grub-0.97.tar.gz',
        integrity: 'sha512-x',
        size: 1,
        path: 'stubdom/grub-0.97.tar.gz',
      },
      zlib: {
        url: 'https://mirror.example/zlib.tgz?v=1#x',
        integrity: 'sha512-x',
        size: 1,
        path: 'stubdom/zlib-1.2.3.tar.gz',
      },
      foobios: {
        git: 'https://example.org/foobios.git',
        ref: 'v1',
        commit: 'b'.repeat(40),
        tree: 'sha256-x',
        path: 'tools/firmware/foobios-dir-remote',
      },
      'mini-os': {
        git: 'file:///srv/a#b$c.git',
        ref: 'xen-RELEASE-4.22.0',
        commit: 'c'.repeat(40),
        tree: 'sha256-x',
        path: 'extras/mini-os-remote',
      },
    },
  };

  test('each pin a Xen variable names; what cannot be pinned is said', () => {
    const { assignments, unpinned } = lockedPins(lock, ['seabios']);
    expect(assignments.map((a) => `${a.variable}=${a.value}`)).toEqual([
      'GRUB_URL=https://mirror.example/files',
      'MINIOS_UPSTREAM_URL=file:///srv/a#b$c.git',
      'MINIOS_UPSTREAM_REVISION=xen-RELEASE-4.22.0',
      'NEWLIB_URL=https://mirror.example/files',
    ]);
    expect(unpinned).toEqual([
      { component: 'foobios', reason: 'xenrel knows no make variable of Xen that names it' },
      {
        component: 'zlib',
        reason:
          'stubdom/Makefile fetches $(ZLIB_URL)/zlib-1.2.3.tar.gz, and the locked URL https://mirror.example/zlib.tgz?v=1#x does not end in zlib-1.2.3.tar.gz',
      },
    ]);
  });

  test('GNU make sees the locked values over .config, the environment, the command line and config/Stubdom.mk', () => {
    const dir = tmpSync();
    const pins = lockedPins(lock).assignments;
    writeFileSync(
      join(dir, '.config'),
      withBlock('SEABIOS_UPSTREAM_URL = https://user.example/seabios.git\n', { pins }),
    );
    writeFileSync(join(dir, 'Stubdom.mk'), 'NEWLIB_URL := $(XEN_EXTFILES_URL)\n');
    writeFileSync(
      join(dir, 'Makefile'),
      [
        'XEN_ROOT := $(CURDIR)',
        '-include $(XEN_ROOT)/.config',
        'SEABIOS_UPSTREAM_URL ?= https://xenbits.xen.org/git-http/seabios.git',
        'MINIOS_UPSTREAM_URL ?= https://xenbits.xen.org/git-http/mini-os.git',
        'XEN_EXTFILES_URL ?= https://xenbits.xen.org/xen-extfiles',
        'include Stubdom.mk',
        'all:',
        "\t@echo '$(SEABIOS_UPSTREAM_URL)|$(MINIOS_UPSTREAM_URL)|$(NEWLIB_URL)'",
        '',
      ].join('\n'),
    );
    const mk = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync('make', ['-s', ...args], {
        cwd: dir,
        env: { ...process.env, MAKEFLAGS: '', ...env },
        encoding: 'utf8',
      });
    const locked = 'https://mirror.example/seabios.git|file:///srv/a#b$c.git|https://mirror.example/files';
    expect(mk([]).stdout.trim()).toBe(locked);
    expect(
      mk(['SEABIOS_UPSTREAM_URL=https://cmdline.example/x.git', 'NEWLIB_URL=https://cmdline.example'], {
        MINIOS_UPSTREAM_URL: 'https://env.example/m.git',
      }).stdout.trim(),
    ).toBe(locked);
    // How xenrel reads the tree's own pins (init, init --check): the block's pins step aside.
    expect(mk(['XENREL_TREE_PINS=y']).stdout.trim()).toBe(
      'https://user.example/seabios.git|https://xenbits.xen.org/git-http/mini-os.git|https://xenbits.xen.org/xen-extfiles',
    );
  });
});
