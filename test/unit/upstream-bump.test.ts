import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { newerTags, parseTagVersion } from '../../src/upstream/versions.js';
import { setConfigScalar } from '../../src/bump/config-edit.js';
import { applyLineEdits, planLineEdit } from '../../src/bump/make-edit.js';
import { versionInUrl } from '../../src/bump/bump.js';
import { byHashPath, gitBaseName, gitMirrorCandidates, tarballFileName } from '../../src/layout/mirror.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

describe('newerTags', () => {
  const tags = [
    'rel-1.15.0',
    'rel-1.16.0',
    'rel-1.16.3',
    'rel-1.17.0',
    'rel-1.9.0',
    'rel-1.17.0-rc1',
    'rel-1.18',
    'v1.20.0',
    'qemu-xen-4.22.0',
    'qemu-xen-4.23.0',
    'qemu-xen-4.3.0',
    'qemu-xen-4.23.0-rc2',
  ];
  it.each([
    ['rel-1.16.0', ['rel-1.18', 'rel-1.17.0', 'rel-1.16.3']],
    ['rel-1.17.0', ['rel-1.18']],
    ['rel-1.18', []],
    ['qemu-xen-4.22.0', ['qemu-xen-4.23.0']],
    ['qemu-xen-4.23.0-rc1', ['qemu-xen-4.23.0-rc2']],
    ['master', []],
  ])('after %s: %j', (pin, want) => {
    expect(newerTags(pin, tags)).toEqual(want);
  });
  it('numbers compare as numbers, single-number series stay apart', () => {
    expect(newerTags('edk2-stable202405', ['edk2-stable202408', 'edk2-stable202311', 'edk2-stable2024.08'])).toEqual([
      'edk2-stable202408',
    ]);
    expect(parseTagVersion('xen-RELEASE-4.19.0')).toMatchObject({
      prefix: 'xen-RELEASE-',
      core: [4, 19, 0],
      suffixShape: '',
    });
  });
});

describe('setConfigScalar', () => {
  const yaml = `# my config
version: 1
name: xen
components:
  # SEABIOS_UPSTREAM_REVISION (Config.mk:3)
  seabios:
    git: https://example.org/seabios.git
    ref: rel-1.16.0   # pinned for 4.19
    path: tools/firmware/seabios-dir-remote
    vars: [SEABIOS_UPSTREAM_URL, SEABIOS_UPSTREAM_REVISION]
  newlib:
    url: 'https://example.org/newlib-1.16.0.tar.gz'
    path: stubdom/newlib-1.16.0.tar.gz
`;
  it('changes only the value, keeping comments, layout and quoting', () => {
    const out = setConfigScalar(yaml, 'xenrel.config.yaml', ['components', 'seabios', 'ref'], 'rel-1.17.0');
    expect(out).toBe(yaml.replace('ref: rel-1.16.0   #', 'ref: rel-1.17.0   #'));
    const out2 = setConfigScalar(
      yaml,
      'xenrel.config.yaml',
      ['components', 'newlib', 'url'],
      "https://example.org/newlib-2.0's.tar.gz",
    );
    expect(out2).toContain("url: 'https://example.org/newlib-2.0''s.tar.gz'");
    expect(parse(out2).components.newlib.url).toBe("https://example.org/newlib-2.0's.tar.gz");
  });
  it('quotes what would not read back as the same string', () => {
    for (const v of ['1.20', 'yes', 'a: b', '#x', '0123']) {
      const out = setConfigScalar(yaml, 'c.yaml', ['components', 'seabios', 'ref'], v);
      expect(parse(out).components.seabios.ref).toBe(v);
    }
  });
  it('edits JSON configs and package.json', () => {
    const json =
      '{\n  "xenrel": {\n    "components": { "seabios": { "git": "x", "ref": "rel-1.16.0", "path": "p" } }\n  },\n  "name": "pkg"\n}\n';
    const out = setConfigScalar(json, '/x/package.json', ['components', 'seabios', 'ref'], 'rel-1.17.0');
    expect(out).toBe(json.replace('"rel-1.16.0"', '"rel-1.17.0"'));
    expect(JSON.parse(out).xenrel.components.seabios.ref).toBe('rel-1.17.0');
  });
  it('refuses a missing key', () => {
    expect(() => setConfigScalar(yaml, 'c.yaml', ['components', 'nope', 'ref'], 'x')).toThrow(
      /no value at components\.nope\.ref/,
    );
  });
});

describe('make variable edits', () => {
  it('rewrites the value of the assignment line and nothing else', async () => {
    const root = await tmp.make();
    const text =
      '# Config.mk\nSEABIOS_UPSTREAM_URL ?= https://x/seabios.git\nSEABIOS_UPSTREAM_REVISION ?= rel-1.16.0 # tag\nOTHER := rel-1.16.0\n';
    await writeFile(join(root, 'Config.mk'), text);
    const e = await planLineEdit(root, 'Config.mk', 3, 'SEABIOS_UPSTREAM_REVISION', 'rel-1.16.0', 'rel-1.17.0');
    expect(e).toMatchObject({ file: 'Config.mk', line: 3, after: 'SEABIOS_UPSTREAM_REVISION ?= rel-1.17.0 # tag' });
    await applyLineEdits(root, [e as Exclude<typeof e, { refused: string }>]);
    expect(await readFile(join(root, 'Config.mk'), 'utf8')).toBe(text.replace('?= rel-1.16.0', '?= rel-1.17.0'));
  });
  it('refuses a value it cannot find exactly once, and a version inside a longer word', async () => {
    const root = await tmp.make();
    await writeFile(
      join(root, 'Config.mk'),
      'A ?= $(B)\nC := 1.16.0 1.16.0\nD := newlib-1.16.0.tar.gz\nAX_STUBDOM_LIB([NEWLIB], [newlib], [1.16.0])\n',
    );
    expect(await planLineEdit(root, 'Config.mk', 1, 'A', 'rel-1', 'rel-2')).toHaveProperty('refused');
    expect(await planLineEdit(root, 'Config.mk', 2, 'C', '1.16.0', '2.0')).toHaveProperty('refused');
    expect(await planLineEdit(root, 'Config.mk', 3, 'D', '1.16.0', '2.0')).toHaveProperty('refused');
    expect(await planLineEdit(root, 'Config.mk', 4, 'NEWLIB_VERSION', '1.16.0', '4.4.0')).toMatchObject({
      after: 'AX_STUBDOM_LIB([NEWLIB], [newlib], [4.4.0])',
    });
    expect(await planLineEdit(root, '../etc/passwd', 1, 'A', 'x', 'y')).toHaveProperty('refused');
  });
});

describe('names', () => {
  it('versionInUrl', () => {
    expect(versionInUrl('https://x/newlib-1.16.0.tar.gz')).toBe('1.16.0');
    expect(versionInUrl('https://x/polarssl-1.1.4-gpl.tgz')).toBe('1.1.4');
    expect(versionInUrl('https://x/grub-0.97.tar.gz')).toBe('0.97');
    expect(versionInUrl('https://x/ipxe-git-1dd56dbd11082fb622c2ed21cfaced4f47d798a6.tar.gz')).toBe(
      '1dd56dbd11082fb622c2ed21cfaced4f47d798a6',
    );
    expect(versionInUrl('https://x/file.tar.gz')).toBeUndefined();
  });
  it('mirror layout', () => {
    expect(gitBaseName('https://xenbits.xen.org/git-http/seabios.git')).toBe('seabios');
    expect(gitBaseName('git@host:org/mini-os.git/')).toBe('mini-os');
    expect(gitMirrorCandidates('http://m/xen/', 'https://h/qemu-xen.git')[0]).toBe('http://m/xen/git/qemu-xen.git');
    expect(gitMirrorCandidates('http://m', 'https://h/a/qemu-xen.git')[1]).toMatch(
      /^http:\/\/m\/git\/qemu-xen-[0-9a-f]{12}\.git$/,
    );
    expect(tarballFileName('https://h/p/zlib-1.2.3.tar.gz')).toBe('zlib-1.2.3.tar.gz');
    expect(tarballFileName('https://h/p/..%2Fx')).toBeUndefined();
    expect(tarballFileName('https://h/p/')).toBeUndefined();
    expect(tarballFileName('https://h/xenrel-mirror.json')).toBeUndefined();
    expect(byHashPath(`sha512-${Buffer.alloc(64, 1).toString('base64')}`)).toBe(`by-hash/sha512/${'01'.repeat(64)}`);
  });
});
