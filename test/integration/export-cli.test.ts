import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEABIOS_COPYING, SourcesWorld, sha256Hex } from '../helpers/sources-project.js';

let w: SourcesWorld;
let dir: string;
let lock: { components: Record<string, { commit?: string; integrity?: string }> };

beforeAll(async () => {
  w = await SourcesWorld.create();
  dir = await w.project();
  lock = JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8'));
}, 120_000);
afterAll(async () => w?.cleanup());

const sh = (cmd: string, cwd: string) =>
  execFileSync('sh', ['-c', cmd], { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });

describe('xenrel export', () => {
  it('debian: multi-tarball orig layout that dpkg-source builds and unpacks, SHA256SUMS, components, watch lines', async () => {
    const out = join(await w.tmp.make('xenrel-deb-'), 'orig');
    const r = await w.cli(dir, ['export', '--format', 'debian', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const names = (await readdir(out)).sort();
    expect(names).toEqual([
      'SHA256SUMS',
      'components',
      'watch.components',
      'xen_4.22.0.orig-newlib.tar.gz',
      'xen_4.22.0.orig-qemu-xen.tar.gz',
      'xen_4.22.0.orig-seabios.tar.gz',
      'xen_4.22.0.orig.tar.gz',
    ]);
    for (const n of names.filter((x) => x.endsWith('.tar.gz')))
      expect(n).toMatch(/^xen_4\.22\.0\.orig(-[a-z0-9][a-z0-9-]*)?\.tar\.(gz|bz2|xz)$/);
    expect(sh('sha256sum -c SHA256SUMS', out)).toMatch(/xen_4\.22\.0\.orig-seabios\.tar\.gz: OK/);
    // The upstream tarball is carried byte for byte, as a file (stubdom's make unpacks it).
    expect(sh('tar -tzf xen_4.22.0.orig-newlib.tar.gz', out)).toBe('newlib/\nnewlib/newlib-1.16.0.tar.gz\n');
    expect(
      sha256Hex(
        execFileSync('tar', ['-xzOf', 'xen_4.22.0.orig-newlib.tar.gz', 'newlib/newlib-1.16.0.tar.gz'], { cwd: out }),
      ),
    ).toBe(sha256Hex(w.newlibTgz));
    // The project's orig points each component path into its unpacked component.
    expect(sh('tar -tvzf xen_4.22.0.orig.tar.gz', out)).toMatch(
      / xen-4\.22\.0\/stubdom\/newlib-1\.16\.0\.tar\.gz -> \.\.\/newlib\/newlib-1\.16\.0\.tar\.gz\n/,
    );
    expect(await readFile(join(out, 'components'), 'utf8')).toBe(
      'newlib stubdom/newlib-1.16.0.tar.gz\nqemu-xen tools/qemu-xen-dir-remote\nseabios tools/firmware/seabios-dir-remote\n',
    );
    const watch = await readFile(join(out, 'watch.components'), 'utf8');
    expect(watch).toContain(
      `# opts="component=newlib" \\\n#   ${w.server.url}/ newlib-([\\d.]+)\\.tar\\.(?:gz|bz2|xz)`,
    );
    expect(watch).toContain(
      `opts="mode=git, pgpmode=none, component=seabios" \\\n  ${w.seabios.url} refs/tags/rel-([\\d.]+)`,
    );
    // dpkg-source's own rules: unpack as it would, build a 3.0 (quilt) source package, extract it.
    const src = join(out, 'xen-4.22.0');
    await mkdir(src);
    sh(`tar -xzf xen_4.22.0.orig.tar.gz --strip-components=1 -C xen-4.22.0`, out);
    for (const c of ['newlib', 'qemu-xen', 'seabios']) {
      await mkdir(join(src, c));
      sh(`tar -xzf xen_4.22.0.orig-${c}.tar.gz --strip-components=1 -C xen-4.22.0/${c}`, out);
    }
    await mkdir(join(src, 'debian', 'source'), { recursive: true });
    await writeFile(join(src, 'debian', 'source', 'format'), '3.0 (quilt)\n');
    await writeFile(
      join(src, 'debian', 'changelog'),
      'xen (4.22.0-1) unstable; urgency=medium\n\n  * Test.\n\n -- Xenrel Test <test@xenrel.invalid>  Thu, 01 Jan 2026 00:00:00 +0000\n',
    );
    await writeFile(
      join(src, 'debian', 'control'),
      'Source: xen\nMaintainer: Xenrel Test <test@xenrel.invalid>\n\nPackage: xen\nArchitecture: any\nDescription: test\n test\n',
    );
    sh('dpkg-source -b xen-4.22.0 2>&1', out);
    const x = await w.tmp.make('xenrel-dsc-');
    sh(`dpkg-source -x ${join(out, 'xen_4.22.0-1.dsc')} ${join(x, 'xen')} 2>&1`, x);
    expect(await readFile(join(x, 'xen', 'seabios', 'COPYING'), 'utf8')).toBe(SEABIOS_COPYING);
    expect(await readFile(join(x, 'xen', 'qemu-xen', 'roms', 'dtc', 'dtc.c'), 'utf8')).toBe('int dtc;\n');
    expect((await readFile(join(x, 'xen', 'stubdom', 'newlib-1.16.0.tar.gz'))).equals(w.newlibTgz)).toBe(true);
    expect(await readFile(join(x, 'xen', 'Makefile'), 'utf8')).toBe('all:\n');
    // Deterministic: a second export writes the same bytes.
    const again = join(await w.tmp.make('xenrel-deb2-'), 'orig');
    expect((await w.cli(dir, ['export', '--format', 'debian', '--out', again])).code).toBe(0);
    expect(await readFile(join(again, 'SHA256SUMS'), 'utf8')).toBe(await readFile(join(out, 'SHA256SUMS'), 'utf8'));
  });

  it('fedora: a sources file whose every line sha512sum -c accepts, files beside it', async () => {
    const d = await w.tmp.make('xenrel-rpm-');
    const r = await w.cli(dir, ['export', '--format', 'fedora', '--out', join(d, 'sources')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = (await readFile(join(d, 'sources'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^SHA512 \([A-Za-z0-9._+-]+\) = [0-9a-f]{128}$/);
    expect(lines.map((l) => /\((.+)\)/.exec(l)![1])).toEqual([
      'newlib-1.16.0.tar.gz',
      'qemu-xen-v9.0.0.tar.gz',
      'seabios-rel-1.17.0.tar.gz',
    ]);
    expect(sh('sha512sum -c sources', d).trim().split('\n')).toEqual(lines.map((l) => `${/\((.+)\)/.exec(l)![1]}: OK`));
    expect(sh('tar -tzf seabios-rel-1.17.0.tar.gz', d)).toContain('seabios-rel-1.17.0/COPYING');
    // A tampered file fails the check.
    await writeFile(join(d, 'newlib-1.16.0.tar.gz'), 'not it');
    expect(() => sh('sha512sum -c sources 2>&1', d)).toThrow();
  });

  it('yocto: SRC_URI with name/destsuffix/protocol/nobranch, gitsm for submodules, SRCREV and sha256sum per component', async () => {
    const f = join(await w.tmp.make('xenrel-yocto-'), 'xen-sources.inc');
    const r = await w.cli(dir, ['export', '--format', 'yocto', '--out', f]);
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(f, 'utf8');
    for (const l of text.split('\n').filter((x) => x && !x.startsWith('#')))
      expect(l).toMatch(
        /^(SRC_URI \+= "[^"\s]+"|SRCREV_[A-Za-z0-9_]+ = "[0-9a-f]{40}"|SRC_URI\[[A-Za-z0-9_]+\.sha256sum\] = "[0-9a-f]{64}"|SRCREV_FORMAT = "[A-Za-z0-9_]+"|XENREL_DESTDIR \?= "git")$/,
      );
    expect(text).toContain(
      `SRC_URI += "git://${w.seabios.dir};protocol=file;nobranch=1;name=seabios;destsuffix=\${XENREL_DESTDIR}/tools/firmware/seabios-dir-remote"`,
    );
    expect(text).toContain(`SRCREV_seabios = "${lock.components.seabios!.commit}"`);
    expect(text).toContain(
      `SRC_URI += "gitsm://${w.qemu.dir};protocol=file;nobranch=1;name=qemu_xen;destsuffix=\${XENREL_DESTDIR}/tools/qemu-xen-dir-remote"`,
    );
    expect(text).toContain(`SRCREV_qemu_xen = "${lock.components['qemu-xen']!.commit}"`);
    expect(text).toContain(
      `SRC_URI += "${w.server.url}/newlib-1.16.0.tar.gz;name=newlib;unpack=0;subdir=\${XENREL_DESTDIR}/stubdom;downloadfilename=newlib-1.16.0.tar.gz"`,
    );
    expect(text).not.toContain('xenrel_place_downloads');
    const sum = /SRC_URI\[newlib\.sha256sum\] = "([0-9a-f]{64})"/.exec(text)![1]!;
    const d = await w.tmp.make();
    await writeFile(join(d, 'newlib-1.16.0.tar.gz'), w.newlibTgz);
    expect(sh(`echo "${sum}  newlib-1.16.0.tar.gz" | sha256sum -c`, d)).toContain('OK');
  });

  it('buildroot: .hash lines sha256sum -c accepts, for upstream tarballs and xenrel-made git tarballs', async () => {
    const d = await w.tmp.make('xenrel-br-');
    const r = await w.cli(dir, ['export', '--format', 'buildroot', '--out', join(d, 'xen.hash')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = (await readFile(join(d, 'xen.hash'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^sha256 {2}[0-9a-f]{64} {2}[A-Za-z0-9._+-]+$/);
    expect(lines).toContain(`sha256  ${sha256Hex(w.newlibTgz)}  newlib-1.16.0.tar.gz`);
    expect(sh(`grep -v '^#' xen.hash | sed 's/^sha256  //' | sha256sum -c`, d)).toMatch(
      /seabios-rel-1\.17\.0\.tar\.gz: OK/,
    );
  });

  it('errors: unknown format, missing --out, unknown --without, nothing in the cache', async () => {
    const bad = await w.cli(dir, ['export', '--format', 'arch', '--out', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('debian, fedora, yocto, buildroot');
    expect((await w.cli(dir, ['export', '--format', 'yocto'])).code).not.toBe(0);
    expect((await w.cli(dir, ['export', '--format', 'yocto', '--out', 'y.inc', '--without', 'nope'])).code).toBe(2);
    const empty = await w.tmp.make('xenrel-empty-');
    const d = await w.tmp.make();
    const r = await (await import('../helpers/in-process.js')).runInProcess(
      ['export', '--format', 'fedora', '--out', join(d, 'sources'), '--cache', empty],
      {
        cwd: dir,
        env: w.env,
      },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not in the cache|xenrel fetch/);
    expect(await readdir(d)).not.toContain('sources');
  });
});
