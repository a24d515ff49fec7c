import { afterAll, describe, expect, it } from 'vitest';
import { scanFetches, formatSite } from '../../src/xen/scan-fetches.js';
import { tempDirs } from '../helpers/tmp.js';
import { stubdomMkText, writeXenPinsTree } from '../helpers/xen-pins-tree.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

describe('scanFetches', () => {
  it('maps every fetch of a 4.22-like tree to its component, with file:line', async () => {
    // configure's config/Stubdom.mk says `FETCHER := /usr/bin/wget -c -O`: a tool, not a fetch.
    const root = await writeXenPinsTree(await tmp.make(), '4.22', {
      stubdomMk: stubdomMkText({ extfiles: true }),
      dotConfig: 'GIT = /usr/bin/git\n',
    });
    const { sites, unmapped } = await scanFetches(root);
    expect(unmapped).toEqual([]);
    expect(sites.some((s) => s.file.startsWith('config/') || s.file === '.config')).toBe(false);
    const at = (file: string, line: number) => sites.find((s) => s.file === file && s.line === line);
    expect(at('Makefile', 4)).toMatchObject({
      kind: 'git-checkout',
      component: 'mini-os',
      via: '$(MINIOS_UPSTREAM_URL)',
    });
    // `git fetch origin` names no variable; its recipe's `reset --hard $(MINIOS_UPSTREAM_REVISION)` does.
    expect(at('Makefile', 13)).toMatchObject({ kind: 'git', component: 'mini-os', via: '$(MINIOS_UPSTREAM_REVISION)' });
    expect(at('tools/Makefile', 3)).toMatchObject({ kind: 'git-checkout', component: 'qemu-xen' });
    expect(at('tools/firmware/etherboot/Makefile', 17)).toMatchObject({ kind: 'fetcher', component: 'ipxe' });
    // Recipe lines that run git-checkout.sh with GIT in its environment (tools/firmware/Makefile
    // in 4.19, 4.22 and master) are fetches, not tool assignments.
    expect(at('tools/firmware/Makefile', 3)).toMatchObject({
      kind: 'git-checkout',
      component: 'ovmf',
      via: '$(OVMF_UPSTREAM_URL)',
    });
    expect(at('tools/firmware/Makefile', 6)).toMatchObject({
      kind: 'git-checkout',
      component: 'seabios',
      via: '$(SEABIOS_UPSTREAM_URL)',
    });
    expect(at('tools/firmware/ovmf-makefile', 4)).toMatchObject({ kind: 'git', component: 'ovmf' });
    const stub = sites.filter((s) => s.file === 'stubdom/Makefile').map((s) => s.component);
    expect(stub).toEqual(['newlib', 'zlib', 'pciutils', 'lwip', 'gmp', 'polarssl', 'tpm_emulator', 'grub-legacy']);
    expect(sites.filter((s) => s.file === 'scripts/git-checkout.sh').map((s) => s.kind)).toEqual(['git', 'git']);
    // CI scripts and autoconf output are not build fetches.
    expect(sites.some((s) => s.file.startsWith('automation/'))).toBe(false);
    expect(sites.some((s) => s.file === 'stubdom/configure')).toBe(false);
  });

  it("4.19: qemu-xen-traditional and mktarball's archive-source.sh are mapped", async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.19');
    const { sites, unmapped } = await scanFetches(root);
    expect(unmapped).toEqual([]);
    expect(sites.find((s) => s.component === 'qemu-xen-traditional')?.file).toBe('tools/Makefile');
    expect(sites.find((s) => s.kind === 'archive-source')).toMatchObject({
      file: 'tools/misc/mktarball',
      component: 'qemu-xen',
    });
  });

  it("reports a fork's new download it cannot map, with file and line; comments are not fetches", async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22', {
      extra: {
        'tools/libfoo/Makefile':
          '# wget is not used here\nlibfoo.tar.gz:\n\twget -O $@ https://example.org/libfoo.tar.gz\n\nbar:\n\t$(GIT) clone $(BAR_URL) bar\n',
        'tools/helpers/get-deps': '#!/bin/bash\nset -e\ncurl -fLO https://example.org/deps.tar.gz\n',
        'tools/helpers/notes.txt': 'curl https://example.org/ignored-not-a-build-file\n',
      },
    });
    const { unmapped } = await scanFetches(root);
    expect(unmapped.map(formatSite)).toEqual([
      'tools/helpers/get-deps:3: curl -fLO https://example.org/deps.tar.gz',
      'tools/libfoo/Makefile:3: wget -O $@ https://example.org/libfoo.tar.gz',
      'tools/libfoo/Makefile:6: $(GIT) clone $(BAR_URL) bar',
    ]);
    expect(unmapped.map((s) => s.kind)).toEqual(['curl', 'wget', 'git']);
  });

  it("a fork's foobios-dir in the GIT=$(GIT) git-checkout.sh style is reported; plain assignments are not", async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22', {
      extra: {
        'tools/firmware/foobios.mk': [
          'FOOBIOS_UPSTREAM_URL ?= https://example.org/foobios.git',
          'GIT ?= git',
          'foobios-dir:',
          '\tGIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(FOOBIOS_UPSTREAM_URL) $(FOOBIOS_UPSTREAM_REVISION) foobios-dir',
          'tool-only:',
          '\tGIT=$(GIT); export GIT',
          '',
        ].join('\n'),
        'tools/helpers/env.sh': '#!/bin/sh\nGIT="git --no-pager"\nexport FETCHER=wget\n',
      },
    });
    const { unmapped } = await scanFetches(root);
    expect(unmapped.map(formatSite)).toEqual([
      'tools/firmware/foobios.mk:4: GIT=$(GIT) $(XEN_ROOT)/scripts/git-checkout.sh $(FOOBIOS_UPSTREAM_URL) $(FOOBIOS_UPSTREAM_REVISION) foobios-dir',
    ]);
    expect(unmapped[0]!.kind).toBe('git-checkout');
  });

  it("maps a fork's stubdom library once the config has a component naming its variables", async () => {
    const root = await writeXenPinsTree(await tmp.make(), '4.22', {
      extra: { 'stubdom/extra.mk': 'libfoo-$(LIBFOO_VERSION).tar.gz:\n\t$(FETCHER) $@ $(LIBFOO_URL)/$@\n' },
    });
    expect((await scanFetches(root)).unmapped.map((s) => s.file)).toEqual(['stubdom/extra.mk']);
    const components = {
      libfoo: {
        url: 'https://example.org/libfoo-1.tar.gz',
        path: 'stubdom/libfoo-1.tar.gz',
        vars: ['LIBFOO_URL', 'LIBFOO_VERSION'],
      },
    };
    const again = await scanFetches(root, { components });
    expect(again.sites.find((s) => s.file === 'stubdom/extra.mk')).toMatchObject({ component: 'libfoo', line: 2 });
  });
});
