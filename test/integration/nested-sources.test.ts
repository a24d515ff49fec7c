/**
 * Nested sources (git submodules, recursively; meson wrap-git and wrap-file), patches and
 * local components, through lock → fetch → vendor → vendor --check → lock --check, with
 * real git repositories, a loopback HTTP server for the wrap-file archive, GNU patch, and
 * a fixture `configure` that fails when a subproject is missing — run offline in a network
 * namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { canUnshareNet, run } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { Cache } from '../../src/content-cache/cache.js';
import { loadConfig } from '../../src/config/load.js';
import { checkLock, lockProject } from '../../src/lock/resolve.js';
import { fetchAll } from '../../src/fetch/fetch-all.js';
import { lockGit } from '../../src/sources/git/source.js';
import { exportTree } from '../../src/sources/git/tree.js';
import { ensureCommit } from '../../src/sources/git/mirror.js';
import { vendor, vendorCheck } from '../../src/vendoring/vendor.js';
import { hashDir } from '../../src/tree/walk.js';
import { parseLockText, serializeLock } from '../../src/lock/lockfile.js';
import { XenrelError } from '../../src/errors.js';
import type { LockedGit, Lockfile } from '../../src/model/lock.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { makeTarball } from '../helpers/make-tarball.js';
import { gitMirrorPath } from '../../src/layout/mirror.js';

const tmp = tempDirs();
let fx: GitFixtures;
let server: TestHttpServer;
let deep: TestRepo, openssl: TestRepo, edk2: TestRepo, dtc: TestRepo, softfloat: TestRepo, qemu: TestRepo;
let dtcCommit: string;
let anyhowTgz: Buffer;

/** A tar.gz made by GNU tar (fixed metadata) from files written here. */
/** QEMU-like configure: every subproject the wraps name must be a folder with meson.build. */
const CONFIGURE = `#!/bin/sh
# fixture: what meson does with --wrap-mode=nodownload (QEMU's --disable-download)
cd "$(dirname "$0")"
for w in subprojects/*.wrap; do
  d=$(sed -n 's/^directory *= *//p' "$w")
  [ -n "$d" ] || d=$(basename "$w" .wrap)
  if [ ! -f "subprojects/$d/meson.build" ]; then
    echo "configure: subproject $d is missing and downloads are disabled" >&2
    exit 1
  fi
done
echo "configure: all subprojects present"
`;

beforeAll(async () => {
  fx = await GitFixtures.create();
  // edk2-like: a submodule (openssl) that has its own submodule (deep).
  deep = await fx.repo('deep', { files: { 'deep.txt': 'deepest\n' } });
  await deep.commit('deep');
  openssl = await fx.repo('openssl', { files: { 'crypto.c': 'int crypto;\n' } });
  await openssl.addSubmodule('krb5', deep, { url: '../deep' }); // relative URL, resolved against openssl's
  await openssl.commit('openssl with krb5');
  edk2 = await fx.repo('edk2', {
    files: { 'OvmfPkg/build.sh': { content: '#!/bin/sh\necho ovmf\n', exec: true }, Makefile: 'all:\n' },
  });
  await edk2.addSubmodule('CryptoPkg/Library/OpensslLib/openssl', openssl);
  await edk2.commit('edk2 with openssl');

  // qemu-like: wrap-git by commit, wrap-git by tag with patch_directory, wrap-file over HTTP.
  dtc = await fx.repo('dtc', { files: { 'meson.build': "project('dtc')\n", 'libfdt/fdt.c': 'int fdt;\n' } });
  dtcCommit = await dtc.commit('dtc');
  softfloat = await fx.repo('softfloat', { files: { 'source/f32.c': 'float f;\n' } });
  await softfloat.commit('softfloat 1');
  await softfloat.tag('v3e');
  anyhowTgz = await makeTarball('anyhow-1.0.98', {
    'meson.build': "project('anyhow')\n",
    'src/lib.rs': 'pub fn x() {}\n',
  });
  server = await startHttpServer({ files: { '/crates/anyhow-1.0.98.tar.gz': anyhowTgz } });
  const sha = createHash('sha256').update(anyhowTgz).digest('hex');
  qemu = await fx.repo('qemu', {
    files: {
      configure: { content: CONFIGURE, exec: true },
      'hw/xen.c': 'int xen;\n',
      'subprojects/dtc.wrap': `[wrap-git]\nurl = ${dtc.url}\nrevision = ${dtcCommit}\ndepth = 1\n`,
      'subprojects/berkeley-softfloat-3.wrap': `[wrap-git]\nurl = ${softfloat.url}\nrevision = v3e\npatch_directory = berkeley-softfloat-3\n`,
      'subprojects/packagefiles/berkeley-softfloat-3/meson.build': "project('softfloat')\n",
      'subprojects/anyhow-1-rs.wrap': `[wrap-file]\ndirectory = anyhow-1.0.98\nsource_url = ${server.url}/crates/anyhow-1.0.98.tar.gz\nsource_filename = anyhow-1.0.98.tar.gz\nsource_hash = ${sha}\nmethod = cargo\n`,
    },
  });
  await qemu.commit('qemu');
  await qemu.tag('qemu-xen-4.22.0');
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

interface Project {
  root: string;
  cache: Cache;
  loaded: LoadedConfig;
}

async function project(extra = '', files: Record<string, string> = {}): Promise<Project> {
  const root = await tmp.make('xenrel-nested-');
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), c);
  }
  await writeFile(
    join(root, 'xenrel.config.yaml'),
    `version: 1
name: xen
components:
  ovmf:
    git: ${edk2.url}
    ref: main
    path: tools/firmware/ovmf-dir-remote
  qemu-xen:
    git: ${qemu.url}
    ref: qemu-xen-4.22.0
    path: tools/qemu-xen
${extra}`,
  );
  const cache = new Cache(await tmp.make('xenrel-cache-'));
  return { root, cache, loaded: await loadConfig({ cwd: root }) };
}

async function lockOf(p: Project, existing?: Lockfile): Promise<Lockfile> {
  return (await lockProject({ loaded: p.loaded, cache: p.cache, existing })).lock;
}

async function rejects(fn: () => Promise<unknown>): Promise<XenrelError> {
  try {
    await fn();
  } catch (err) {
    return err as XenrelError;
  }
  throw new Error('expected an error');
}

describe('nested sources in the lock', () => {
  let p: Project;
  let lock: Lockfile;
  beforeAll(async () => {
    p = await project();
    lock = await lockOf(p);
  });

  it('records recursive submodules with their gitlink commits and own trees', async () => {
    const ovmf = lock.components.ovmf as LockedGit;
    expect(Object.keys(ovmf.children!)).toEqual([
      'CryptoPkg/Library/OpensslLib/openssl',
      'CryptoPkg/Library/OpensslLib/openssl/krb5',
    ]);
    const o = ovmf.children!['CryptoPkg/Library/OpensslLib/openssl']!;
    expect(o).toMatchObject({ kind: 'submodule', git: openssl.url, commit: await openssl.head() });
    const k = ovmf.children!['CryptoPkg/Library/OpensslLib/openssl/krb5']!;
    // The relative URL ../deep was resolved against openssl's URL.
    expect(k).toMatchObject({ kind: 'submodule', git: deep.url, commit: await deep.head() });
    // Each tree is that repository's own content.
    const d = await tmp.make();
    await deep.cloneTo(join(d, 'deep'));
    await rm(join(d, 'deep', '.git'), { recursive: true });
    expect(k.tree).toBe((await hashDir(join(d, 'deep'))).hash);
    // The parent's tree stays its own content (gitlinks excluded): the same as a plain git lock.
    const plain = await lockGit('ovmf', { git: edk2.url, ref: 'main', path: 'x' }, p.cache);
    expect(ovmf.tree).toBe(plain.tree);
    expect(ovmf.vendoredTree).toBeDefined();
    expect(ovmf.vendoredTree).not.toBe(ovmf.tree);
  });

  it('records wrap-git (commit and tag) and wrap-file children', async () => {
    const q = lock.components['qemu-xen'] as LockedGit;
    expect(Object.keys(q.children!)).toEqual([
      'subprojects/anyhow-1.0.98',
      'subprojects/berkeley-softfloat-3',
      'subprojects/dtc',
    ]);
    expect(q.children!['subprojects/dtc']).toMatchObject({
      kind: 'wrap-git',
      git: dtc.url,
      commit: dtcCommit,
      wrap: 'subprojects/dtc.wrap',
    });
    expect(q.children!['subprojects/dtc']).not.toHaveProperty('ref');
    expect(q.children!['subprojects/berkeley-softfloat-3']).toMatchObject({
      kind: 'wrap-git',
      ref: 'v3e',
      commit: await softfloat.head(),
      overlay: 'subprojects/packagefiles/berkeley-softfloat-3',
    });
    const f = q.children!['subprojects/anyhow-1.0.98']!;
    expect(f).toMatchObject({
      kind: 'wrap-file',
      sha256: createHash('sha256').update(anyhowTgz).digest('hex'),
      size: anyhowTgz.length,
    });
    expect(f.kind === 'wrap-file' && f.integrity.startsWith('sha512-')).toBe(true);
    // The child's tree is the archive's content below its top folder.
    const d = await tmp.make();
    execFileSync('tar', ['-C', d, '-xzf', '-'], { input: anyhowTgz });
    expect(f.tree).toBe((await hashDir(join(d, 'anyhow-1.0.98'))).hash);
  });

  it('round-trips through the strict lock schema, and re-locking rewrites nothing', async () => {
    const text = serializeLock(lock);
    expect(serializeLock(parseLockText(text, 'xenrel.lock'))).toBe(text);
    const again = await lockProject({ loaded: p.loaded, cache: p.cache, existing: parseLockText(text, 'xenrel.lock') });
    expect(serializeLock(again.lock)).toBe(text);
    expect(again.changes).toEqual([]);
    // A child with a ".git" path segment is refused by the schema.
    const bad = text.replace('"subprojects/dtc"', '"subprojects/.git"');
    expect(() => parseLockText(bad, 'xenrel.lock')).toThrow(/components\.qemu-xen/);
  });

  it('fetch brings every child into a fresh cache, then works offline; offline on an empty cache names what is missing', async () => {
    const fresh = new Cache(await tmp.make('xenrel-cache-'));
    const err = await rejects(() => fetchAll({ lock, cache: fresh, loaded: p.loaded, offline: true }));
    expect(err.code).toBe('E_OFFLINE_MISSING');
    expect(err.exitCode).toBe(3);
    const first = await fetchAll({ lock, cache: fresh, loaded: p.loaded });
    expect(first.every((o) => o.status === 'fetched')).toBe(true);
    const again = await fetchAll({ lock, cache: fresh, loaded: p.loaded, offline: true });
    expect(again.every((o) => o.status === 'cached')).toBe(true);
    // Every child is in the cache: its mirror holds the commit.
    const q = lock.components['qemu-xen'] as LockedGit;
    const dtcChild = q.children!['subprojects/dtc']!;
    await ensureCommit((dtcChild as { git: string }).git, dtcChild.kind === 'wrap-file' ? '' : dtcChild.commit, fresh, {
      offline: true,
    });
  });

  it('fetch fails when a child tree in the lock was tampered with', async () => {
    const bad: Lockfile = JSON.parse(serializeLock(lock));
    const q = bad.components['qemu-xen'] as LockedGit;
    q.children!['subprojects/dtc']!.tree = (lock.components.ovmf as LockedGit).tree;
    const err = await rejects(() => fetchAll({ lock: bad, cache: p.cache, loaded: p.loaded, offline: true }));
    expect(err.message).toMatch(/qemu-xen\/subprojects\/dtc/);
  });
});

describe('vendor places children; configure works offline', () => {
  let p: Project;
  let lock: Lockfile;
  beforeAll(async () => {
    p = await project();
    lock = await lockOf(p);
    await vendor(lock, p.cache, p.root, { configRoot: p.root });
  });

  it('puts submodules and subprojects inside their parent, with no .git anywhere', async () => {
    const ovmf = join(p.root, '.xenrel/sources/ovmf');
    expect(await readFile(join(ovmf, 'CryptoPkg/Library/OpensslLib/openssl/crypto.c'), 'utf8')).toBe('int crypto;\n');
    expect(await readFile(join(ovmf, 'CryptoPkg/Library/OpensslLib/openssl/krb5/deep.txt'), 'utf8')).toBe('deepest\n');
    const out = execFileSync('find', [p.root, '-name', '.git']).toString();
    expect(out).toBe('');
    const q = join(p.root, 'tools/qemu-xen/subprojects');
    expect(await readFile(join(q, 'dtc/libfdt/fdt.c'), 'utf8')).toBe('int fdt;\n');
    // patch_directory copied over the wrap-git child, as meson does after a download.
    expect(await readFile(join(q, 'berkeley-softfloat-3/meson.build'), 'utf8')).toBe("project('softfloat')\n");
    expect(await readFile(join(q, 'anyhow-1.0.98/src/lib.rs'), 'utf8')).toBe('pub fn x() {}\n');
    // The store matches vendoredTree; the lock's tree is still the parent's own content.
    const q2 = lock.components['qemu-xen'] as LockedGit;
    expect((await hashDir(join(p.root, '.xenrel/sources/qemu-xen'))).hash).toBe(q2.vendoredTree);
  });

  it.runIf(canUnshareNet())(
    'the fixture configure passes offline with the vendored subprojects, and fails without them',
    async () => {
      const ok = await run('sh', ['tools/qemu-xen/configure'], { cwd: p.root, netns: true });
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      // The bare upstream export (what a download-less build without xenrel has) fails.
      const bare = await tmp.make();
      const { mirrorDir } = await ensureCommit(qemu.url, (lock.components['qemu-xen'] as LockedGit).commit, p.cache, {
        offline: true,
      });
      await exportTree(mirrorDir, (lock.components['qemu-xen'] as LockedGit).commit, join(bare, 'q'));
      const fail = await run('sh', [join(bare, 'q/configure')], { cwd: bare, netns: true });
      expect(fail.code).toBe(1);
      expect(fail.stderr).toMatch(/subproject .* is missing/);
    },
  );

  it('vendor --check passes, then names an edit inside a child', async () => {
    expect((await vendorCheck(lock, p.root)).ok).toBe(true);
    await appendFile(join(p.root, '.xenrel/sources/ovmf/CryptoPkg/Library/OpensslLib/openssl/krb5/deep.txt'), 'edit\n');
    await rm(join(p.root, 'tools/qemu-xen/subprojects/dtc/libfdt/fdt.c'));
    const r = await vendorCheck(lock, p.root);
    expect(r.ok).toBe(false);
    const ovmf = r.findings.find((f) => f.name === 'ovmf' && f.where.startsWith('.xenrel'));
    expect(ovmf?.diff?.modified).toContain('CryptoPkg/Library/OpensslLib/openssl/krb5/deep.txt');
    const q = r.findings.find((f) => f.name === 'qemu-xen' && f.where === 'tools/qemu-xen');
    expect(q?.diff?.missing).toContain('subprojects/dtc/libfdt/fdt.c');
    // vendor restores both.
    await vendor(lock, p.cache, p.root, { configRoot: p.root });
    expect((await vendorCheck(lock, p.root)).ok).toBe(true);
  });
});

describe('lock --check covers children', () => {
  it('reports a moved wrap-git tag as drift of that child, and nothing when nothing moved', async () => {
    const p = await project();
    const lock = await lockOf(p);
    expect(await checkLock({ loaded: p.loaded, cache: p.cache, existing: lock })).toEqual([]);
    const sf2 = await softfloat.commit('softfloat 2', { 'source/f64.c': 'double d;\n' });
    await softfloat.moveTag('v3e', sf2);
    try {
      const changes = await checkLock({ loaded: p.loaded, cache: p.cache, existing: lock });
      expect(changes).toHaveLength(1);
      expect(changes[0]!.name).toBe('qemu-xen');
      expect(changes[0]!.fields.map((f) => f.field)).toEqual(['children[subprojects/berkeley-softfloat-3]']);
      expect(changes[0]!.reason).toMatch(/"v3e" now points to/);
    } finally {
      await softfloat.moveTag(
        'v3e',
        (lock.components['qemu-xen'] as LockedGit).children!['subprojects/berkeley-softfloat-3']!.kind === 'wrap-git'
          ? (
              (lock.components['qemu-xen'] as LockedGit).children!['subprojects/berkeley-softfloat-3'] as {
                commit: string;
              }
            ).commit
          : '',
      );
    }
  });
});

const PATCH_OK = `--- a/hw/xen.c
+++ b/hw/xen.c
@@ -1 +1,2 @@
 int xen;
+int xen_patched;
`;
const PATCH_SUB = `--- a/subprojects/dtc/libfdt/fdt.c
+++ b/subprojects/dtc/libfdt/fdt.c
@@ -1 +1 @@
-int fdt;
+int fdt_fixed;
`;
const PATCH_BAD = `--- a/hw/xen.c
+++ b/hw/xen.c
@@ -1 +1 @@
-int not_there;
+int nope;
`;

describe('patches', () => {
  const withPatches = (list: string[]) => `    patches:\n${list.map((f) => `      - ${f}`).join('\n')}\n`;

  it('applies in order at vendor time (also inside a child); the lock keeps tree and vendoredTree, each patch with its integrity', async () => {
    const p = await project('', { 'patches/01-xen.patch': PATCH_OK, 'patches/02-dtc.patch': PATCH_SUB });
    await appendFile(join(p.root, 'xenrel.config.yaml'), withPatches(['patches/01-xen.patch', 'patches/02-dtc.patch']));
    p.loaded = await loadConfig({ cwd: p.root });
    const lock = await lockOf(p);
    const q = lock.components['qemu-xen'] as LockedGit;
    expect(q.patches!.map((x) => x.file)).toEqual(['patches/01-xen.patch', 'patches/02-dtc.patch']);
    expect(q.patches![0]!.integrity).toMatch(/^sha512-/);
    const unpatched = await lockOf(await project());
    expect(q.tree).toBe((unpatched.components['qemu-xen'] as LockedGit).tree);
    expect(q.vendoredTree).not.toBe((unpatched.components['qemu-xen'] as LockedGit).vendoredTree);
    await vendor(lock, p.cache, p.root, { configRoot: p.root });
    expect(await readFile(join(p.root, 'tools/qemu-xen/hw/xen.c'), 'utf8')).toBe('int xen;\nint xen_patched;\n');
    expect(await readFile(join(p.root, 'tools/qemu-xen/subprojects/dtc/libfdt/fdt.c'), 'utf8')).toBe(
      'int fdt_fixed;\n',
    );
    expect(execFileSync('find', [p.root, '-name', '*.orig', '-o', '-name', '*.rej']).toString()).toBe('');
    expect((await vendorCheck(lock, p.root)).ok).toBe(true);

    // Editing a patch file is drift for lock --check, and vendor refuses the stale lock.
    await appendFile(join(p.root, 'patches/01-xen.patch'), '\n');
    const changes = await checkLock({ loaded: p.loaded, cache: p.cache, existing: lock });
    expect(changes.map((c) => [c.name, c.fields.map((f) => f.field)])).toEqual([
      ['qemu-xen', ['patches[patches/01-xen.patch]']],
    ]);
    expect(changes[0]!.reason).toMatch(/patch patches\/01-xen\.patch changed/);
    await rm(join(p.root, '.xenrel/sources/qemu-xen'), { recursive: true });
    const err = await rejects(() => vendor(lock, p.cache, p.root, { configRoot: p.root }));
    expect(err.code).toBe('E_PATCH_CHANGED');
    // Re-locking picks the new bytes up.
    const relocked = (await lockProject({ loaded: p.loaded, cache: p.cache, existing: lock })).lock;
    expect((relocked.components['qemu-xen'] as LockedGit).patches![0]!.integrity).not.toBe(q.patches![0]!.integrity);
  });

  it('a patch that does not apply: lock fails with exit 2 naming patch and component; vendor leaves the store as it was', async () => {
    const p = await project('', { 'patches/bad.patch': PATCH_BAD, 'patches/ok.patch': PATCH_OK });
    const good = await lockOf(p);
    await vendor(good, p.cache, p.root, { configRoot: p.root });
    const before = (await hashDir(join(p.root, '.xenrel/sources/qemu-xen'))).hash;

    await appendFile(join(p.root, 'xenrel.config.yaml'), withPatches(['patches/ok.patch', 'patches/bad.patch']));
    p.loaded = await loadConfig({ cwd: p.root });
    const err = await rejects(() => lockOf(p, good));
    expect(err.code).toBe('E_PATCH_FAILED');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/component qemu-xen: patch 2 of 2, patches\/bad\.patch, does not apply/);

    // A lock that names the bad patch (hand-made): vendor fails the same way and changes nothing.
    const { integrity } = { integrity: `sha512-${createHash('sha512').update(PATCH_BAD).digest('base64')}` };
    const forced: Lockfile = JSON.parse(serializeLock(good));
    const fq = forced.components['qemu-xen'] as LockedGit;
    fq.patches = [{ file: 'patches/bad.patch', integrity }];
    fq.vendoredTree = fq.tree;
    const verr = await rejects(() => vendor(forced, p.cache, p.root, { configRoot: p.root }));
    expect(verr.code).toBe('E_PATCH_FAILED');
    expect((await hashDir(join(p.root, '.xenrel/sources/qemu-xen'))).hash).toBe(before);
    expect((await readdir(join(p.root, '.xenrel/sources'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('patches on a tarball component are a config error', async () => {
    const p = await project(
      `  newlib:\n    url: ${server.url}/crates/anyhow-1.0.98.tar.gz\n    path: stubdom/newlib.tar.gz\n    patches: [patches/ok.patch]\n`,
      {
        'patches/ok.patch': PATCH_OK,
      },
    );
    const err = await rejects(() => lockOf(p));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/component newlib: patches apply to folder components/);
  });
});

describe('local components', () => {
  it('a prebuilt file and a directory (patched) are placed at their paths, verified', async () => {
    const p = await project(
      `  seabios:\n    local: prebuilt/bios.bin\n    path: tools/firmware/seabios-dir-remote/out/bios.bin\n  vtpm-lib:\n    local: prebuilt/lib\n    path: stubdom/prebuilt-lib\n    patches: [patches/lib.patch]\n`,
      {
        'prebuilt/bios.bin': 'BIOS\0binary\n',
        'prebuilt/lib/include/tpm.h': '#define TPM 1\n',
        'patches/lib.patch': '--- a/include/tpm.h\n+++ b/include/tpm.h\n@@ -1 +1 @@\n-#define TPM 1\n+#define TPM 2\n',
      },
    );
    const lock = await lockOf(p);
    expect(lock.components.seabios).toMatchObject({ local: 'prebuilt/bios.bin' });
    expect((lock.components.seabios as { integrity?: string }).integrity).toMatch(/^sha512-/);
    expect(lock.components['vtpm-lib']).toMatchObject({
      local: 'prebuilt/lib',
      patches: [{ file: 'patches/lib.patch' }],
    });
    await vendor(lock, p.cache, p.root, { configRoot: p.root });
    expect(await readFile(join(p.root, 'tools/firmware/seabios-dir-remote/out/bios.bin'), 'utf8')).toBe(
      'BIOS\0binary\n',
    );
    expect(await readFile(join(p.root, 'stubdom/prebuilt-lib/include/tpm.h'), 'utf8')).toBe('#define TPM 2\n');
    // The prebuilt input itself is untouched.
    expect(await readFile(join(p.root, 'prebuilt/lib/include/tpm.h'), 'utf8')).toBe('#define TPM 1\n');
    expect((await vendorCheck(lock, p.root)).ok).toBe(true);
    // A changed prebuilt file: lock --check reports it, vendor refuses to place it.
    await writeFile(join(p.root, 'prebuilt/bios.bin'), 'other\n');
    const changes = await checkLock({ loaded: p.loaded, cache: p.cache, existing: lock });
    expect(changes.map((c) => c.name)).toEqual(['seabios']);
    await rm(join(p.root, '.xenrel/sources/seabios'), { recursive: true });
    const err = await rejects(() => vendor(lock, p.cache, p.root, { configRoot: p.root }));
    expect(err.code).toBe('E_LOCAL_CHANGED');
    expect(await stat(join(p.root, 'tools/firmware/seabios-dir-remote/out/bios.bin')).then(() => true)).toBe(true);
  });
});

describe('nested sources come from the mirrors: lock needs no upstream the mirror holds', () => {
  it('a submodule and a wrap-git tag whose hosts do not resolve are locked from the mirror, then vendored', async () => {
    // Upstream URLs on a host that cannot resolve (RFC 6761 .invalid): only the mirror has them.
    const libUrl = 'https://github.invalid/example/sublib.git';
    const wrapUrl = 'https://gitlab.invalid/example/keymap.git';
    const sublib = await fx.repo('sublib', { files: { 'lib.c': 'int sublib;\n' } });
    const subCommit = await sublib.commit('sublib');
    const keymap = await fx.repo('keymap', { files: { 'meson.build': "project('keymap')\n" } });
    const keyCommit = await keymap.commit('keymap');
    await keymap.tag('v1.0', { annotated: true });
    const parent = await fx.repo('fw', {
      files: { README: 'fw\n', 'subprojects/keymap.wrap': `[wrap-git]\nurl = ${wrapUrl}\nrevision = v1.0\n` },
    });
    await parent.addSubmodule('lib/sublib', sublib, { url: libUrl });
    await parent.commit('fw with a submodule and a wrap');

    // The layout `xenrel mirror` writes: <mirror>/git/<name>.git, bare.
    const mirror = await tmp.make('xenrel-mirror-');
    for (const [repo, url] of [
      [sublib, libUrl],
      [keymap, wrapUrl],
    ] as const)
      execFileSync('git', ['clone', '--quiet', '--mirror', repo.dir, join(mirror, gitMirrorPath(url))], {
        env: fx.env,
      });

    const root = await tmp.make('xenrel-nested-mirror-');
    await writeFile(
      join(root, 'xenrel.config.yaml'),
      `version: 1\nname: xen\nmirrors: [file://${mirror}]\ncomponents:\n  ovmf:\n    git: ${parent.url}\n    ref: main\n    path: tools/firmware/ovmf-dir-remote\n`,
    );
    const cache = new Cache(await tmp.make('xenrel-cache-'));
    const { lock: l, warnings } = await lockProject({ loaded: await loadConfig({ cwd: root }), cache });
    const children = (l.components.ovmf as LockedGit).children!;
    expect(children['lib/sublib']).toMatchObject({ kind: 'submodule', git: libUrl, commit: subCommit });
    expect(children['subprojects/keymap']).toMatchObject({
      kind: 'wrap-git',
      git: wrapUrl,
      ref: 'v1.0',
      commit: keyCommit,
    });
    expect(warnings.some((w) => w.includes(`"v1.0" of ${wrapUrl} resolved from the mirror file://${mirror}/`))).toBe(
      true,
    );

    // What the mirror served is the children's own content, placed by vendor.
    const tree = await tmp.make('xenrel-tree-');
    await vendor(l, cache, tree);
    expect(await readFile(join(tree, 'tools/firmware/ovmf-dir-remote/lib/sublib/lib.c'), 'utf8')).toBe('int sublib;\n');
    expect(await readFile(join(tree, 'tools/firmware/ovmf-dir-remote/subprojects/keymap/meson.build'), 'utf8')).toBe(
      "project('keymap')\n",
    );

    // Without the mirror, the same lock has to reach the hosts, and cannot.
    await writeFile(
      join(root, 'xenrel.config.yaml'),
      (await readFile(join(root, 'xenrel.config.yaml'), 'utf8')).replace(/mirrors: \[.*\]/, 'mirrors: []'),
    );
    const loadedNoMirror = await loadConfig({ cwd: root });
    const err = await rejects(() =>
      lockProject({ loaded: loadedNoMirror, cache: new Cache(join(root, 'empty-cache')) }),
    );
    expect(err).toBeInstanceOf(XenrelError);
    expect(err.message).toMatch(/github\.invalid|gitlab\.invalid/);
  });
});
