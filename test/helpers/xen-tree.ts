/**
 * A small Xen-like tree whose Makefiles fetch the way Xen's do (written from what
 * Xen's build does, no Xen file copied), kept as plain files in test/fixtures/xen-tree,
 * plus its upstreams: git repositories served
 * by `git daemon` on 127.0.0.1 and tarballs on a loopback HTTP server. Every upstream is a
 * network URL, so `make` inside a network namespace without xenrel really fails.
 *
 *   const up = await XenUpstreams.create();
 *   await writeXenTree(dir, up, { xenVersion: '4.22' });
 *   const lock = await lockFixture(up, cache);     // every component locked, in the cache
 *   … make …
 *   await up.cleanup();
 *
 * What each part of test/fixtures/xen-tree reproduces:
 * - Config.mk: `-include $(XEN_ROOT)/.config` first, then `GIT ?= git` (StdGNU.mk), the
 *   *_UPSTREAM_URL / *_UPSTREAM_REVISION defaults with `?=`, XEN_EXTFILES_URL,
 *   QEMU_UPSTREAM_INTREE and QEMU_UPSTREAM_LOC (`$(call or,$(wildcard …),URL)`).
 * - scripts/git-checkout.sh in its 4.19 form (checkout -b dummy TAG) or 4.21+ form
 *   (fetch origin COMMITTISH, checkout -b dummy FETCH_HEAD); skips the clone when
 *   <dir>-remote exists; always re-creates the <dir> symlink.
 * - Makefile: mini-os-dir (skipped when extras/mini-os exists), mini-os-dir-force-update,
 *   subtree-force-update, distclean (removes extras/mini-os and extras/mini-os-remote).
 * - tools/Rules.mk includes config/Tools.mk before Config.mk (so `.config` beats its
 *   FETCHER :=); tools/Makefile: qemu-xen-dir-find with the QEMU_UPSTREAM_INTREE test,
 *   QEMU configure with $(CONFIG_QEMUU_EXTRA_ARGS), force-update, distclean.
 * - tools/firmware/Makefile: seabios-dir (checkout, .config, olddefconfig, .version),
 *   ovmf-dir (checkout, Makefile from ovmf-makefile, which runs `$(GIT) submodule update
 *   --init --recursive` when .git exists), force-updates, distclean.
 * - tools/firmware/etherboot/Makefile: `$(FETCHER) _ipxe.tar.gz URL`, falling back to
 *   `$(GIT) clone` + `git archive --prefix=ipxe/`, IPXE_GIT_TAG `:=`, patches/series.
 * - stubdom/Makefile: `include Config.mk` BEFORE `-include config/Stubdom.mk` (whose
 *   `FETCHER :=` and `<LIB>_URL :=` come after .config), the eight tarball targets with no
 *   prerequisites, "Please run 'make mini-os-dir'" check, downloadclean/distclean.
 * The "build" steps are trivial: each copies a VERSION file of what it fetched to built/.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssri from 'ssri';
import type { Cache } from '../../src/content-cache/cache.js';
import { lockGit } from '../../src/sources/git/source.js';
import { publishFile } from '../../src/sources/http-content.js';
import type { LockedTarball, Lockfile } from '../../src/model/lock.js';
import { loadFixture } from './fixtures.js';
import { GitFixtures, type GitDaemon, type TestRepo } from './git-repos.js';
import { startHttpServer, type TestHttpServer } from './http-server.js';

export type XenVersion = '4.19' | '4.22';

export interface GitUpstream {
  name: string;
  repo: TestRepo;
  /** git://127.0.0.1:PORT/<name> */
  url: string;
  /** The pin Config.mk names (a tag, or a commit for OVMF/iPXE). */
  ref: string;
  commit: string;
  path: string;
  /** The VERSION file at the pinned commit (what the fixture build copies to built/). */
  version: string;
}

export interface TarballUpstream {
  name: string;
  file: string;
  bytes: Buffer;
  url: string;
  path: string;
  /** VERSION inside the tarball. */
  version: string;
}

const STUBDOM_LIBS: Array<{ name: string; file: string; dir: string; compress: 'gz' | 'bz2' }> = [
  { name: 'newlib', file: 'newlib-1.16.0.tar.gz', dir: 'newlib-1.16.0', compress: 'gz' },
  { name: 'zlib', file: 'zlib-1.2.3.tar.gz', dir: 'zlib-1.2.3', compress: 'gz' },
  { name: 'pciutils', file: 'pciutils-2.2.9.tar.bz2', dir: 'pciutils-2.2.9', compress: 'bz2' },
  { name: 'lwip', file: 'lwip-1.3.0.tar.gz', dir: 'lwip', compress: 'gz' },
  { name: 'gmp', file: 'gmp-4.3.2.tar.bz2', dir: 'gmp-4.3.2', compress: 'bz2' },
  { name: 'polarssl', file: 'polarssl-1.1.4-gpl.tgz', dir: 'polarssl-1.1.4', compress: 'gz' },
  { name: 'tpm_emulator', file: 'tpm_emulator-0.7.4.tar.gz', dir: 'tpm_emulator-0.7.4', compress: 'gz' },
  { name: 'grub', file: 'grub-0.97.tar.gz', dir: 'grub-0.97', compress: 'gz' },
];
export const STUBDOM_TARBALLS = STUBDOM_LIBS.map((l) => l.file);

/** Paths Xen's make fetches into (what `make distclean` deletes), by component. */
export const FIXTURE_PATHS: Record<string, string> = {
  'qemu-xen': 'tools/qemu-xen-dir-remote',
  seabios: 'tools/firmware/seabios-dir-remote',
  ovmf: 'tools/firmware/ovmf-dir-remote',
  'mini-os': 'extras/mini-os-remote',
  ipxe: 'tools/firmware/etherboot/ipxe.tar.gz',
  ...Object.fromEntries(STUBDOM_LIBS.map((l) => [l.name, `stubdom/${l.file}`])),
};

/** Files the fixture build writes inside fetched folders (not part of upstream content). */
export const BUILD_OUTPUTS: Record<string, string[]> = {
  seabios: ['.config', '.version', 'out/', 'olddefconfig.done'],
  ovmf: ['Makefile'],
};

export class XenUpstreams {
  private constructor(
    readonly fixtures: GitFixtures,
    readonly daemon: GitDaemon,
    readonly http: TestHttpServer,
    readonly git: Record<string, GitUpstream>,
    readonly tarballs: Record<string, TarballUpstream>,
    readonly ipxeGit: GitUpstream,
    private readonly scratch: string,
  ) {}

  get extfilesUrl(): string {
    return `${this.http.url}/xen-extfiles`;
  }

  static async create(): Promise<XenUpstreams> {
    const fixtures = await GitFixtures.create('xenrel-xen-upstreams-');
    const scratch = await mkdtemp(join(tmpdir(), 'xenrel-xen-tarballs-'));
    const daemon = await fixtures.startDaemon();
    const git: Record<string, GitUpstream> = {};

    const make = async (
      name: string,
      path: string,
      files: Record<string, string | { content: string; exec?: boolean }>,
      ref: string | 'commit',
    ) => {
      const repo = await fixtures.repo(name, { files: { ...files, VERSION: `${name} old\n` } });
      await repo.commit('an older release');
      if (ref !== 'commit') await repo.tag(`${ref}-old`, { annotated: true });
      const version = `${name} at ${ref === 'commit' ? 'the pinned commit' : ref}\n`;
      const commit = await repo.commit('the pinned release', { VERSION: version });
      if (ref !== 'commit') await repo.tag(ref, { annotated: true });
      // Upstream moves on after the pin: a force-update must not follow it.
      await repo.commit('work after the pin', { VERSION: `${name} after the pin\n`, NEWS: 'unreleased\n' });
      return {
        name,
        repo,
        url: daemon.url(repo),
        ref: ref === 'commit' ? commit : ref,
        commit,
        path,
        version,
      } satisfies GitUpstream;
    };

    git['qemu-xen'] = await make(
      'qemu-xen',
      FIXTURE_PATHS['qemu-xen']!,
      {
        configure: {
          content: [
            '#!/bin/sh',
            '# Fixture QEMU configure: records its arguments, writes a Makefile into the build folder.',
            'src=$(cd "$(dirname "$0")" && pwd)',
            'printf "%s\\n" "$*" > config-args.txt',
            'printf "all:\\n\\tcat %s/VERSION > qemu-built.txt\\n" "$src" > Makefile',
            '',
          ].join('\n'),
          exec: true,
        },
        'hw/xen/xen-hvm.c': '/* device model */\n',
        'subprojects/keycodemapdb/README': 'vendored subproject\n',
      },
      'qemu-xen-4.22.0',
    );
    git.seabios = await make(
      'seabios',
      FIXTURE_PATHS.seabios!,
      {
        Makefile:
          'olddefconfig:\n\ttouch olddefconfig.done\nall:\n\tmkdir -p out\n\tcat VERSION .config > out/bios.bin\n',
        'src/post.c': '/* post */\n',
        'scripts/kconfig/link': 'kconfig\n',
      },
      'rel-1.17.0',
    );
    git.ovmf = await make(
      'ovmf',
      FIXTURE_PATHS.ovmf!,
      { 'OvmfPkg/README': 'OVMF\n', 'OvmfPkg/build.sh': { content: '#!/bin/sh\necho build\n', exec: true } },
      'commit',
    );
    git['mini-os'] = await make(
      'mini-os',
      FIXTURE_PATHS['mini-os']!,
      { 'Config.mk': '# Mini-OS config\n', 'kernel.c': '/* kernel */\n' },
      'xen-RELEASE-4.22.0',
    );
    const ipxeGit = await make(
      'ipxe',
      FIXTURE_PATHS.ipxe!,
      { 'src/arch/i386/Makefile': '# iPXE i386\n', 'src/README': 'iPXE\n' },
      'commit',
    );

    // iPXE's tarball is a `git archive --prefix=ipxe/` of the pinned commit, as on xenbits.
    const ipxeFile = `ipxe-git-${ipxeGit.commit}.tar.gz`;
    const ipxeTar = join(scratch, ipxeFile);
    await sh(
      `git archive --format=tar --prefix=ipxe/ ${ipxeGit.commit} | gzip -n > '${ipxeTar}'`,
      ipxeGit.repo.dir,
      fixtures.env,
    );

    const files: Record<string, Buffer> = {};
    const tarballs: Record<string, TarballUpstream> = {};
    tarballs.ipxe = {
      name: 'ipxe',
      file: ipxeFile,
      bytes: await readFile(ipxeTar),
      url: '',
      path: FIXTURE_PATHS.ipxe!,
      version: ipxeGit.version,
    };
    for (const lib of STUBDOM_LIBS) {
      const version = `${lib.name} from ${lib.file}\n`;
      const src = join(scratch, 'src', lib.dir);
      await mkdir(src, { recursive: true });
      await writeFile(join(src, 'VERSION'), version);
      await writeFile(join(src, 'configure'), '#!/bin/sh\nexit 0\n');
      await chmod(join(src, 'configure'), 0o755);
      const out = join(scratch, lib.file);
      await sh(
        `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -cf - '${lib.dir}' | ${lib.compress === 'gz' ? 'gzip -n' : 'bzip2'} > '${out}'`,
        join(scratch, 'src'),
      );
      tarballs[lib.name] = {
        name: lib.name,
        file: lib.file,
        bytes: await readFile(out),
        url: '',
        path: FIXTURE_PATHS[lib.name]!,
        version,
      };
    }
    for (const t of Object.values(tarballs)) files[`/xen-extfiles/${t.file}`] = t.bytes;
    const http = await startHttpServer({ files });
    for (const t of Object.values(tarballs)) t.url = `${http.url}/xen-extfiles/${t.file}`;
    return new XenUpstreams(fixtures, daemon, http, git, tarballs, ipxeGit, scratch);
  }

  /** Requests that reached the upstreams (HTTP only; git daemon connections are not counted). */
  get httpRequests(): number {
    return this.http.requests.length;
  }

  async cleanup(): Promise<void> {
    await this.http.close();
    await this.fixtures.cleanup();
    await rm(this.scratch, { recursive: true, force: true });
  }
}

function sh(script: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script}: exit ${code}: ${err}`))));
  });
}

export interface XenTreeOptions {
  xenVersion?: XenVersion;
}

/**
 * Write the fixture tree (test/fixtures/xen-tree: `common/` and the version's
 * scripts/git-checkout.sh) into `dir`, which may already hold other files (e.g. a `.config`).
 * The upstreams' URLs and pins fill the tree's `{{…}}` placeholders.
 */
export async function writeXenTree(dir: string, up: XenUpstreams, opts: XenTreeOptions = {}): Promise<void> {
  const g = up.git;
  await loadFixture('xen-tree', dir, {
    layers: ['common', opts.xenVersion === '4.19' ? '4.19' : '4.22'],
    vars: {
      EXTFILES_URL: up.extfilesUrl,
      OVMF_URL: g.ovmf!.url,
      OVMF_REVISION: g.ovmf!.ref,
      QEMU_URL: g['qemu-xen']!.url,
      QEMU_REVISION: g['qemu-xen']!.ref,
      MINIOS_URL: g['mini-os']!.url,
      MINIOS_REVISION: g['mini-os']!.ref,
      SEABIOS_URL: g.seabios!.url,
      SEABIOS_REVISION: g.seabios!.ref,
      IPXE_GIT_URL: up.ipxeGit.url,
      IPXE_GIT_TAG: up.ipxeGit.commit,
    },
  });
}

/** What the fixture build must produce in built/, by output file, from the pinned upstreams. */
export function expectedBuilt(up: XenUpstreams): Record<string, string> {
  const g = up.git;
  return {
    'qemu-xen.txt': g['qemu-xen']!.version,
    'seabios.txt': `${g.seabios!.version}CONFIG_XEN=y\n`,
    'ovmf.txt': `${g.ovmf!.version}OVMF\n`,
    'ipxe.txt': `# iPXE i386\n# Xen additions to the iPXE config\n${up.ipxeGit.version}patched by the xen tree\n`,
    'mini-os.txt': g['mini-os']!.version,
    'stubdom.txt': STUBDOM_LIBS.map((l) => `${l.name} from ${l.file}\n`)
      .sort((a, b) => {
        // The build concatenates in bytewise order of the unpacked directory names.
        const da = STUBDOM_LIBS.find((l) => a.startsWith(`${l.name} `))!.dir;
        const db = STUBDOM_LIBS.find((l) => b.startsWith(`${l.name} `))!.dir;
        return da < db ? -1 : da > db ? 1 : 0;
      })
      .join(''),
  };
}

/**
 * Lock every fixture component and put its content in `cache` (the git mirrors through
 * xenrel's git source over git daemon; the tarballs straight into the content store).
 * Stands in for `xenrel lock && xenrel fetch` where a test needs only the result.
 */
export async function lockFixture(up: XenUpstreams, cache: Cache, opts: { only?: string[] } = {}): Promise<Lockfile> {
  await cache.init();
  const components: Lockfile['components'] = {};
  const want = (n: string) => !opts.only || opts.only.includes(n);
  for (const g of Object.values(up.git)) {
    if (want(g.name)) components[g.name] = await lockGit(g.name, { git: g.url, ref: g.ref, path: g.path }, cache);
  }
  for (const t of Object.values(up.tarballs)) {
    if (!want(t.name)) continue;
    const sri512 = ssri.fromData(t.bytes, { algorithms: ['sha512'] }).toString();
    const tmp = join(cache.root, `seed-${t.name}`);
    await writeFile(tmp, t.bytes);
    await publishFile(cache, tmp, { sri512, size: t.bytes.length, key: `url:${t.url}` });
    await rm(tmp, { force: true });
    components[t.name] = { url: t.url, integrity: sri512, size: t.bytes.length, path: t.path } satisfies LockedTarball;
  }
  return { lockfileVersion: 1, name: 'xen-fixture', components };
}

/** A config (xenrel.config.yaml text) for the fixture, for CLI tests. */
export function fixtureConfigYaml(up: XenUpstreams, opts: { only?: string[] } = {}): string {
  const want = (n: string) => !opts.only || opts.only.includes(n);
  let y = 'version: 1\nname: xen-fixture\ncomponents:\n';
  for (const g of Object.values(up.git))
    if (want(g.name)) y += `  ${g.name}:\n    git: ${g.url}\n    ref: ${g.ref}\n    path: ${g.path}\n`;
  for (const t of Object.values(up.tarballs))
    if (want(t.name)) y += `  ${t.name}:\n    url: ${t.url}\n    path: ${t.path}\n`;
  return y;
}
