/**
 * `make -C .xenrel pvgrub2` with a fixture GRUB release tarball whose configure, make and
 * grub-mkimage record their arguments and write fake images — run offline in a network
 * namespace after `vendor`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { canUnshareNet, make } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { Cache } from '../../src/content-cache/cache.js';
import { loadConfig } from '../../src/config/load.js';
import { lockProject } from '../../src/lock/resolve.js';
import { clean, vendor } from '../../src/vendoring/vendor.js';
import type { Lockfile } from '../../src/model/lock.js';

const tmp = tempDirs();
let server: TestHttpServer;

const CONFIGURE = `#!/bin/sh
# fixture GRUB configure: records its arguments, writes a Makefile for the build folder
src=$(cd "$(dirname "$0")" && pwd)
echo "configure $*" >>"$PVGRUB2_LOG"
[ -f "$src/grub-core/extra_deps.lst" ] || { echo "configure: grub-core/extra_deps.lst missing" >&2; exit 1; }
target= platform=
for a; do
  case $a in
    --target=*) target=\${a#--target=} ;;
    --with-platform=*) platform=\${a#--with-platform=} ;;
  esac
done
printf 'all:\\n\\techo "make %s-%s" >>"$$PVGRUB2_LOG"\\n\\tmkdir -p grub-core\\n\\tcp %s/fake-mkimage grub-mkimage\\n' "$target" "$platform" "$src" >Makefile
`;

const MKIMAGE = `#!/bin/sh
# fixture grub-mkimage: records its arguments, writes "<format> image" to -o
echo "grub-mkimage $*" >>"$PVGRUB2_LOG"
out= fmt=
while [ $# -gt 0 ]; do
  case $1 in
    -o) out=$2; shift ;;
    -O) fmt=$2; shift ;;
  esac
  shift
done
[ -d grub-core ] || { echo "no grub-core" >&2; exit 1; }
echo "$fmt image" >"$out"
`;

async function grubTarball(): Promise<Buffer> {
  const d = await tmp.make();
  const top = join(d, 'grub-2.12');
  await mkdir(join(top, 'grub-core'), { recursive: true });
  await writeFile(join(top, 'configure'), CONFIGURE);
  await writeFile(join(top, 'fake-mkimage'), MKIMAGE);
  await chmod(join(top, 'configure'), 0o755);
  await chmod(join(top, 'fake-mkimage'), 0o755);
  await writeFile(join(top, 'grub-core/kern.c'), 'int kern;\n');
  // Like the real 2.12 tarball: no grub-core/extra_deps.lst (the Makefile adds it).
  return execFileSync('tar', [
    '-C',
    d,
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--mtime=@1700000000',
    '-cJf',
    '-',
    'grub-2.12',
  ]);
}

beforeAll(async () => {
  server = await startHttpServer({ files: { '/gnu/grub/grub-2.12.tar.xz': await grubTarball() } });
});
afterAll(async () => {
  await server?.close();
  await tmp.cleanup();
});

async function vendored(): Promise<{ root: string; lock: Lockfile; cache: Cache }> {
  const root = await tmp.make('xenrel-pvgrub2-');
  await writeFile(
    join(root, 'xenrel.config.yaml'),
    `version: 1\nname: xen\ncomponents:\n  grub2:\n    url: ${server.url}/gnu/grub/grub-2.12.tar.xz\n    path: tools/pvgrub2/grub-2.12.tar.xz\n`,
  );
  await writeFile(join(root, 'Makefile'), 'all:\n\t@echo xen default goal\n');
  const cache = new Cache(await tmp.make('xenrel-cache-'));
  const loaded = await loadConfig({ cwd: root });
  const { lock } = await lockProject({ loaded, cache });
  await vendor(lock, cache, root, { configRoot: root });
  return { root, lock, cache };
}

describe.runIf(canUnshareNet())('make -C .xenrel pvgrub2', () => {
  it("configures, builds and packs x86_64-xen, i386-xen and i386-xen_pvh offline, without touching Xen's default goal", async () => {
    const { root, lock, cache } = await vendored();
    const log = join(root, 'pvgrub2.log');
    await writeFile(log, '');
    const env = { PVGRUB2_LOG: log };
    const r = await make(root, ['-C', '.xenrel', 'pvgrub2'], { netns: true, env });
    expect(r.stderr).not.toMatch(/rror/);
    expect(r.code).toBe(0);
    for (const t of ['x86_64-xen', 'i386-xen', 'i386-xen_pvh'])
      expect(await readFile(join(root, `.xenrel/build/pvgrub2/grub-${t}.bin`), 'utf8')).toBe(`${t} image\n`);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    const configures = lines.filter((l) => l.startsWith('configure ')).sort();
    expect(configures).toEqual([
      'configure --target=i386 --with-platform=xen --disable-werror',
      'configure --target=i386 --with-platform=xen_pvh --disable-werror',
      'configure --target=x86_64 --with-platform=xen --disable-werror',
    ]);
    expect(lines.filter((l) => l.startsWith('make ')).sort()).toEqual([
      'make i386-xen',
      'make i386-xen_pvh',
      'make x86_64-xen',
    ]);
    const mk = lines.filter((l) => l.startsWith('grub-mkimage '));
    expect(mk).toHaveLength(3);
    expect(mk.some((l) => / -O x86_64-xen .* -p \/boot\/grub /.test(l) && / normal /.test(l))).toBe(true);

    // A second run has nothing to do; Xen's own default goal is still Xen's.
    await writeFile(log, '');
    expect((await make(root, ['-C', '.xenrel', 'pvgrub2'], { netns: true, env })).code).toBe(0);
    expect(await readFile(log, 'utf8')).toBe('');
    expect((await make(root, [], { netns: true })).stdout).toMatch(/xen default goal/);

    // One target on request.
    await make(root, ['-C', '.xenrel', 'pvgrub2-clean']);
    const one = await make(root, ['-C', '.xenrel', 'pvgrub2', 'PVGRUB2_TARGETS=x86_64-xen'], { netns: true, env });
    expect(one.code).toBe(0);
    expect((await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('configure '))).toEqual([
      'configure --target=x86_64 --with-platform=xen --disable-werror',
    ]);

    // xenrel clean removes the Makefile and the build folder.
    const c = await clean(root, { lock });
    expect(c.removed).toEqual(expect.arrayContaining(['.xenrel/Makefile', '.xenrel/build']));
    void cache;
  });

  it('refuses a store tarball that does not match the lock', async () => {
    const { root } = await vendored();
    await appendFile(join(root, '.xenrel/sources/grub2/grub-2.12.tar.xz'), 'x');
    const r = await make(root, ['-C', '.xenrel', 'pvgrub2'], { netns: true, env: { PVGRUB2_LOG: join(root, 'log') } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not match xenrel\.lock/);
  });

  it('no grub2 in the lock, or left out: no Makefile', async () => {
    const { root, lock, cache } = await vendored();
    await vendor(lock, cache, root, { configRoot: root, without: ['grub2'] });
    await expect(readFile(join(root, '.xenrel/Makefile'))).rejects.toThrow();
  });
});
