/**
 * The Debian orig layout against its real consumer: `xenrel export --format debian` on a
 * Xen-like tree, `dpkg-source -b` / `dpkg-source -x` of the .dsc, then Xen's own stubdom and
 * iPXE tarball targets inside a network namespace with no interfaces. The uscan patterns are
 * checked against the real upstream file names (ipxe-git-<commit>, polarssl-…-gpl.tgz).
 */
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { make } from '../helpers/netns.js';
import { STUBDOM_TARBALLS, type XenUpstreams, fixtureConfigYaml } from '../helpers/xen-tree.js';
import { xenFixtureSuite } from '../helpers/xen-fixture-suite.js';
import { serializeLock } from '../../src/lock/lockfile.js';
import type { Lockfile } from '../../src/model/lock.js';

const fx = xenFixtureSuite();
let up: XenUpstreams;
let lock: Lockfile;
let out: string;
let exported: { code: number; stdout: string; stderr: string };
const ENV = { SOURCE_DATE_EPOCH: '1767225600' };

const sh = (cmd: string, cwd: string) =>
  execFileSync('sh', ['-c', cmd], { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });

beforeAll(async () => {
  ({ up, lock } = fx);
  const dir = await fx.freshTree();
  await writeFile(
    join(dir, 'xenrel.config.yaml'),
    fixtureConfigYaml(up).replace('name: xen-fixture\n', 'name: xen-fixture\nrelease:\n  version: 4.22.0\n'),
  );
  await writeFile(join(dir, 'xenrel.lock'), serializeLock(lock));
  out = join(await fx.tmp.make('xenrel-deb-'), 'orig');
  exported = await runCli(['export', '--format', 'debian', '--out', out, '--cache', fx.cache.root], {
    cwd: dir,
    env: { ...up.fixtures.env, ...ENV },
  });
}, 120_000);

describe('debian export of a Xen-like tree', () => {
  test('dpkg-source -x of a .dsc built from it, then the stubdom and iPXE tarball targets, offline', async () => {
    expect(exported.code, exported.stderr).toBe(0);
    const names = (await readdir(out)).filter((n) => n.endsWith('.tar.gz')).sort();
    expect(names).toContain('xen-fixture_4.22.0.orig.tar.gz');
    expect(names).toContain('xen-fixture_4.22.0.orig-tpm-emulator.tar.gz');
    const comps = names.filter((n) => n.includes('.orig-')).map((n) => /\.orig-(.+)\.tar\.gz$/.exec(n)![1]!);
    expect(comps.sort()).toEqual([
      'gmp',
      'grub',
      'ipxe',
      'lwip',
      'mini-os',
      'newlib',
      'ovmf',
      'pciutils',
      'polarssl',
      'qemu-xen',
      'seabios',
      'tpm-emulator',
      'zlib',
    ]);

    // Build a 3.0 (quilt) source package the way a packager would: unpack as dpkg-source does
    // (a single top folder stripped), add debian/, dpkg-source -b.
    const src = join(out, 'xen-fixture-4.22.0');
    await mkdir(src);
    sh('tar -xzf xen-fixture_4.22.0.orig.tar.gz --strip-components=1 -C xen-fixture-4.22.0', out);
    for (const c of comps) {
      await mkdir(join(src, c));
      sh(`tar -xzf xen-fixture_4.22.0.orig-${c}.tar.gz --strip-components=1 -C xen-fixture-4.22.0/${c}`, out);
    }
    await mkdir(join(src, 'debian', 'source'), { recursive: true });
    await writeFile(join(src, 'debian', 'source', 'format'), '3.0 (quilt)\n');
    await writeFile(
      join(src, 'debian', 'changelog'),
      'xen-fixture (4.22.0-1) unstable; urgency=medium\n\n  * Test.\n\n -- Xenrel Test <test@xenrel.invalid>  Thu, 01 Jan 2026 00:00:00 +0000\n',
    );
    await writeFile(
      join(src, 'debian', 'control'),
      'Source: xen-fixture\nMaintainer: Xenrel Test <test@xenrel.invalid>\n\nPackage: xen-fixture\nArchitecture: any\nDescription: test\n test\n',
    );
    sh('dpkg-source -b xen-fixture-4.22.0 2>&1', out);
    const dsc = await readFile(join(out, 'xen-fixture_4.22.0-1.dsc'), 'utf8');
    for (const n of names) expect(dsc).toContain(` ${n}\n`);

    // The real consumer: dpkg-source -x into a fresh folder.
    const x = join(await fx.tmp.make('xenrel-dsc-'), 'xen');
    sh(`dpkg-source -x ${join(out, 'xen-fixture_4.22.0-1.dsc')} ${x} 2>&1`, out);
    // Each component is where Xen's make looks for it: a symlink into the unpacked component.
    expect(await readlink(join(x, 'tools/firmware/seabios-dir-remote'))).toBe('../../seabios');
    expect(await readlink(join(x, 'stubdom/newlib-1.16.0.tar.gz'))).toBe('../newlib/newlib-1.16.0.tar.gz');
    expect(await readFile(join(x, 'tools/firmware/seabios-dir-remote/VERSION'), 'utf8')).toBe(up.git.seabios!.version);
    expect(await readFile(join(x, 'extras/mini-os-remote/VERSION'), 'utf8')).toBe(up.git['mini-os']!.version);
    for (const t of Object.values(up.tarballs)) {
      expect((await lstat(join(x, t.path))).isSymbolicLink()).toBe(true);
      // The upstream file, byte for byte, behind the path stubdom/Makefile (or etherboot's) names.
      expect((await readFile(join(x, t.path))).equals(t.bytes), t.path).toBe(true);
    }

    // Xen's own targets, with no network at all: nothing to fetch, every file is there.
    const stub = await make(join(x, 'stubdom'), STUBDOM_TARBALLS, { netns: true });
    expect(stub.code, stub.stderr).toBe(0);
    for (const f of STUBDOM_TARBALLS) expect(stub.stdout).toContain(`'${f}' is up to date.`);
    expect(stub.stdout + stub.stderr).not.toMatch(/wget|FETCHER/);
    // …and they unpack as the stubdom build unpacks them.
    await mkdir(join(x, 'stubdom', 'unpacked'));
    for (const f of STUBDOM_TARBALLS) sh(`tar -C unpacked -xf ${f}`, join(x, 'stubdom'));
    expect((await readdir(join(x, 'stubdom', 'unpacked'))).sort()).toEqual([
      'gmp-4.3.2',
      'grub-0.97',
      'lwip',
      'newlib-1.16.0',
      'pciutils-2.2.9',
      'polarssl-1.1.4',
      'tpm_emulator-0.7.4',
      'zlib-1.2.3',
    ]);
    expect(await readFile(join(x, 'stubdom/unpacked/polarssl-1.1.4/VERSION'), 'utf8')).toBe(
      up.tarballs.polarssl!.version,
    );

    // iPXE: the etherboot Makefile's own unpack + patch rule, from ipxe.tar.gz, offline.
    const ipxe = await make(join(x, 'tools/firmware/etherboot'), ['ipxe/src/arch/i386/Makefile'], { netns: true });
    expect(ipxe.code, ipxe.stderr).toBe(0);
    expect(ipxe.stdout).not.toMatch(/git clone|wget/);
    expect(await readFile(join(x, 'tools/firmware/etherboot/ipxe/src/arch/i386/Makefile'), 'utf8')).toBe(
      '# iPXE i386\n# Xen additions to the iPXE config\n',
    );
    expect(await readFile(join(x, 'tools/firmware/etherboot/ipxe/src/xen-patched.txt'), 'utf8')).toBe(
      'patched by the xen tree\n',
    );
  });

  test('watch lines: each pattern matches the upstream file name it claims and captures its version', async () => {
    expect(exported.code, exported.stderr).toBe(0);
    const watch = await readFile(join(out, 'watch.components'), 'utf8');
    // Tarball components: the commented line (uscan cannot wrap a file), URL dir + pattern.
    const tarLines = [...watch.matchAll(/^# opts="component=([a-z0-9-]+)" \\\n# {3}(\S+) (\S+)$/gm)];
    expect(tarLines.map((m) => m[1]).sort()).toEqual([
      'gmp',
      'grub',
      'ipxe',
      'lwip',
      'newlib',
      'pciutils',
      'polarssl',
      'tpm-emulator',
      'zlib',
    ]);
    const expectVersion: Record<string, string> = {
      ipxe: up.ipxeGit.commit,
      polarssl: '1.1.4',
      newlib: '1.16.0',
      zlib: '1.2.3',
      pciutils: '2.2.9',
      lwip: '1.3.0',
      gmp: '4.3.2',
      'tpm-emulator': '0.7.4',
      grub: '0.97',
    };
    for (const [, comp, dir, pattern] of tarLines) {
      const t = Object.values(up.tarballs).find((u) => u.name.replace('_', '-') === comp)!;
      expect(`${dir}${t.file}`).toBe(t.url);
      // uscan anchors the pattern on the whole file name (Perl regex; these use the common subset).
      const m = new RegExp(`^${pattern}$`).exec(t.file);
      expect(m, `${pattern} vs ${t.file}`).not.toBeNull();
      expect(m![1]).toBe(expectVersion[comp!]);
      // …and a newer release's name too, not only the pinned one.
      const newer = t.file.replace(expectVersion[comp!]!, comp === 'ipxe' ? 'ab12cd34ef56' : '9.10.11');
      expect(new RegExp(`^${pattern}$`).test(newer), `${pattern} vs ${newer}`).toBe(true);
    }
    // Git components with a tag pin: a live uscan line, the tag pattern matching the tag.
    const gitLines = [
      ...watch.matchAll(/^opts="mode=git, pgpmode=none, component=([a-z0-9-]+)" \\\n {2}(\S+) refs\/tags\/(\S+)$/gm),
    ];
    expect(gitLines.length).toBeGreaterThan(0);
    for (const [, comp, url, pattern] of gitLines) {
      const g = Object.values(up.git).find((u) => u.name === comp)!;
      expect(url).toBe(g.url);
      expect(new RegExp(`^${pattern}$`).test(g.ref), `${pattern} vs ${g.ref}`).toBe(true);
    }
  });

  test('yocto: every download name in DL_DIR carries its version; iPXE is renamed to ipxe.tar.gz after unpack', async () => {
    const dir = await fx.freshTree();
    await writeFile(join(dir, 'xenrel.config.yaml'), fixtureConfigYaml(up));
    await writeFile(join(dir, 'xenrel.lock'), serializeLock(lock));
    const f = join(await fx.tmp.make('xenrel-yocto-'), 'xen-sources.inc');
    const r = await runCli(['export', '--format', 'yocto', '--out', f, '--cache', fx.cache.root], {
      cwd: dir,
      env: { ...up.fixtures.env, ...ENV },
    });
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(f, 'utf8');
    const entries = [
      ...text.matchAll(
        /^SRC_URI \+= "([^";]+);name=([A-Za-z0-9_]+);unpack=0;subdir=([^;"]+);downloadfilename=([^;"]+)"$/gm,
      ),
    ];
    expect(entries.map((m) => m[2]).sort()).toEqual(
      Object.values(up.tarballs)
        .map((t) => t.name)
        .sort(),
    );
    for (const [, url, name, , download] of entries) {
      const t = Object.values(up.tarballs).find((u) => u.name === name)!;
      expect(url).toBe(t.url);
      // The DL_DIR name (what a PREMIRROR is asked for) is the versioned upstream name.
      expect(download).toBe(t.file);
      expect(download).toMatch(name === 'ipxe' ? new RegExp(up.ipxeGit.commit) : /\d+\.\d+/);
    }
    expect(text).not.toMatch(/downloadfilename=ipxe\.tar\.gz/);
    // Only iPXE's name differs from what Xen's make wants: one rename, in a postfunc of do_unpack.
    const block =
      /^python xenrel_place_downloads\(\) \{\n([\s\S]*?)\n\}\ndo_unpack\[postfuncs\] \+= "xenrel_place_downloads"$/m.exec(
        text,
      );
    expect(block).not.toBeNull();
    const renames = block![1]!.split('\n').filter((l) => l.includes('os.replace'));
    expect(renames).toEqual([
      `    os.replace(os.path.join(root, d.expand("\${XENREL_DESTDIR}/tools/firmware/etherboot/ipxe-git-${up.ipxeGit.commit}.tar.gz")), os.path.join(root, d.expand("\${XENREL_DESTDIR}/tools/firmware/etherboot/ipxe.tar.gz")))`,
    ]);
    // The function body is Python that parses (BitBake runs it as such).
    execFileSync('python3', ['-c', 'import ast,sys; ast.parse(sys.stdin.read())'], {
      input: `def f():\n${block![1]}\n`,
    });
  });
});
