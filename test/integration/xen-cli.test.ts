import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import ssri from 'ssri';
import { Cache } from '../../src/content-cache/cache.js';
import { parseConfigText } from '../../src/config/load.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { writeXenPinsTree } from '../helpers/xen-pins-tree.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

// Deterministic configure defaults: no cmake unless a test says so (configure honours $CMAKE).
const env = (extra: NodeJS.ProcessEnv = {}) => ({ CMAKE: '', XENREL_CACHE: '', ...extra });

let cacheDir: string;
beforeAll(async () => {
  cacheDir = await tmp.make('xenrel-cache-');
});

describe('xenrel init', () => {
  it('writes a config from a 4.22-like tree that xenrel accepts, refuses to overwrite it, and --check passes', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    const r = await runInProcess(['init'], { cwd: root, env: env() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/seabios\s+rel-1\.17\.0\s+Config\.mk:\d+/);
    expect(r.stdout).toMatch(/wrote xenrel\.config\.yaml \(14 components/);
    const text = await readFile(join(root, 'xenrel.config.yaml'), 'utf8');
    expect(text).toMatch(
      /# SEABIOS_UPSTREAM_URL \(Config\.mk:\d+\), SEABIOS_UPSTREAM_REVISION \(Config\.mk:\d+\)\n {2}seabios:\n {4}git: https:\/\/xenbits\.xen\.org\/git-http\/seabios\.git\n {4}ref: rel-1\.17\.0\n/,
    );
    const m = parseConfigText(text, 'xenrel.config.yaml');
    expect(m.components.newlib).toMatchObject({
      url: 'https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz',
      path: 'stubdom/newlib-1.16.0.tar.gz',
      license: 'LicenseRef-newlib',
    });

    const again = await runInProcess(['init'], { cwd: root, env: env() });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/xenrel\.config\.yaml already exists/);
    expect(await readFile(join(root, 'xenrel.config.yaml'), 'utf8')).toBe(text);

    const check = await runInProcess(['init', '--check'], { cwd: root, env: env() });
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/matches the tree's pins \(13 components checked\)/);
  });

  it('--check exits 1 naming the variable, its file:line and both values after a fork bumps a pin', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    expect((await runInProcess(['init'], { cwd: root, env: env() })).code).toBe(0);
    await writeFile(join(root, '.config'), '# fork\nSEABIOS_UPSTREAM_REVISION = rel-1.18.0\n');
    const r = await runInProcess(['init', '--check'], { cwd: root, env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'seabios.ref: the tree has "rel-1.18.0" (SEABIOS_UPSTREAM_REVISION (.config:2) = rel-1.18.0), xenrel.config.yaml has "rel-1.17.0"',
    );
    const j = JSON.parse((await runInProcess(['init', '--check', '--json'], { cwd: root, env: env() })).stdout);
    expect(j.exitCode).toBe(1);
    expect(j.drift).toEqual([
      expect.objectContaining({
        component: 'seabios',
        field: 'ref',
        tree: 'rel-1.18.0',
        config: 'rel-1.17.0',
        variables: [{ name: 'SEABIOS_UPSTREAM_REVISION', where: '.config:2', value: 'rel-1.18.0' }],
      }),
    ]);
    // make-style overrides on the command line count too.
    const o = await runInProcess(['init', '--check', 'QEMU_UPSTREAM_REVISION=master'], { cwd: root, env: env() });
    expect(o.stdout).toMatch(
      /qemu-xen\.ref: the tree has "master" \(QEMU_UPSTREAM_REVISION \(command line\) = master\)/,
    );
  });

  it('--check fails and init warns when the tree downloads something no component covers', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22', {
      extra: { 'tools/libfoo/Makefile': 'libfoo.tar.gz:\n\twget -O $@ https://example.org/libfoo.tar.gz\n' },
    });
    const r = await runInProcess(['init', '--out', 'my.yaml'], { cwd: root, env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'warning: download not tied to any component: tools/libfoo/Makefile:2: wget -O $@ https://example.org/libfoo.tar.gz',
    );
    const c = await runInProcess(['init', '--check', '--config', 'my.yaml'], { cwd: root, env: env() });
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/matches the tree's pins, but the tree downloads something no component covers/);
  });

  it("init and init --check report a fork's foobios-dir fetched through git-checkout.sh, with file:line", async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22', {
      extra: {
        'tools/firmware/foobios.mk':
          'foobios-dir:\n\tGIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(FOOBIOS_UPSTREAM_URL) $(FOOBIOS_UPSTREAM_REVISION) foobios-dir\n',
      },
    });
    const site =
      'tools/firmware/foobios.mk:2: GIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(FOOBIOS_UPSTREAM_URL) $(FOOBIOS_UPSTREAM_REVISION) foobios-dir';
    const r = await runInProcess(['init'], { cwd: root, env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: download not tied to any component: ${site}`);
    const c = await runInProcess(['init', '--check'], { cwd: root, env: env() });
    expect(c.code).toBe(1);
    expect(c.stderr).toContain(`warning: download not tied to any component: ${site}`);
  });

  it('a 4.19-like tree gets qemu-xen-traditional; errors exit 2 with what to do', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.19');
    const r = await runInProcess(['init', '--json', '--xen-tree', root, '--out', join(root, 'x.yaml')], {
      cwd: await tmp.make(),
      env: env(),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).components['qemu-xen-traditional']).toMatchObject({
      ref: 'xen-4.19.0',
      pinnedBy: [
        expect.objectContaining({ variable: 'QEMU_TRADITIONAL_URL' }),
        expect.objectContaining({ variable: 'QEMU_TRADITIONAL_REVISION' }),
      ],
    });

    const notXen = await runInProcess(['init'], { cwd: await tmp.make(), env: env() });
    expect(notXen.code).toBe(2);
    expect(notXen.stderr).toMatch(/is not a Xen source tree: it has no Config.mk\n {2}hint: .*--xen-tree DIR/);
    const bad = await runInProcess(['init', '--xen-tree', root, 'oops'], { cwd: root, env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unexpected argument "oops"/);
  });
});

describe('xenrel plan', () => {
  it('lists what a default x86 build downloads, and what is left out with the option responsible', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    expect((await runInProcess(['init'], { cwd: root, env: env() })).code).toBe(0);
    const r = await runInProcess(['plan', '--json', '--host', 'x86_64-linux-gnu'], {
      cwd: root,
      env: env({ XENREL_CACHE: cacheDir }),
    });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.components.map((c: { name: string }) => c.name)).toEqual([
      'mini-os',
      'newlib',
      'pciutils',
      'qemu-xen',
      'seabios',
      'zlib',
    ]);
    expect(j.components.find((c: { name: string }) => c.name === 'zlib')).toMatchObject({
      url: 'https://xenbits.xen.org/xen-extfiles/zlib-1.2.3.tar.gz',
      ref: 'zlib-1.2.3.tar.gz',
      size: null,
      cached: false,
      vendored: false,
    });
    const excluded = Object.fromEntries(j.excluded.map((e: { name: string; option: string }) => [e.name, e.option]));
    expect(excluded).toMatchObject({
      ovmf: '(default; --enable-ovmf turns it on)',
      gmp: 'off because cmake was not found',
      'grub-legacy': 'off by default (--enable-pv-grub)',
    });

    const withCmake = JSON.parse(
      (
        await runInProcess(['plan', '--json', '--host', 'x86_64-linux-gnu'], {
          cwd: root,
          env: env({ CMAKE: '/usr/bin/cmake', XENREL_CACHE: cacheDir }),
        })
      ).stdout,
    );
    expect(withCmake.components.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['gmp', 'lwip', 'polarssl', 'tpm_emulator']),
    );
  });

  it('follows --configure: system qemu, OVMF on, --disable-extfiles URLs, options after --', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    expect((await runInProcess(['init'], { cwd: root, env: env() })).code).toBe(0);
    const j = JSON.parse(
      (
        await runInProcess(
          [
            'plan',
            '--json',
            '--host',
            'x86_64-linux-gnu',
            '--configure=--with-system-qemu --enable-ovmf --disable-extfiles --prefix=/usr',
          ],
          {
            cwd: root,
            env: env({ XENREL_CACHE: cacheDir }),
          },
        )
      ).stdout,
    );
    const names = j.components.map((c: { name: string }) => c.name);
    expect(names).toContain('ovmf');
    expect(names).not.toContain('qemu-xen');
    expect(j.excluded).toContainEqual({
      name: 'qemu-xen',
      option: '--with-system-qemu',
      reason: 'a system QEMU is used',
    });
    expect(j.components.find((c: { name: string }) => c.name === 'newlib').url).toBe(
      'https://sourceware.org/ftp/newlib/newlib-1.16.0.tar.gz',
    );
    expect(j.components.find((c: { name: string }) => c.name === 'zlib').url).toBe(
      'https://xenbits.xen.org/xen-extfiles/zlib-1.2.3.tar.gz',
    );
    expect(j.ignoredOptions).toEqual(['--prefix=/usr']);

    const rest = JSON.parse(
      (
        await runInProcess(['plan', '--json', '--host', 'x86_64-linux-gnu', '--', '--disable-stubdom'], {
          cwd: root,
          env: env({ XENREL_CACHE: cacheDir }),
        })
      ).stdout,
    );
    expect(rest.components.map((c: { name: string }) => c.name)).toEqual(['qemu-xen', 'seabios']);
    const human = await runInProcess(['plan', '--host', 'x86_64-linux-gnu', '--', '--disable-stubdom'], {
      cwd: root,
      env: env({ XENREL_CACHE: cacheDir }),
    });
    expect(human.stdout).toMatch(/mini-os\s+stub domains are not built\s+\[--disable-stubdom\]/);
  });

  it('says what is cached (lock + verified cache) and vendored (already at its path)', async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22');
    expect((await runInProcess(['init'], { cwd: root, env: env() })).code).toBe(0);
    const cache = new Cache(await tmp.make('xenrel-cache-'));
    const bytes = Buffer.from('pretend zlib tarball');
    await cacache.put(cache.contentDir, 'test:zlib', bytes, { algorithms: ['sha512'] });
    // A git mirror holding seabios's locked commit.
    const work = await tmp.make();
    const g = (...a: string[]) =>
      execFileSync('git', a, {
        cwd: work,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
        },
      })
        .toString()
        .trim();
    g('init', '-q');
    await writeFile(join(work, 'f'), 'x');
    g('add', 'f');
    g('commit', '-qm', 'c');
    const commit = g('rev-parse', 'HEAD');
    await mkdir(join(cache.root, 'git'), { recursive: true });
    execFileSync('git', [
      'clone',
      '-q',
      '--bare',
      work,
      cache.gitMirrorDir('https://xenbits.xen.org/git-http/seabios.git'),
    ]);
    const tree = `sha256-${'A'.repeat(43)}=`;
    const lock = {
      lockfileVersion: 1,
      name: 'xen',
      components: {
        seabios: {
          git: 'https://xenbits.xen.org/git-http/seabios.git',
          ref: 'rel-1.17.0',
          commit,
          tree,
          path: 'tools/firmware/seabios-dir-remote',
        },
        zlib: {
          url: 'https://xenbits.xen.org/xen-extfiles/zlib-1.2.3.tar.gz',
          integrity: ssri.fromData(bytes, { algorithms: ['sha512'] }).toString(),
          size: bytes.length,
          path: 'stubdom/zlib-1.2.3.tar.gz',
        },
        newlib: {
          url: 'https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz',
          integrity: ssri.fromData(Buffer.from('other'), { algorithms: ['sha512'] }).toString(),
          size: 5,
          path: 'stubdom/newlib-1.16.0.tar.gz',
        },
      },
    };
    await writeFile(join(root, 'xenrel.lock'), `${JSON.stringify(lock, null, 2)}\n`);
    await mkdir(join(root, 'extras/mini-os-remote'), { recursive: true });
    const j = JSON.parse(
      (
        await runInProcess(['plan', '--json', '--host', 'x86_64-linux-gnu', '--cache', cache.root], {
          cwd: root,
          env: env(),
        })
      ).stdout,
    );
    const by = Object.fromEntries(j.components.map((c: { name: string }) => [c.name, c]));
    expect(by.zlib).toMatchObject({ cached: true, size: bytes.length, locked: true, vendored: false });
    expect(by.newlib).toMatchObject({ cached: false, size: 5, locked: true });
    expect(by.seabios).toMatchObject({ cached: true, commit, locked: true });
    expect(by['mini-os']).toMatchObject({ cached: false, vendored: true, locked: false });
    expect(by['qemu-xen']).toMatchObject({ cached: false, vendored: false });
  });

  it('in a Xen tree without a config, reads the pins from its makefiles (with a warning)', async () => {
    const root = await writeXenPinsTree(await tmp.make(), 'unstable');
    const r = await runInProcess(['plan', '--host', 'x86_64-linux-gnu'], {
      cwd: root,
      env: env({ XENREL_CACHE: cacheDir }),
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no xenrel config here: pins read from the tree's makefiles/);
    expect(r.stdout).toMatch(/qemu-xen\s+https:\/\/xenbits\.xen\.org\/git-http\/qemu-xen\.git\s+master/);
    const none = await runInProcess(['plan'], { cwd: await tmp.make(), env: env() });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no xenrel config found/);
    const junk = await runInProcess(['plan', '--configure=enable-ovmf'], { cwd: root, env: env() });
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/configure argument "enable-ovmf" is neither an option/);
  });
});
