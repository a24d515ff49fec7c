import { sriHex } from '../util/sri.js';
import { readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { isLockedTarball } from '../model/kind.js';
import type { LockedComponent, Lockfile } from '../model/lock.js';
import { XENREL_DIR, storeKind, storeRel } from '../layout/xenrel-dir.js';

/**
 * pvgrub2: upstream GRUB 2 built for the Xen platform, the make target the Xen packagers
 * asked for. Xen's own tree has no GRUB 2 build, so `vendor` writes `.xenrel/Makefile`
 * and the target lives there — `make -C .xenrel pvgrub2` — where it cannot change Xen's
 * default goal or any of Xen's variables.
 *
 * The source is the vendored `grub2` component from the store (never the network): best a
 * release tarball (`grub-2.12.tar.xz`), which carries a generated `configure` and gnulib;
 * a git checkout would need `./bootstrap`, which clones gnulib. Per image, in
 * `.xenrel/build/pvgrub2/<target>/`: `configure --target=<cpu> --with-platform=<xen|xen_pvh>`,
 * `make`, then that build's own `grub-mkimage -O <target>` writes
 * `.xenrel/build/pvgrub2/grub-<target>.bin`. Everything runs offline.
 */

export const PVGRUB2_COMPONENT = 'grub2';
export const PVGRUB2_MAKEFILE = `${XENREL_DIR}/Makefile`;
export const PVGRUB2_BUILD_DIR = `${XENREL_DIR}/build`;

/** The Makefile text for the locked grub2 component, or undefined when there is none (or it is left out). */
export function renderPvgrub2Makefile(lock: Lockfile, without: string[]): string | undefined {
  const c: LockedComponent | undefined = lock.components[PVGRUB2_COMPONENT];
  if (!c || without.includes(PVGRUB2_COMPONENT)) return undefined;
  const src = storeRel(PVGRUB2_COMPONENT, c).slice(XENREL_DIR.length + 1);
  const isFile = storeKind(c) === 'file';
  const sha512 = isFile && isLockedTarball(c) ? sriHex(c.integrity, 'sha512') : undefined;
  const unpack = isFile
    ? [
        ...(sha512
          ? [
              `\t@echo '${sha512}  $(GRUB2_SOURCE)' | sha512sum -c --quiet - || { echo 'pvgrub2: $(GRUB2_SOURCE) does not match xenrel.lock; run xenrel vendor' >&2; exit 1; }`,
            ]
          : []),
        '\trm -rf $(PVGRUB2_BUILD)/src $(PVGRUB2_BUILD)/src.tmp && mkdir -p $(PVGRUB2_BUILD)/src.tmp',
        '\ttar -xf $(GRUB2_SOURCE) -C $(PVGRUB2_BUILD)/src.tmp --strip-components=1 --no-same-owner',
      ]
    : [
        '\trm -rf $(PVGRUB2_BUILD)/src $(PVGRUB2_BUILD)/src.tmp && mkdir -p $(PVGRUB2_BUILD)',
        '\tcp -R $(GRUB2_SOURCE) $(PVGRUB2_BUILD)/src.tmp',
        "\t@test -x $(PVGRUB2_BUILD)/src.tmp/configure || { echo 'pvgrub2: the grub2 source has no configure script: a git checkout needs ./bootstrap, which downloads gnulib; pin the GRUB release tarball (grub-X.Y.tar.xz) instead' >&2; exit 1; }",
      ];
  return `# pvgrub2 — written by \`xenrel vendor\` from xenrel.lock; do not edit.
#
#   make -C .xenrel pvgrub2         build grub-<target>.bin for every PVGRUB2_TARGETS
#   make -C .xenrel pvgrub2-clean   remove .xenrel/build/pvgrub2
#
# GRUB 2 (component ${PVGRUB2_COMPONENT}, ${isLockedTarball(c) ? c.url : basename(c.path)}) is taken from the
# vendored store, checked against the lock, configured per target with
# --target=<cpu> --with-platform=<xen|xen_pvh>, built, and packed with that build's own
# grub-mkimage. Nothing is downloaded. Variables you may set on the command line:
#   PVGRUB2_TARGETS         x86_64-xen i386-xen i386-xen_pvh (GRUB's -O names)
#   PVGRUB2_CONFIGURE_ARGS  extra configure arguments (e.g. TARGET_CC=...)
#   PVGRUB2_MODULES         modules built into each image
#   PVGRUB2_PREFIX          GRUB's prefix inside the guest
XENREL_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
GRUB2_SOURCE := $(XENREL_DIR)/${src}
PVGRUB2_BUILD := $(XENREL_DIR)/build/pvgrub2
PVGRUB2_TARGETS ?= x86_64-xen i386-xen i386-xen_pvh
PVGRUB2_CONFIGURE_ARGS ?=
PVGRUB2_MODULES ?= normal configfile linux search search_fs_file search_label search_fs_uuid part_msdos part_gpt ext2 xfs btrfs iso9660 fat echo test cat ls reboot halt
PVGRUB2_PREFIX ?= /boot/grub
MAKEFLAGS += --no-builtin-rules
# Keep the stamps and config.status between runs (they are made by pattern rules).
.SECONDARY:

cpu = $(firstword $(subst -, ,$(1)))
platform = $(patsubst $(call cpu,$(1))-%,%,$(1))

.PHONY: all pvgrub2 pvgrub2-clean
all: pvgrub2
pvgrub2: $(foreach t,$(PVGRUB2_TARGETS),$(PVGRUB2_BUILD)/grub-$(t).bin)
\t@echo 'pvgrub2: images in $(PVGRUB2_BUILD): $(notdir $^)'

$(PVGRUB2_BUILD)/src/.unpacked: $(GRUB2_SOURCE)
${unpack.join('\n')}
\t@# The GRUB 2.12 release tarball lacks grub-core/extra_deps.lst, which its build needs (fixed after 2.12).
\ttest -f $(PVGRUB2_BUILD)/src.tmp/grub-core/extra_deps.lst || echo 'depends bli part_gpt' >$(PVGRUB2_BUILD)/src.tmp/grub-core/extra_deps.lst
\tmv $(PVGRUB2_BUILD)/src.tmp $(PVGRUB2_BUILD)/src
\ttouch $@

$(PVGRUB2_BUILD)/%/config.status: $(PVGRUB2_BUILD)/src/.unpacked
\tmkdir -p $(@D)
\tcd $(@D) && $(PVGRUB2_BUILD)/src/configure --target=$(call cpu,$*) --with-platform=$(call platform,$*) --disable-werror $(PVGRUB2_CONFIGURE_ARGS)

$(PVGRUB2_BUILD)/%/.built: $(PVGRUB2_BUILD)/%/config.status
\t$(MAKE) -C $(@D)
\ttouch $@

$(PVGRUB2_BUILD)/%/bootstrap.cfg:
\tmkdir -p $(@D)
\tprintf 'search --no-floppy --set=root --file $(PVGRUB2_PREFIX)/grub.cfg\\nset prefix=($$root)$(PVGRUB2_PREFIX)\\nconfigfile $(PVGRUB2_PREFIX)/grub.cfg\\n' >$@

$(PVGRUB2_BUILD)/grub-%.bin: $(PVGRUB2_BUILD)/%/.built $(PVGRUB2_BUILD)/%/bootstrap.cfg
\tcd $(PVGRUB2_BUILD)/$* && ./grub-mkimage -d grub-core -O $* -c bootstrap.cfg -p $(PVGRUB2_PREFIX) -o $@.tmp $(PVGRUB2_MODULES)
\tmv $@.tmp $@

pvgrub2-clean:
\trm -rf $(PVGRUB2_BUILD)
`;
}

/** Writes (or removes) `.xenrel/Makefile`; true when something changed. */
export async function installPvgrub2(treeRoot: string, lock: Lockfile, without: string[]): Promise<boolean> {
  const file = join(treeRoot, PVGRUB2_MAKEFILE);
  const text = renderPvgrub2Makefile(lock, without);
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    if (old === undefined) return false;
    await rm(file, { force: true });
    return true;
  }
  if (old === text && (await stat(file).catch(() => undefined))) return false;
  await writeFileAtomic(file, text, 0o644);
  return true;
}
