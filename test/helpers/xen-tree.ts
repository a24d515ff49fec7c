/**
 * A small Xen-like tree whose Makefiles fetch the way Xen's do (see /work/shared/xen-facts.md;
 * written from those facts, no Xen file copied), plus its upstreams: git repositories served
 * by `git daemon` on 127.0.0.1 and tarballs on a loopback HTTP server. Every upstream is a
 * network URL, so `make` inside a network namespace without xenrel really fails.
 *
 *   const up = await XenUpstreams.create();
 *   await writeXenTree(dir, up, { xenVersion: '4.22' });
 *   const lock = await lockFixture(up, cache);     // every component locked, in the cache
 *   … make …
 *   await up.cleanup();
 *
 * What each part reproduces:
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
import { dirname, join } from 'node:path';
import ssri from 'ssri';
import type { Cache } from '../../src/content-cache/cache.js';
import { lockGit } from '../../src/sources/git/source.js';
import { publishFile } from '../../src/sources/http-content.js';
import type { LockedTarball, Lockfile } from '../../src/model/lock.js';
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

    const make = async (name: string, path: string, files: Record<string, string | { content: string; exec?: boolean }>, ref: string | 'commit') => {
      const repo = await fixtures.repo(name, { files: { ...files, VERSION: `${name} old\n` } });
      await repo.commit('an older release');
      if (ref !== 'commit') await repo.tag(`${ref}-old`, { annotated: true });
      const version = `${name} at ${ref === 'commit' ? 'the pinned commit' : ref}\n`;
      const commit = await repo.commit('the pinned release', { VERSION: version });
      if (ref !== 'commit') await repo.tag(ref, { annotated: true });
      // Upstream moves on after the pin: a force-update must not follow it.
      await repo.commit('work after the pin', { VERSION: `${name} after the pin\n`, NEWS: 'unreleased\n' });
      return { name, repo, url: daemon.url(repo), ref: ref === 'commit' ? commit : ref, commit, path, version } satisfies GitUpstream;
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
        Makefile: 'olddefconfig:\n\ttouch olddefconfig.done\nall:\n\tmkdir -p out\n\tcat VERSION .config > out/bios.bin\n',
        'src/post.c': '/* post */\n',
        'scripts/kconfig/link': 'kconfig\n',
      },
      'rel-1.17.0',
    );
    git.ovmf = await make('ovmf', FIXTURE_PATHS.ovmf!, { 'OvmfPkg/README': 'OVMF\n', 'OvmfPkg/build.sh': { content: '#!/bin/sh\necho build\n', exec: true } }, 'commit');
    git['mini-os'] = await make('mini-os', FIXTURE_PATHS['mini-os']!, { 'Config.mk': '# Mini-OS config\n', 'kernel.c': '/* kernel */\n' }, 'xen-RELEASE-4.22.0');
    const ipxeGit = await make('ipxe', FIXTURE_PATHS.ipxe!, { 'src/arch/i386/Makefile': '# iPXE i386\n', 'src/README': 'iPXE\n' }, 'commit');

    // iPXE's tarball is a `git archive --prefix=ipxe/` of the pinned commit, as on xenbits.
    const ipxeFile = `ipxe-git-${ipxeGit.commit}.tar.gz`;
    const ipxeTar = join(scratch, ipxeFile);
    await sh(`git archive --format=tar --prefix=ipxe/ ${ipxeGit.commit} | gzip -n > '${ipxeTar}'`, ipxeGit.repo.dir, fixtures.env);

    const files: Record<string, Buffer> = {};
    const tarballs: Record<string, TarballUpstream> = {};
    tarballs.ipxe = { name: 'ipxe', file: ipxeFile, bytes: await readFile(ipxeTar), url: '', path: FIXTURE_PATHS.ipxe!, version: ipxeGit.version };
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
      tarballs[lib.name] = { name: lib.name, file: lib.file, bytes: await readFile(out), url: '', path: FIXTURE_PATHS[lib.name]!, version };
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

// ---------------------------------------------------------------------------------------
// The tree

const gitCheckout419 = `#!/bin/sh
# Fixture of Xen 4.19's scripts/git-checkout.sh behaviour: clone, then check out TAG on a
# branch "dummy"; nothing happens when DIR-remote exists; DIR is always re-linked.
TREE=$1
TAG=$2
DIR=$3

set -e

if test \\! -d $DIR-remote; then
	rm -rf $DIR-remote $DIR-remote.tmp
	mkdir -p $DIR-remote.tmp; rmdir $DIR-remote.tmp
	$GIT clone $TREE $DIR-remote.tmp
	if test "$TAG" ; then
		cd $DIR-remote.tmp
		$GIT branch -D dummy >/dev/null 2>&1 ||:
		$GIT checkout -b dummy $TAG
		cd -
	fi
	mv $DIR-remote.tmp $DIR-remote
fi
rm -f $DIR
ln -sf $(basename $DIR-remote) $DIR
`;

const gitCheckout422 = `#!/bin/sh
# Fixture of Xen 4.21+'s scripts/git-checkout.sh behaviour: clone, fetch exactly the pin,
# check out FETCH_HEAD on a branch "dummy".
TREE=$1
COMMITTISH=$2
DIR=$3

set -e

if test \\! -d $DIR-remote; then
	rm -rf $DIR-remote $DIR-remote.tmp
	mkdir -p $DIR-remote.tmp; rmdir $DIR-remote.tmp
	$GIT clone $TREE $DIR-remote.tmp
	if test "$COMMITTISH" ; then
		cd $DIR-remote.tmp
		$GIT fetch origin "$COMMITTISH"
		$GIT branch -D dummy >/dev/null 2>&1 ||:
		$GIT checkout -b dummy FETCH_HEAD
		cd -
	fi
	mv $DIR-remote.tmp $DIR-remote
fi
rm -f $DIR
ln -sf $(basename $DIR-remote) $DIR
`;

function configMk(up: XenUpstreams): string {
  const g = up.git;
  return `# Fixture Config.mk (behaviour of Xen's: .config first, then ?= defaults)
-include $(XEN_ROOT)/.config

include $(XEN_ROOT)/config/StdGNU.mk

XEN_EXTFILES_URL ?= ${up.extfilesUrl}

QEMU_UPSTREAM_INTREE ?= $(XEN_ROOT)/tools/qemu-xen

OVMF_UPSTREAM_URL ?= ${g.ovmf!.url}
OVMF_UPSTREAM_REVISION ?= ${g.ovmf!.ref}

QEMU_UPSTREAM_URL ?= ${g['qemu-xen']!.url}
QEMU_UPSTREAM_REVISION ?= ${g['qemu-xen']!.ref}

MINIOS_UPSTREAM_URL ?= ${g['mini-os']!.url}
MINIOS_UPSTREAM_REVISION ?= ${g['mini-os']!.ref}

SEABIOS_UPSTREAM_URL ?= ${g.seabios!.url}
SEABIOS_UPSTREAM_REVISION ?= ${g.seabios!.ref}

QEMU_UPSTREAM_LOC ?= $(call or,$(wildcard $(QEMU_UPSTREAM_INTREE)),\\
                               $(QEMU_UPSTREAM_URL))
`;
}

const topMakefile = `# Fixture top-level Makefile
XEN_ROOT=$(CURDIR)
include Config.mk

.PHONY: all
all: build-tools build-stubdom

built:
	mkdir -p built

.PHONY: build-tools
build-tools: built
	$(MAKE) -C tools all

.PHONY: build-stubdom
build-stubdom: mini-os-dir built
	$(MAKE) -C stubdom build

.PHONY: mini-os-dir
mini-os-dir:
	if [ ! -d $(XEN_ROOT)/extras/mini-os ]; then \\
		GIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh \\
			$(MINIOS_UPSTREAM_URL) \\
			$(MINIOS_UPSTREAM_REVISION) \\
			$(XEN_ROOT)/extras/mini-os ; \\
	fi

.PHONY: mini-os-dir-force-update
mini-os-dir-force-update: mini-os-dir
	set -ex; \\
	if [ "$(MINIOS_UPSTREAM_REVISION)" ]; then \\
		cd extras/mini-os-remote; \\
		$(GIT) fetch origin; \\
		$(GIT) reset --hard $(MINIOS_UPSTREAM_REVISION); \\
	fi

.PHONY: subtree-force-update
subtree-force-update: mini-os-dir-force-update
	$(MAKE) -C tools subtree-force-update

.PHONY: clean
clean:
	rm -rf built

.PHONY: distclean
distclean: clean
	$(MAKE) -C tools distclean
	$(MAKE) -C stubdom distclean
	rm -rf extras/mini-os extras/mini-os-remote
`;

const stdGnuMk = `# Allow git to be wrappered in the environment
GIT ?= git
`;

function toolsMk(): string {
  return `# Fixture config/Tools.mk (what ./configure writes)
CONFIG_QEMU_XEN := y
CONFIG_SEABIOS := y
CONFIG_OVMF := y
CONFIG_IPXE := y
FETCHER := wget -c -O
CONFIG_QEMUU_EXTRA_ARGS :=
`;
}

function stubdomMk(): string {
  return `# Fixture config/Stubdom.mk (what stubdom/configure writes): FETCHER and the URLs use :=
FETCHER := wget -c -O
ZLIB_VERSION := 1.2.3
ZLIB_URL := $(XEN_EXTFILES_URL)
LIBPCI_VERSION := 2.2.9
LIBPCI_URL := $(XEN_EXTFILES_URL)
NEWLIB_VERSION := 1.16.0
NEWLIB_URL := $(XEN_EXTFILES_URL)
LWIP_VERSION := 1.3.0
LWIP_URL := $(XEN_EXTFILES_URL)
GRUB_VERSION := 0.97
GRUB_URL := $(XEN_EXTFILES_URL)
GMP_VERSION := 4.3.2
GMP_URL := $(XEN_EXTFILES_URL)
POLARSSL_VERSION := 1.1.4
POLARSSL_URL := $(XEN_EXTFILES_URL)
TPMEMU_VERSION := 0.7.4
TPMEMU_URL := $(XEN_EXTFILES_URL)
`;
}

const toolsRulesMk = `# Fixture tools/Rules.mk: config/Tools.mk BEFORE Config.mk, as in Xen
-include $(XEN_ROOT)/config/Tools.mk
include $(XEN_ROOT)/Config.mk
`;

const toolsMakefile = `# Fixture tools/Makefile
XEN_ROOT = $(CURDIR)/..
include $(XEN_ROOT)/tools/Rules.mk

SUBDIRS-$(CONFIG_QEMU_XEN) += qemu-xen-dir

.PHONY: all
all: $(patsubst %,subdir-all-%,$(SUBDIRS-y)) subdir-all-firmware

.PHONY: subdir-all-firmware
subdir-all-firmware:
	$(MAKE) -C firmware all

.PHONY: qemu-xen-dir-find
qemu-xen-dir-find:
	if test -d $(QEMU_UPSTREAM_LOC) ; then \\
		mkdir -p qemu-xen-dir; \\
	else \\
		export GIT=$(GIT); \\
		$(XEN_ROOT)/scripts/git-checkout.sh $(QEMU_UPSTREAM_LOC) $(QEMU_UPSTREAM_REVISION) qemu-xen-dir ; \\
	fi

.PHONY: subdir-all-qemu-xen-dir
subdir-all-qemu-xen-dir: qemu-xen-dir-find
	if test -d $(QEMU_UPSTREAM_LOC) ; then \\
		source=$(QEMU_UPSTREAM_LOC); \\
	else \\
		source=$(XEN_ROOT)/tools/qemu-xen-dir; \\
	fi; \\
	mkdir -p qemu-xen-build; \\
	cd qemu-xen-build; \\
	$$source/configure --enable-xen --target-list=i386-softmmu $(CONFIG_QEMUU_EXTRA_ARGS); \\
	$(MAKE) all; \\
	cp qemu-built.txt $(XEN_ROOT)/built/qemu-xen.txt; \\
	cp config-args.txt $(XEN_ROOT)/built/qemu-configure-args.txt

.PHONY: qemu-xen-dir-force-update
qemu-xen-dir-force-update: qemu-xen-dir-find
	set -ex; \\
	if [ "$(QEMU_UPSTREAM_REVISION)" ]; then \\
		cd qemu-xen-dir-remote; \\
		$(GIT) fetch origin; \\
		$(GIT) reset --hard $(QEMU_UPSTREAM_REVISION); \\
	fi

.PHONY: subtree-force-update
subtree-force-update:
ifeq ($(CONFIG_QEMU_XEN),y)
	$(MAKE) qemu-xen-dir-force-update
endif
	$(MAKE) -C firmware subtree-force-update

.PHONY: distclean
distclean:
	rm -rf qemu-xen-dir qemu-xen-dir-remote qemu-xen-build
	$(MAKE) -C firmware distclean
`;

const firmwareMakefile = `# Fixture tools/firmware/Makefile
XEN_ROOT = $(CURDIR)/../..
include $(XEN_ROOT)/tools/Rules.mk

SUBDIRS-$(CONFIG_SEABIOS) += seabios-dir
SUBDIRS-$(CONFIG_OVMF) += ovmf-dir
SUBDIRS-$(CONFIG_IPXE) += etherboot

.PHONY: all
all: $(patsubst %,subdir-all-%,$(SUBDIRS-y))

ovmf-dir:
	GIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(OVMF_UPSTREAM_URL) $(OVMF_UPSTREAM_REVISION) ovmf-dir
	cp ovmf-makefile ovmf-dir/Makefile;

seabios-dir:
	GIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(SEABIOS_UPSTREAM_URL) $(SEABIOS_UPSTREAM_REVISION) seabios-dir
	cp seabios-config seabios-dir/.config;
	$(MAKE) -C seabios-dir olddefconfig
	rm -f seabios-dir/.version
	echo '$(SEABIOS_UPSTREAM_REVISION)' > seabios-dir/.version

.PHONY: subdir-all-seabios-dir
subdir-all-seabios-dir: seabios-dir
	$(MAKE) -C seabios-dir all
	cp seabios-dir/out/bios.bin $(XEN_ROOT)/built/seabios.txt

.PHONY: subdir-all-ovmf-dir
subdir-all-ovmf-dir: ovmf-dir
	$(MAKE) -C ovmf-dir all

.PHONY: subdir-all-etherboot
subdir-all-etherboot:
	$(MAKE) -C etherboot all

.PHONY: ovmf-dir-force-update
ovmf-dir-force-update: ovmf-dir
	set -ex; \\
	if [ "$(OVMF_UPSTREAM_REVISION)" ]; then \\
		cd ovmf-dir-remote; \\
		$(GIT) fetch origin; \\
		$(GIT) reset --hard $(OVMF_UPSTREAM_REVISION); \\
	fi

.PHONY: seabios-dir-force-update
seabios-dir-force-update: seabios-dir
	set -ex; \\
	if [ "$(SEABIOS_UPSTREAM_REVISION)" ]; then \\
		cd seabios-dir-remote; \\
		$(GIT) fetch origin; \\
		$(GIT) reset --hard $(SEABIOS_UPSTREAM_REVISION); \\
	fi

SUBTREES-$(CONFIG_SEABIOS) += seabios-dir-force-update
SUBTREES-$(CONFIG_OVMF) += ovmf-dir-force-update

.PHONY: subtree-force-update
subtree-force-update: $(SUBTREES-y)

.PHONY: distclean
distclean:
	rm -rf seabios-dir seabios-dir-remote ovmf-dir ovmf-dir-remote
	$(MAKE) -C etherboot distclean
`;

const ovmfMakefile = `# Fixture tools/firmware/ovmf-makefile (copied into ovmf-dir/Makefile)
XEN_ROOT=$(CURDIR)/../../..
include $(XEN_ROOT)/tools/Rules.mk

.PHONY: all
all: ovmf.bin

.PHONY: ovmf.bin
ovmf.bin:
	if test -e .git ; then $(GIT) submodule update --init --recursive ; fi
	cat VERSION OvmfPkg/README > $(XEN_ROOT)/built/ovmf.txt
`;

function etherbootMakefile(up: XenUpstreams): string {
  return `# Fixture tools/firmware/etherboot/Makefile
override XEN_TARGET_ARCH = x86_32
XEN_ROOT = $(CURDIR)/../../..
include $(XEN_ROOT)/tools/Rules.mk

IPXE_GIT_URL ?= ${up.ipxeGit.url}

# put an updated tar.gz on the extfiles server after changes to this variable
IPXE_GIT_TAG := ${up.ipxeGit.commit}

IPXE_TARBALL_URL ?= $(XEN_EXTFILES_URL)/ipxe-git-$(IPXE_GIT_TAG).tar.gz

D=ipxe
T=ipxe.tar.gz

.PHONY: all
all: $D/src/arch/i386/Makefile
	cp $D/src/arch/i386/Makefile $(XEN_ROOT)/built/ipxe.txt
	cat $D/VERSION $D/src/xen-patched.txt >> $(XEN_ROOT)/built/ipxe.txt

$T:
	set -e; if ! $(FETCHER) _$T $(IPXE_TARBALL_URL); then \\
		$(GIT) clone $(IPXE_GIT_URL) $D.git; \\
		(cd $D.git && $(GIT) archive --format=tar --prefix=$D/ \\
		$(IPXE_GIT_TAG) | gzip -n >../_$T); \\
		rm -rf $D.git; \\
	fi
	mv _$T $T

$D/src/arch/i386/Makefile: $T Config
	rm -rf $D
	gzip -dc $T | tar xf -
	for i in $$(cat patches/series) ; do                 \\
	    patch -d $D -p1 --quiet <patches/$$i || exit 1 ; \\
	done
	cat Config >>$@

.PHONY: distclean
distclean:
	rm -rf $D $T _$T $D.git
`;
}

const ipxePatch = `--- /dev/null
+++ b/src/xen-patched.txt
@@ -0,0 +1 @@
+patched by the xen tree
`;

const stubdomMakefile = `# Fixture stubdom/Makefile: Config.mk (and .config) first, then config/Stubdom.mk
XEN_ROOT = $(CURDIR)/..
include $(XEN_ROOT)/Config.mk
-include $(XEN_ROOT)/config/Stubdom.mk

TARBALLS = newlib-$(NEWLIB_VERSION).tar.gz zlib-$(ZLIB_VERSION).tar.gz \\
	pciutils-$(LIBPCI_VERSION).tar.bz2 lwip-$(LWIP_VERSION).tar.gz \\
	gmp-$(GMP_VERSION).tar.bz2 polarssl-$(POLARSSL_VERSION)-gpl.tgz \\
	tpm_emulator-$(TPMEMU_VERSION).tar.gz grub-$(GRUB_VERSION).tar.gz

.PHONY: build
build: check-minios $(TARBALLS)
	rm -rf unpacked && mkdir unpacked
	for t in $(TARBALLS); do tar -C unpacked -xf $$t || exit 1; done
	for d in $$(ls unpacked | LC_ALL=C sort); do cat unpacked/$$d/VERSION; done > $(XEN_ROOT)/built/stubdom.txt
	cat $(XEN_ROOT)/extras/mini-os/VERSION > $(XEN_ROOT)/built/mini-os.txt

.PHONY: check-minios
check-minios:
	@if [ ! -f $(XEN_ROOT)/extras/mini-os/Config.mk ]; then \\
		echo "Please run 'make mini-os-dir' in top-level directory"; \\
		exit 1; \\
	fi

newlib-$(NEWLIB_VERSION).tar.gz:
	$(FETCHER) $@ $(NEWLIB_URL)/$@

zlib-$(ZLIB_VERSION).tar.gz:
	$(FETCHER) $@ $(ZLIB_URL)/$@

pciutils-$(LIBPCI_VERSION).tar.bz2:
	$(FETCHER) $@ $(LIBPCI_URL)/$@

lwip-$(LWIP_VERSION).tar.gz:
	$(FETCHER) $@ $(LWIP_URL)/$@

gmp-$(GMP_VERSION).tar.bz2:
	$(FETCHER) $@ $(GMP_URL)/$@

polarssl-$(POLARSSL_VERSION)-gpl.tgz:
	$(FETCHER) $@ $(POLARSSL_URL)/$@

tpm_emulator-$(TPMEMU_VERSION).tar.gz:
	$(FETCHER) $@ $(TPMEMU_URL)/$@

grub-$(GRUB_VERSION).tar.gz:
	$(FETCHER) $@ $(GRUB_URL)/$@

.PHONY: downloadclean
downloadclean:
	rm -f $(TARBALLS)

.PHONY: distclean
distclean: downloadclean
	rm -rf unpacked
`;

export interface XenTreeOptions {
  xenVersion?: XenVersion;
}

/** Write the fixture tree into `dir` (which may already hold other files, e.g. a `.config`). */
export async function writeXenTree(dir: string, up: XenUpstreams, opts: XenTreeOptions = {}): Promise<void> {
  const files: Record<string, string | { content: string; exec: true }> = {
    'Config.mk': configMk(up),
    Makefile: topMakefile,
    'config/StdGNU.mk': stdGnuMk,
    'config/Tools.mk': toolsMk(),
    'config/Stubdom.mk': stubdomMk(),
    'scripts/git-checkout.sh': { content: opts.xenVersion === '4.19' ? gitCheckout419 : gitCheckout422, exec: true },
    'tools/Rules.mk': toolsRulesMk,
    'tools/Makefile': toolsMakefile,
    'tools/firmware/Makefile': firmwareMakefile,
    'tools/firmware/seabios-config': 'CONFIG_XEN=y\n',
    'tools/firmware/ovmf-makefile': ovmfMakefile,
    'tools/firmware/etherboot/Makefile': etherbootMakefile(up),
    'tools/firmware/etherboot/Config': '# Xen additions to the iPXE config\n',
    'tools/firmware/etherboot/patches/series': 'xen-fixture.patch\n',
    'tools/firmware/etherboot/patches/xen-fixture.patch': ipxePatch,
    'stubdom/Makefile': stubdomMakefile,
    'extras/README': 'Mini-OS is cloned here by make.\n',
  };
  for (const [rel, spec] of Object.entries(files)) {
    const abs = join(dir, rel);
    await mkdir(dirname(abs), { recursive: true });
    const content = typeof spec === 'string' ? spec : spec.content;
    await writeFile(abs, content);
    await chmod(abs, typeof spec === 'string' ? 0o644 : 0o755);
  }
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
  for (const g of Object.values(up.git)) if (want(g.name)) y += `  ${g.name}:\n    git: ${g.url}\n    ref: ${g.ref}\n    path: ${g.path}\n`;
  for (const t of Object.values(up.tarballs)) if (want(t.name)) y += `  ${t.name}:\n    url: ${t.url}\n    path: ${t.path}\n`;
  return y;
}
