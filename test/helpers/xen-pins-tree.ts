import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

/**
 * A Xen-like tree with just the build files xenrel reads pins from and scans for fetches,
 * written by the test (never copied from Xen). Three variants:
 *   4.19     — qemu-xen-traditional pinned, tag pins, mktarball calling archive-source.sh
 *   4.22     — no qemu-xen-traditional, git-checkout.sh fetches the pin
 *   unstable — SHA and `master` pins, no pv-grub (GRUB) library
 */
export type XenVariant = '4.19' | '4.22' | 'unstable';

export interface XenPinsTreeOptions {
  /** Contents of `.config` (read by Config.mk first). */
  dotConfig?: string;
  /** Contents of `config/Stubdom.mk` (a configured stubdom). */
  stubdomMk?: string;
  /** Extra files: relative path → contents. */
  extra?: Record<string, string>;
}

const SEABIOS = { '4.19': 'rel-1.16.3', '4.22': 'rel-1.17.0', unstable: 'rel-1.17.0' };
const QEMU = { '4.19': 'qemu-xen-4.19.0', '4.22': 'qemu-xen-4.22.0', unstable: 'master' };
const MINIOS = { '4.19': 'xen-RELEASE-4.19.0', '4.22': 'xen-RELEASE-4.22.0', unstable: '0123456789abcdef0123456789abcdef01234567' };
export const OVMF_PIN = 'ba91d0292e593df8528b66f99c1b0b14fadc8e16';
export const IPXE_PIN = '1d1cf74a5e58811822bee4b3da3cff7282fcdfca';

export const expectedPins = (v: XenVariant) => ({ seabios: SEABIOS[v], qemu: QEMU[v], minios: MINIOS[v] });

function configMk(v: XenVariant): string {
  const trad =
    v === '4.19'
      ? `
ifneq (,$(QEMU_TAG))
QEMU_TRADITIONAL_REVISION ?= $(QEMU_TAG)
endif
QEMU_TRADITIONAL_INTREE ?= $(XEN_ROOT)/tools/qemu-xen-traditional
QEMU_TRADITIONAL_URL ?= https://xenbits.xen.org/git-http/qemu-xen-traditional.git
QEMU_TRADITIONAL_REVISION ?= xen-4.19.0
QEMU_TRADITIONAL_LOC ?= $(call or,$(wildcard $(QEMU_TRADITIONAL_INTREE)),$(QEMU_TRADITIONAL_URL))
`
      : '';
  return `# fixture Config.mk (${v})
ifeq ($(filter /%,$(XEN_ROOT)),)
$(error XEN_ROOT must be absolute)
endif
or = $(if $(strip $(1)),$(1),$(if $(strip $(2)),$(2)))

-include $(XEN_ROOT)/.config

XEN_OS ?= $(shell uname -s)
XEN_TARGET_ARCH ?= x86_64
include $(XEN_ROOT)/config/StdGNU.mk

# a rule that must never run while pins are read
all:
	touch $(XEN_ROOT)/recipe-ran

XEN_EXTFILES_URL ?= https://xenbits.xen.org/xen-extfiles
QEMU_UPSTREAM_INTREE ?= $(XEN_ROOT)/tools/qemu-xen

ifneq (,$(SEABIOS_UPSTREAM_TAG))
SEABIOS_UPSTREAM_REVISION ?= $(SEABIOS_UPSTREAM_TAG)
endif

OVMF_UPSTREAM_URL ?= https://xenbits.xen.org/git-http/ovmf.git
OVMF_UPSTREAM_REVISION ?= ${OVMF_PIN}

QEMU_UPSTREAM_URL ?= https://xenbits.xen.org/git-http/qemu-xen.git
QEMU_UPSTREAM_REVISION ?= ${QEMU[v]}

MINIOS_UPSTREAM_URL ?= https://xenbits.xen.org/git-http/mini-os.git
MINIOS_UPSTREAM_REVISION ?= ${MINIOS[v]}

SEABIOS_UPSTREAM_URL ?= https://xenbits.xen.org/git-http/seabios.git
SEABIOS_UPSTREAM_REVISION ?= ${SEABIOS[v]}
${trad}
QEMU_UPSTREAM_LOC ?= $(call or,$(wildcard $(QEMU_UPSTREAM_INTREE)),$(QEMU_UPSTREAM_URL))
`;
}

/** Xen's stubdom/configure.ac as far as the library versions and default URLs go. */
export function stubdomConfigureAc(v: XenVariant = '4.22'): string {
  return `# fixture stubdom/configure.ac
AX_STUBDOM_DEFAULT_ENABLE([xenstore-stubdom], [xenstore])
AX_ARG_DEFAULT_ENABLE([extfiles], [Use xen extfiles repository for libraries])

AX_STUBDOM_LIB([ZLIB], [zlib], [1.2.3])
AX_STUBDOM_LIB([LIBPCI], [libpci], [2.2.9], [https://mirrors.edge.kernel.org/pub/software/utils/pciutils])
AX_STUBDOM_LIB([NEWLIB], [newlib], [1.16.0], [https://sourceware.org/ftp/newlib])
AX_STUBDOM_LIB([LWIP], [lwip], [1.3.0], [https://download.savannah.gnu.org/releases/lwip])
${v === 'unstable' ? '' : 'AX_STUBDOM_LIB([GRUB], [grub], [0.97], [https://alpha.gnu.org/gnu/grub])\n'}AX_STUBDOM_LIB([GMP], [libgmp], [4.3.2], [https://gmplib.org/download/gmp/archive])
AX_STUBDOM_LIB([POLARSSL], [polarssl], [1.1.4])
AX_STUBDOM_LIB([TPMEMU], [berlios tpm emulator], [0.7.4])
`;
}

function stubdomMakefile(v: XenVariant): string {
  const rule = (target: string, lib: string) => `${target}:\n\t$(FETCHER) $@ $(${lib}_URL)/$@\n\n`;
  return `# fixture stubdom/Makefile
XEN_ROOT = $(CURDIR)/..
include $(XEN_ROOT)/Config.mk
-include $(XEN_ROOT)/config/Stubdom.mk

${rule('newlib-$(NEWLIB_VERSION).tar.gz', 'NEWLIB')}newlib-$(NEWLIB_VERSION): newlib-$(NEWLIB_VERSION).tar.gz
\ttar xzf $<

${rule('zlib-$(ZLIB_VERSION).tar.gz', 'ZLIB')}${rule('pciutils-$(LIBPCI_VERSION).tar.bz2', 'LIBPCI')}${rule('lwip-$(LWIP_VERSION).tar.gz', 'LWIP')}${rule('gmp-$(GMP_VERSION).tar.bz2', 'GMP')}${rule('polarssl-$(POLARSSL_VERSION)-gpl.tgz', 'POLARSSL')}${rule('tpm_emulator-$(TPMEMU_VERSION).tar.gz', 'TPMEMU')}${v === 'unstable' ? '' : rule('grub-$(GRUB_VERSION).tar.gz', 'GRUB')}`;
}

const ETHERBOOT = `# fixture tools/firmware/etherboot/Makefile
override XEN_TARGET_ARCH = x86_32
XEN_ROOT = $(CURDIR)/../../..
include $(XEN_ROOT)/tools/Rules.mk

IPXE_GIT_URL ?= https://github.com/ipxe/ipxe.git

# put an updated tar.gz on xenbits after changes to this variable
IPXE_GIT_TAG := ${IPXE_PIN}

IPXE_TARBALL_URL ?= $(XEN_EXTFILES_URL)/ipxe-git-$(IPXE_GIT_TAG).tar.gz

D=ipxe
T=ipxe.tar.gz

$T:
\tset -e; if ! $(FETCHER) _$T $(IPXE_TARBALL_URL); then \\
\t\t$(GIT) clone $(IPXE_GIT_URL) $D.git; \\
\t\t(cd $D.git && $(GIT) archive --format=tar --prefix=$D/ \\
\t\t$(IPXE_GIT_TAG) | gzip -n >../_$T); \\
\t\trm -rf $D.git; \\
\tfi
\tmv _$T $T
`;

const TOP_MAKEFILE = `# fixture top-level Makefile
.PHONY: mini-os-dir
mini-os-dir:
\tif [ ! -d $(XEN_ROOT)/extras/mini-os ]; then \\
\t\tGIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh \\
\t\t\t$(MINIOS_UPSTREAM_URL) \\
\t\t\t$(MINIOS_UPSTREAM_REVISION) \\
\t\t\t$(XEN_ROOT)/extras/mini-os ; \\
\tfi

.PHONY: mini-os-dir-force-update
mini-os-dir-force-update: mini-os-dir
\tset -ex; \\
\tcd extras/mini-os-remote; \\
\t$(GIT) fetch origin
\t$(GIT) reset --hard $(MINIOS_UPSTREAM_REVISION)
`;

function toolsMakefile(v: XenVariant): string {
  const trad =
    v === '4.19'
      ? `qemu-xen-traditional-dir-find:
\tset -ex; if test -d $(QEMU_TRADITIONAL_LOC); then mkdir -p qemu-xen-traditional-dir; \\
\telse export GIT=$(GIT); $(XEN_ROOT)/scripts/git-checkout.sh $(QEMU_TRADITIONAL_LOC) $(QEMU_TRADITIONAL_REVISION) qemu-xen-traditional-dir; fi

`
      : '';
  return `# fixture tools/Makefile
${trad}qemu-xen-dir-find:
\tif test -d $(QEMU_UPSTREAM_LOC) ; then \\
\t\tmkdir -p qemu-xen-dir; \\
\telse \\
\t\texport GIT=$(GIT); \\
\t\t$(XEN_ROOT)/scripts/git-checkout.sh $(QEMU_UPSTREAM_LOC) $(QEMU_UPSTREAM_REVISION) qemu-xen-dir ; \\
\tfi
`;
}

const FIRMWARE_MAKEFILE = `# fixture tools/firmware/Makefile
ovmf-dir:
\tGIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(OVMF_UPSTREAM_URL) $(OVMF_UPSTREAM_REVISION) ovmf-dir

seabios-dir:
\tGIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(SEABIOS_UPSTREAM_URL) $(SEABIOS_UPSTREAM_REVISION) seabios-dir

seabios-dir-force-update: seabios-dir
\tset -ex; \\
\tif [ "$(SEABIOS_UPSTREAM_REVISION)" ]; then \\
\t\tcd seabios-dir-remote; \\
\t\t$(GIT) fetch origin; \\
\t\t$(GIT) reset --hard $(SEABIOS_UPSTREAM_REVISION); \\
\tfi
`;

const OVMF_MAKEFILE = `# fixture tools/firmware/ovmf-makefile
all: build
build:
\tif test -e .git ; then $(GIT) submodule update --init --recursive ; fi
`;

const GIT_CHECKOUT = `#!/bin/sh
# fixture scripts/git-checkout.sh
TREE=$1
COMMITTISH=$2
DIR=$3
set -e
if test \\! -d $DIR-remote; then
\t$GIT clone $TREE $DIR-remote.tmp
\tcd $DIR-remote.tmp
\t$GIT fetch origin "$COMMITTISH"
\t$GIT checkout -b dummy FETCH_HEAD
\tcd -
\tmv $DIR-remote.tmp $DIR-remote
fi
`;

const MKTARBALL_419 = `#!/bin/bash
# fixture tools/misc/mktarball (4.19 style)
set -ex
cd tools/qemu-xen-dir-remote
scripts/archive-source.sh $tdir/xen-$desc/tools/qemu-xen.tar
`;

const AUTOMATION = `#!/bin/bash
# CI only: not part of make, must not be reported
curl -fsSLO https://example.invalid/rootfs.tar.gz
git clone https://example.invalid/imagebuilder.git
`;

export async function writeXenPinsTree(root: string, variant: XenVariant, opts: XenPinsTreeOptions = {}): Promise<string> {
  const files: Record<string, string> = {
    'Config.mk': configMk(variant),
    'config/StdGNU.mk': '# Allow git to be wrappered in the environment\nGIT ?= git\n',
    Makefile: TOP_MAKEFILE,
    'tools/Makefile': toolsMakefile(variant),
    'tools/Rules.mk': 'XEN_ROOT ?= $(CURDIR)/..\n-include $(XEN_ROOT)/config/Tools.mk\ninclude $(XEN_ROOT)/Config.mk\n',
    'tools/firmware/Makefile': FIRMWARE_MAKEFILE,
    'tools/firmware/ovmf-makefile': OVMF_MAKEFILE,
    'tools/firmware/etherboot/Makefile': ETHERBOOT,
    'stubdom/configure.ac': stubdomConfigureAc(variant),
    'stubdom/Makefile': stubdomMakefile(variant),
    'scripts/git-checkout.sh': GIT_CHECKOUT,
    'automation/scripts/build': AUTOMATION,
    // autoconf output mentions wget only to look for it: never a fetch.
    'stubdom/configure': '#! /bin/sh\n# Extract the first word of "wget", so it can be a program name with args.\nset dummy wget; ac_word=$2\n',
    ...(variant === '4.19' ? { 'tools/misc/mktarball': MKTARBALL_419 } : {}),
    ...(opts.dotConfig !== undefined ? { '.config': opts.dotConfig } : {}),
    ...(opts.stubdomMk !== undefined ? { 'config/Stubdom.mk': opts.stubdomMk } : {}),
    ...opts.extra,
  };
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), text);
  }
  for (const rel of ['scripts/git-checkout.sh', 'automation/scripts/build', 'tools/misc/mktarball']) await chmod(join(root, rel), 0o755).catch(() => {});
  return root;
}

/** A configured stubdom (what `./configure --disable-extfiles` writes), in config/Stubdom.mk syntax. */
export function stubdomMkText(opts: { extfiles: boolean }): string {
  const url = (up: string) => (opts.extfiles ? '$(XEN_EXTFILES_URL)' : up);
  return `FETCHER := /usr/bin/wget -c -O
ZLIB_VERSION := 1.2.3
ZLIB_URL := $(XEN_EXTFILES_URL)
LIBPCI_VERSION := 2.2.9
LIBPCI_URL := ${url('https://mirrors.edge.kernel.org/pub/software/utils/pciutils')}
NEWLIB_VERSION := 1.16.0
NEWLIB_URL := ${url('https://sourceware.org/ftp/newlib')}
LWIP_VERSION := 1.3.0
LWIP_URL := ${url('https://download.savannah.gnu.org/releases/lwip')}
GRUB_VERSION := 0.97
GRUB_URL := ${url('https://alpha.gnu.org/gnu/grub')}
GMP_VERSION := 4.3.2
GMP_URL := ${url('https://gmplib.org/download/gmp/archive')}
POLARSSL_VERSION := 1.1.4
POLARSSL_URL := $(XEN_EXTFILES_URL)
TPMEMU_VERSION := 0.7.4
TPMEMU_URL := $(XEN_EXTFILES_URL)
`;
}

/** Commit the fixture tree in a git repository (for tests that need a HEAD). */
export function gitInit(root: string): void {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@e',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@e',
    GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
  };
  execFileSync('git', ['init', '-q', root], { env });
  execFileSync('git', ['-C', root, 'add', '-A'], { env });
  execFileSync('git', ['-C', root, 'commit', '-qm', 'fixture'], { env });
}
