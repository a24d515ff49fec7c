/**
 * The shim holds its ground against hostile arguments and a hostile file system: real
 * dash and bash run the scripts vendor installs; GNU tar, the log file and the planted
 * symlinks' targets are the oracles.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssri from 'ssri';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashDir } from '../../src/tree/walk.js';
import type { Lockfile } from '../../src/model/lock.js';
import { installShim, renderShim } from '../../src/vendoring/shim.js';
import { binWith, runShim } from '../helpers/shim-run.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const SEA_URL = 'https://example.invalid/git/seabios.git';
const TB_URL = 'https://example.invalid/extfiles/tb-1.0.tar.gz';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** A store by hand: one folder whose path order differs from whole-line order (an executable before plain files), one file. */
async function fixture(): Promise<{ root: string; tb: Buffer }> {
  const root = await tmp.make('xenrel-shimh-');
  const store = join(root, '.xenrel/sources/seabios');
  await mkdir(join(store, 'src'), { recursive: true });
  await writeFile(join(store, 'a-build.sh'), '#!/bin/sh\n');
  await chmod(join(store, 'a-build.sh'), 0o755);
  await writeFile(join(store, 'b-readme'), 'seabios\n');
  await writeFile(join(store, 'src/post.c'), 'int post;\n');
  await symlink('b-readme', join(store, 'c-link'));
  const tb = Buffer.from('pretend this is a tarball\n');
  await mkdir(join(root, '.xenrel/sources/tb'), { recursive: true });
  await writeFile(join(root, '.xenrel/sources/tb/tb-1.0.tar.gz'), tb);
  const lock: Lockfile = {
    lockfileVersion: 1,
    name: 'shim-hardening',
    components: {
      seabios: {
        git: SEA_URL,
        ref: 'rel-1.17.0',
        commit: COMMIT,
        tree: (await hashDir(store)).hash,
        path: 'tools/firmware/seabios-dir-remote',
      },
      tb: {
        url: TB_URL,
        integrity: ssri.fromData(tb, { algorithms: ['sha512'] }).toString(),
        size: tb.length,
        path: 'stubdom/tb-1.0.tar.gz',
      },
    },
  };
  await installShim(root, lock);
  await mkdir(join(root, 'tools/firmware'), { recursive: true });
  await mkdir(join(root, 'stubdom'), { recursive: true });
  return { root, tb };
}

const exists = async (p: string) => Boolean(await stat(p).catch(() => undefined));

/** PATH with the shim's tools but no mktemp: the fallback paths must be as safe. */
async function pathWithoutMktemp(): Promise<string> {
  return binWith(await tmp.make('xenrel-nomktemp-'), [
    'sh',
    'dash',
    'bash',
    'cp',
    'mv',
    'rm',
    'mkdir',
    'ls',
    'cut',
    'sort',
    'comm',
    'tr',
    'chmod',
    'cat',
    'readlink',
    'dirname',
    'basename',
    'sha256sum',
    'sha512sum',
    'find',
    'sed',
    'tar',
    'gzip',
  ]);
}

test('the rendered shim scripts pass shellcheck (POSIX sh, warnings and errors)', async () => {
  const dir = await tmp.make();
  for (const tool of ['git', 'fetch'] as const) {
    const file = join(dir, tool);
    await writeFile(file, await renderShim(tool));
    for (const shell of ['sh', 'dash'])
      execFileSync('shellcheck', ['-S', 'warning', '-s', shell, file], { stdio: 'pipe' });
  }
});

describe.each(['dash', 'bash'])('the shim under %s', (shell) => {
  let f: { root: string; tb: Buffer };
  let noMktemp: string;
  beforeAll(async () => {
    f = await fixture();
    noMktemp = await pathWithoutMktemp();
  });
  const fw = () => join(f.root, 'tools/firmware');

  test('git archive refuses prefixes that leave the folder; a plain one still works', async () => {
    const name = `ipxe-${shell}.git`;
    expect((await runShim(shell, f.root, 'git', ['clone', SEA_URL, name], { cwd: fw() })).code).toBe(0);
    const cwd = join(fw(), name);
    for (const prefix of ['../', '../../escape/', 'ipxe/../../', '/tmp/abs/', './', 'a/./b/']) {
      const r = await runShim(shell, f.root, 'git', ['archive', '--format=tar', `--prefix=${prefix}`, COMMIT], { cwd });
      expect(r.code, prefix).not.toBe(0);
      expect(r.stdout.length, prefix).toBe(0);
      expect(r.stderr, prefix).toMatch(/^xenrel shim: git archive: refusing the (absolute )?prefix/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const ok = await runShim(shell, f.root, 'git', ['archive', '--format=tar', '--prefix=ipxe/', COMMIT], { cwd });
    expect(ok.code, ok.stderr).toBe(0);
    const x = await tmp.make();
    execFileSync('tar', ['-xf', '-', '-C', x], { input: ok.stdout });
    expect(await readdir(x)).toEqual(['ipxe']);
    expect(await readFile(join(x, 'ipxe/src/post.c'), 'utf8')).toBe('int post;\n');
  });

  test('a newline or tab in an argument cannot forge a line or a column of XENREL_SHIM_LOG', async () => {
    const log = join(await tmp.make(), 'calls.log');
    const forged = `https://example.invalid/x.git\nfetch\t/\tforged\tserved tb -> /etc/passwd\\`;
    const r = await runShim(shell, f.root, 'git', ['clone', forged, 'dest'], {
      cwd: fw(),
      env: { XENREL_SHIM_LOG: log },
    });
    expect(r.code).not.toBe(0);
    await runShim(shell, f.root, 'fetch', ['out.tar.gz', TB_URL], {
      cwd: join(f.root, 'stubdom'),
      env: { XENREL_SHIM_LOG: log },
    });
    const lines = (await readFile(log, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.split('\t')).toHaveLength(4);
    const fields = lines[0]!.split('\t');
    expect(fields[2]).toBe(
      'clone https://example.invalid/x.git\\nfetch\\t/\\tforged\\tserved tb -> /etc/passwd\\\\ dest',
    );
    expect(fields[3]).toMatch(/^refused: refusing to fetch https:\/\/example\.invalid\/x\.git\\nfetch\\t/);
    expect(lines[1]!.split('\t')[3]).toBe('served tb -> out.tar.gz');
  });

  test('a tampered store is named in one clean line (no comm noise about sort order)', async () => {
    const g = await fixture();
    await writeFile(join(g.root, '.xenrel/sources/seabios/src/post.c'), 'int backdoor;\n');
    const r = await runShim(shell, g.root, 'git', ['clone', SEA_URL, 'sea'], {
      cwd: join(g.root, 'tools/firmware'),
      env: { LC_ALL: 'C.UTF-8' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/comm:|sort:/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/content differs from xenrel\.lock: modified: src\/post\.c/);
    expect(await exists(join(g.root, 'tools/firmware/sea'))).toBe(false);
  });

  test('fetch never writes through a symlink planted at its temporary name (with and without mktemp)', async () => {
    const sd = join(f.root, 'stubdom');
    const victim = join(await tmp.make(), 'victim');
    for (const [i, path] of [process.env.PATH, noMktemp].entries()) {
      await writeFile(victim, 'precious\n');
      const out = `planted-${i}.tar.gz`;
      const r = await runShim(shell, f.root, 'fetch', ['-c', '-O', out, TB_URL], {
        cwd: sd,
        env: { PATH: path },
        // The old name: .<out>.xenrel-tmp.<pid>.
        beforeStart: (pid) => symlink(victim, join(sd, `.${out}.xenrel-tmp.${pid}`)),
      });
      expect(await readFile(victim, 'utf8'), `PATH ${i}`).toBe('precious\n');
      if (i === 0) {
        expect(r.code, r.stderr).toBe(0);
        expect(await readFile(join(sd, out))).toEqual(f.tb);
        expect((await stat(join(sd, out))).mode & 0o777).toBe(0o644 & ~0o022);
      } else {
        // No mktemp: the name is guessable, so it is created exclusively, and refused when taken.
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/^xenrel shim: fetch .*: cannot create .* \(it exists\)\n$/);
        expect(await exists(join(sd, out))).toBe(false);
      }
    }
  });

  test('verifying a clone never writes through symlinks planted in TMPDIR', async () => {
    const t = await tmp.make('xenrel-tmpdir-');
    const victim = join(await tmp.make(), 'victim');
    await writeFile(victim, 'precious\n');
    for (const [i, path] of [process.env.PATH, noMktemp].entries()) {
      const r = await runShim(shell, f.root, 'git', ['clone', SEA_URL, `sea-${shell}-${i}`], {
        cwd: fw(),
        env: { TMPDIR: t, PATH: path },
        beforeStart: async (pid) => {
          for (const n of [`xenrel-shim.${pid}.lines`, `xenrel-shim.${pid}`])
            await symlink(victim, join(t, n)).catch(() => {});
        },
      });
      expect(await readFile(victim, 'utf8')).toBe('precious\n');
      if (i === 0) expect(r.code, r.stderr).toBe(0);
      else {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/cannot create a private temporary folder/);
      }
      // Nothing of the run stays behind (the planted links are the test's own).
      expect(
        (await readdir(t)).filter((n) => !n.startsWith(`xenrel-shim.`) || !n.match(/^xenrel-shim\.\d+(\.lines)?$/)),
      ).toEqual([]);
    }
  });

  test('a malformed .xenrel/shim.tsv is refused by field, never half-used; the written one serves', async () => {
    const g = await fixture();
    const index = join(g.root, '.xenrel/shim.tsv');
    const good = await readFile(index, 'utf8');
    const lines = good.split('\n');
    const sea = lines.findIndex((l) => l.startsWith('seabios\t'));
    const tbl = lines.findIndex((l) => l.startsWith('tb\t'));
    const edit = (i: number, col: number, v: string | null) => {
      const copy = [...lines];
      const cols = copy[i]!.split('\t');
      if (v === null) cols.splice(col, 1);
      else cols[col] = v;
      copy[i] = cols.join('\t');
      return copy.join('\n');
    };
    const cases: [string, string, RegExp][] = [
      ['store outside the store', edit(sea, 7, 'sources/../../../etc'), /path "sources\/\.\.\/\.\.\/\.\.\/etc"/],
      ["another component's store", edit(sea, 7, 'sources/tb'), /store "sources\/tb"/],
      ['absolute path', edit(sea, 6, '/etc/passwd'), /path "\/etc\/passwd"/],
      ['kind', edit(sea, 1, 'dir'), /kind "dir"/],
      ['short commit', edit(sea, 4, 'abc123'), /commit "abc123"/],
      ['digest of the wrong length', edit(sea, 5, `tree:${'a'.repeat(63)}`), /digest "tree:a+"/],
      ['digest not hex', edit(sea, 5, `sha256:${'g'.repeat(64)}`), /digest "sha256:g+"/],
      ['status', edit(sea, 8, 'trusted'), /status "trusted"/],
      ['a tenth field', edit(sea, 9, 'extra'), /more than nine fields/],
      ['a missing field', edit(sea, 3, null), /fewer than nine fields|status|commit|digest/],
      ['vendored without a digest', edit(sea, 5, '-'), /no digest for a vendored component/],
    ];
    for (const [what, text, problem] of cases) {
      await writeFile(index, text);
      const r = await runShim(shell, g.root, 'git', ['clone', SEA_URL, `sea-${what.replace(/\W+/g, '-')}`], {
        cwd: join(g.root, 'tools/firmware'),
      });
      expect(r.code, `${what}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr, what).toMatch(/^xenrel shim: \S+shim\.tsv is malformed \(component seabios: /);
      expect(r.stderr, what).toMatch(problem);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
    }
    // The index is checked as a whole: a malformed line of another component refuses this one too.
    await writeFile(index, edit(tbl, 7, '/abs/tb.tar.gz'));
    for (const [tool, args, cwd] of [
      ['git', ['clone', SEA_URL, 'sea-other-bad'], 'tools/firmware'],
      ['fetch', ['out.tar.gz', TB_URL], 'stubdom'],
    ] as const) {
      const r = await runShim(shell, g.root, tool, [...args], { cwd: join(g.root, cwd) });
      expect(r.code, `${tool}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(/shim\.tsv is malformed \(component tb: path "\/abs\/tb\.tar\.gz"/);
    }
    await writeFile(index, good);
    const ok = await runShim(shell, g.root, 'git', ['clone', SEA_URL, 'sea-good'], {
      cwd: join(g.root, 'tools/firmware'),
    });
    expect(ok.code, ok.stderr).toBe(0);
  });
});
