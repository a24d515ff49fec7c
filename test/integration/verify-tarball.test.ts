import { describe, it, expect, afterAll } from 'vitest';
import { mkdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { tempDirs } from '../helpers/tmp.js';
import { run } from '../helpers/netns.js';
import { rawTar, file, dir, symlink } from '../helpers/raw-tar.js';
import { entriesFromDir, bufferEntry } from '../../src/archive/entries.js';
import { writeArchive } from '../../src/archive/write-archive.js';
import { hashDir } from '../../src/tree/walk.js';
import { manifestLine } from '../../src/tree/hash.js';
import { verifyTarball, verifyDir } from '../../src/verify/verify.js';
import { expectationsFromLock } from '../../src/verify/expectations.js';
import { RELEASE_INFO, type ReleaseInfo } from '../../src/layout/release-info.js';
import type { Lockfile } from '../../src/model/lock.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const TOP = 'xen-4.22.0';
const sri512 = (b: Buffer | string) => `sha512-${createHash('sha512').update(b).digest('base64')}`;

async function put(root: string, rel: string, data: string | Buffer) {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), data);
}

/** A vendored tree as `vendor` lays it out: store, lock copy, per-component manifests. */
async function vendoredTree(opts: { without?: boolean } = {}) {
  const root = await tmp.make('xenrel-vtree-');
  await put(root, 'Makefile', 'all:\n\ttrue\n');
  await put(root, 'xen/common/sched.c', 'int x;\n');
  const seabios = join(root, '.xenrel/sources/seabios');
  await put(seabios, 'Makefile', 'seabios\n');
  await put(seabios, 'src/post.c', 'post\n');
  await put(seabios, 'src/boot.c', 'boot\n');
  const newlib = Buffer.from('not really a tarball, just bytes');
  await put(root, '.xenrel/sources/newlib/newlib-1.16.0.tar.gz', newlib);
  const sb = await hashDir(seabios);
  await put(root, '.xenrel/manifests/seabios.tree', sb.entries.map(manifestLine).join(''));
  const lock: Lockfile = {
    lockfileVersion: 1,
    name: 'xen',
    components: {
      seabios: {
        git: 'https://example.invalid/seabios.git',
        ref: 'rel-1.17.0',
        commit: 'a'.repeat(40),
        tree: sb.hash,
        path: 'tools/firmware/seabios-dir-remote',
      },
      newlib: {
        url: 'https://example.invalid/newlib-1.16.0.tar.gz',
        integrity: sri512(newlib),
        size: newlib.length,
        path: 'stubdom/newlib-1.16.0.tar.gz',
      },
      ...(opts.without
        ? {
            'qemu-xen': {
              git: 'https://example.invalid/qemu.git',
              ref: 'x',
              commit: 'b'.repeat(40),
              tree: `sha256-${'A'.repeat(43)}=`,
              path: 'tools/qemu-xen-dir-remote',
            },
          }
        : {}),
    },
  };
  await put(root, '.xenrel/xenrel.lock', `${JSON.stringify(lock, null, 2)}\n`);
  if (opts.without) await put(root, '.xenrel/WITHOUT', 'qemu-xen\t--with-system-qemu\tuse your distribution qemu\n');
  return { root, lock, seabiosTree: sb.hash };
}

async function release(root: string, lock: Lockfile, out: string) {
  const whole = await hashDir(root);
  const info: ReleaseInfo = {
    releaseInfoVersion: 1,
    name: TOP,
    xenrel: '0.1.0',
    compression: 'gz',
    tree: whole.hash,
    components: Object.fromEntries(
      Object.entries(expectationsFromLock(lock).components).map(([n, c]) => [
        n,
        { path: c.prefix, tree: c.tree, integrity: c.integrity },
      ]),
    ),
  };
  const entries = [...(await entriesFromDir(root)), bufferEntry(RELEASE_INFO, `${JSON.stringify(info, null, 2)}\n`)];
  await writeArchive(entries, { out, format: 'gz', topDir: TOP, mtime: 1_700_000_000 });
  return out;
}

describe('verifyTarball', () => {
  it('accepts an untouched release using the release.json and lock inside it', async () => {
    const { root, lock } = await vendoredTree();
    const tarball = await release(root, lock, join(await tmp.make(), `${TOP}.tar.gz`));
    const r = await verifyTarball(tarball, { expectedTopDir: TOP });
    expect(r.ok).toBe(true);
    expect(r.expectations).toBe('release.json');
    expect(r.tree.ok).toBe(true);
    expect(r.components.map((c) => [c.name, c.status])).toEqual([
      ['newlib', 'ok'],
      ['seabios', 'ok'],
    ]);
    expect(r.unsafe).toEqual([]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    // the same with only the lock (no release.json): component checks still run
    const onlyLock = await verifyTarball(tarball, { expect: expectationsFromLock(lock) });
    expect(onlyLock.ok).toBe(true);
    expect(onlyLock.expectations).toBe('given');
  });

  it('names modified, missing and extra files under their component', async () => {
    const { root, lock } = await vendoredTree();
    const good = await release(root, lock, join(await tmp.make(), 'good.tar.gz'));
    const goodInfo = await verifyTarball(good);
    const seabios = join(root, '.xenrel/sources/seabios');
    await appendFile(join(seabios, 'src/post.c'), 'evil\n');
    await rm(join(seabios, 'src/boot.c'));
    await writeFile(join(seabios, 'src/backdoor.c'), 'x\n');
    await appendFile(join(root, '.xenrel/sources/newlib/newlib-1.16.0.tar.gz'), 'x');
    // the tampered tarball carries the ORIGINAL release.json (the attacker did not update it)
    const bad = await releaseWithInfoOf(good, root);
    const r = await verifyTarball(bad);
    expect(r.ok).toBe(false);
    const sb = r.components.find((c) => c.name === 'seabios')!;
    expect(sb.status).toBe('modified');
    expect(sb.modified).toEqual(['.xenrel/sources/seabios/src/post.c']);
    expect(sb.missing).toEqual(['.xenrel/sources/seabios/src/boot.c']);
    expect(sb.extra).toEqual(['.xenrel/sources/seabios/src/backdoor.c']);
    const nl = r.components.find((c) => c.name === 'newlib')!;
    expect(nl.status).toBe('modified');
    expect(nl.modified).toEqual(['.xenrel/sources/newlib/newlib-1.16.0.tar.gz']);
    expect(r.tree.ok).toBe(false);
    expect(goodInfo.tree.actual).not.toBe(r.tree.actual);
  });

  it('an attacker who also rewrote the manifest gets no per-file cover: still modified, detail withheld', async () => {
    const { root, lock } = await vendoredTree();
    const seabios = join(root, '.xenrel/sources/seabios');
    await appendFile(join(seabios, 'src/post.c'), 'evil\n');
    const forged = await hashDir(seabios);
    await writeFile(join(root, '.xenrel/manifests/seabios.tree'), forged.entries.map(manifestLine).join(''));
    const tarball = join(await tmp.make(), 'x.tar.gz');
    const entries = await entriesFromDir(root);
    await writeArchive(entries, { out: tarball, format: 'gz', topDir: TOP, mtime: 0 });
    const r = await verifyTarball(tarball, { expect: expectationsFromLock(lock) }); // the trusted lock from elsewhere
    const sb = r.components.find((c) => c.name === 'seabios')!;
    expect(sb.status).toBe('modified');
    expect(sb.modified).toEqual([]);
    expect(sb.note).toMatch(/does not match the expected tree hash/);
    expect(r.ok).toBe(false);
  });

  it('reports a missing component, and accepts one left out on purpose', async () => {
    const { root } = await vendoredTree({ without: true });
    const tarball = join(await tmp.make(), 'x.tar.gz');
    await writeArchive(await entriesFromDir(root), { out: tarball, format: 'gz', topDir: TOP, mtime: 0 });
    const r = await verifyTarball(tarball);
    expect(r.expectations).toBe('lock');
    expect(r.components.find((c) => c.name === 'qemu-xen')!.status).toBe('without');
    expect(r.ok).toBe(true);
    await rm(join(root, '.xenrel/WITHOUT'));
    await rm(join(root, '.xenrel/sources/seabios'), { recursive: true });
    await writeArchive(await entriesFromDir(root), { out: tarball, format: 'gz', topDir: TOP, mtime: 0 });
    const r2 = await verifyTarball(tarball);
    expect(r2.components.find((c) => c.name === 'qemu-xen')!.status).toBe('missing');
    expect(r2.components.find((c) => c.name === 'seabios')!.status).toBe('missing');
    expect(r2.ok).toBe(false);
  });

  it('reports unsafe entries by name and never fails silently on a broken archive', async () => {
    const d = await tmp.make();
    const bad = join(d, 'bad.tar');
    await writeFile(
      bad,
      rawTar([dir(`${TOP}/`), file(`${TOP}/ok`), symlink(`${TOP}/etc`, '/etc'), file(`${TOP}/a/../../evil`)]),
    );
    const r = await verifyTarball(bad);
    expect(r.ok).toBe(false);
    expect(r.unsafe.map((f) => [f.code, f.path]).sort()).toEqual([
      ['E_TAR_LINK_ESCAPE', `${TOP}/etc`],
      ['E_TAR_TRAVERSAL', `${TOP}/a/../../evil`],
    ]);
    const two = join(d, 'two.tar');
    await writeFile(two, rawTar([file('a/x'), file('b/y')]));
    const r2 = await verifyTarball(two);
    expect(r2.ok).toBe(false);
    expect(r2.problems[0]).toMatch(/more than one top directory: a, b/);
    const cut = join(d, 'cut.tar');
    await writeFile(cut, rawTar([file(`${TOP}/x`, 'y'.repeat(2000))]).subarray(0, 1024));
    const r3 = await verifyTarball(cut);
    expect(r3.ok).toBe(false);
    expect(r3.unsafe[0]!.code).toBe('E_TAR_TRUNCATED');
  });

  it('a file that is no archive at all is said to be none, as GNU tar says', async () => {
    const d = await tmp.make();
    const text = join(d, 'notes.txt');
    await writeFile(text, `${'a line of text, not a tar header\n'.repeat(40)}`);
    const tiny = join(d, 'hello');
    await writeFile(tiny, 'hello');
    for (const f of [text, tiny]) {
      const gnu = await run('tar', ['-tf', f], { cwd: d });
      expect(gnu.code).not.toBe(0);
      expect(gnu.stderr).toContain('does not look like a tar archive');
      const r = await verifyTarball(f);
      expect(r.ok).toBe(false);
      expect(r.unsafe[0]!.message).toMatch(/not a tar archive/);
    }
    // A real archive cut inside its second header keeps the precise message.
    const cut = join(d, 'cut.tar');
    await writeFile(cut, rawTar([file(`${TOP}/a`, 'x'), file(`${TOP}/b`, 'y')]).subarray(0, 1024 + 100));
    const r = await verifyTarball(cut);
    expect(r.unsafe[0]!.message).toContain('the archive ends inside a header');
  });
});

/** Re-packs `root` with the release.json of an earlier, untampered tarball. */
async function releaseWithInfoOf(good: string, root: string): Promise<string> {
  const { readTar } = await import('../../src/archive/reader.js');
  let info = '';
  await readTar(good, {
    onEntry: (e) => {
      if (e.path === `${TOP}/${RELEASE_INFO}`) return { write: (c) => void (info += Buffer.from(c).toString('utf8')) };
    },
  });
  const out = join(dirname(good), 'bad.tar.gz');
  await writeArchive([...(await entriesFromDir(root)), bufferEntry(RELEASE_INFO, info)], {
    out,
    format: 'gz',
    topDir: TOP,
    mtime: 0,
  });
  return out;
}

describe('verifyDir', () => {
  it('verifies a vendored tree and names an edited file', async () => {
    const { root } = await vendoredTree();
    const ok = await verifyDir(root);
    expect(ok.ok).toBe(true);
    expect(ok.expectations).toBe('lock');
    await writeFile(join(root, '.xenrel/sources/seabios/Makefile'), 'changed\n');
    const r = await verifyDir(root);
    expect(r.ok).toBe(false);
    expect(r.components.find((c) => c.name === 'seabios')!.modified).toEqual(['.xenrel/sources/seabios/Makefile']);
    await (await import('node:fs/promises')).symlink('/etc/passwd', join(root, 'xen/evil'));
    const r2 = await verifyDir(root);
    expect(r2.unsafe.map((f) => f.path)).toEqual(['xen/evil']);
  });

  it("after a build: Xen's absolute header links into the tree are build products, not escaping links", async () => {
    const { root } = await vendoredTree();
    // What tools/include/Makefile does, run by real make and ln (XEN_ROOT is absolute).
    await put(root, 'xen/include/public/xen.h', '/* public */\n');
    await put(root, 'xen/include/public/io/ring.h', '/* ring */\n');
    await put(
      root,
      'tools/include/Makefile',
      'XEN_ROOT = $(CURDIR)/../..\nall:\n\tmkdir -p xen\n\tln -s $(XEN_ROOT)/xen/include/public/*.h xen/\n\tln -s $(XEN_ROOT)/xen/include/public/*/ xen/\n\tln -s /etc/passwd xen/evil\n\tln -s $(XEN_ROOT)/../outside xen/up\n',
    );
    const m = await run('make', ['-s', '-C', 'tools/include'], { cwd: root });
    expect(m.code, m.stderr).toBe(0);
    const r = await verifyDir(root);
    expect(r.buildProducts).toEqual(['tools/include/xen/io', 'tools/include/xen/xen.h']);
    // Still unsafe: a link out of the tree, whether plainly absolute or through ..
    expect(r.unsafe.map((f) => f.path)).toEqual(['tools/include/xen/evil', 'tools/include/xen/up']);
    expect(r.components.every((c) => c.status === 'ok')).toBe(true);
  });
});
