import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load.js';
import { findConfig } from '../../src/config/find-config.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const good = `version: 1
name: xen
mirrors:
  - https://mirror.example.org/xen-extfiles
components:
  seabios:
    git: https://xenbits.xen.org/git-http/seabios.git
    ref: rel-1.17.0
    path: tools/firmware/seabios-dir-remote
    license: LGPL-3.0-only
  newlib:
    url: https://xenbits.xen.org/xen-extfiles/newlib-1.16.0.tar.gz
    path: stubdom/newlib-1.16.0.tar.gz
`;

function issuesOf(text: string) {
  try {
    parseConfigText(text, 'xenrel.config.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.path}: ${i.message}`);
  }
  throw new Error('expected a config error');
}

describe('manifest', () => {
  it('accepts the documented format', () => {
    const m = parseConfigText(good, 'x.yaml');
    expect(m.components.seabios!.ref).toBe('rel-1.17.0');
    expect(m.mirrors).toEqual(['https://mirror.example.org/xen-extfiles']);
  });

  it('names file, line, column and key path of a wrong type', () => {
    expect(issuesOf(good.replace('ref: rel-1.17.0', 'ref: 17'))).toEqual([
      'xenrel.config.yaml:8:10: components.seabios.ref: expected a string, found number 17',
    ]);
  });

  it('rejects unknown keys with a suggestion', () => {
    const issues = issuesOf(good.replace('license:', 'licence:'));
    expect(issues).toEqual([
      'xenrel.config.yaml:10:5: components.seabios.licence: unknown key "licence" (did you mean "license"?)',
    ]);
    expect(issuesOf(good.replace('mirrors:', 'mirros:'))[0]).toContain('(did you mean "mirrors"?)');
    expect(issuesOf(`${good}zzzqqq: 1\n`)[0]).toMatch(/unknown key "zzzqqq"$/);
  });

  it('reports syntax errors with a position', () => {
    const issues = issuesOf('version: 1\nname: [x\n');
    expect(issues[0]).toMatch(/^xenrel\.config\.yaml:\d+:\d+: : syntax error/);
  });

  it('rejects duplicate keys', () => {
    expect(issuesOf(good.replace('    ref: rel-1.17.0\n', '    ref: rel-1.17.0\n    ref: rel-1.16.0\n'))[0]).toMatch(
      /:9:\d+: : syntax error: .*unique/i,
    );
  });

  it('checks sources, refs and paths', () => {
    expect(issuesOf(good.replace('    ref: rel-1.17.0\n', ''))).toEqual([
      'xenrel.config.yaml:7:10: components.seabios.git: a git source needs "ref" (a tag, branch or commit)',
    ]);
    expect(issuesOf(good.replace('path: stubdom/newlib', 'path: ../stubdom/newlib'))[0]).toContain(
      'components.newlib.path: must not contain ".."',
    );
    expect(issuesOf(good.replace('path: stubdom/newlib', 'path: /stubdom/newlib'))[0]).toContain('must be relative');
    expect(
      issuesOf(good.replace('path: stubdom/newlib-1.16.0.tar.gz', 'path: tools/firmware/seabios-dir-remote/x'))[0],
    ).toContain(
      'components.newlib.path: path "tools/firmware/seabios-dir-remote/x" overlaps the path of component "seabios"',
    );
    expect(
      issuesOf(`${good}  both:\n    git: https://a/b.git\n    ref: v1\n    url: https://a/b.tgz\n    path: x\n`)[0],
    ).toContain('more than one source');
    expect(issuesOf(good.replace('version: 1', 'version: 2'))[0]).toContain('version: expected 1');
    expect(issuesOf(good.replace('url: https://', 'url: ftp:x'))[0]).toContain('components.newlib.url: expected a URL');
  });

  it('reports every problem at once, in file order', () => {
    const issues = issuesOf(good.replace('ref: rel-1.17.0', 'ref: [1]').replace('license:', 'licenze:'));
    expect(issues).toHaveLength(2);
    expect(issues[0]).toContain(':8:');
    expect(issues[1]).toContain(':10:');
  });

  it('finds the config from a subfolder, in package.json, or by --config', async () => {
    const root = await tmp.make();
    await writeFile(join(root, 'xenrel.config.yaml'), good);
    await mkdir(join(root, 'tools', 'misc'), { recursive: true });
    expect(await findConfig(join(root, 'tools', 'misc'))).toBe(join(root, 'xenrel.config.yaml'));
    const loaded = await loadConfig({ cwd: join(root, 'tools') });
    expect(loaded.root).toBe(root);

    const pkg = await tmp.make();
    await writeFile(
      join(pkg, 'package.json'),
      JSON.stringify(
        {
          name: 'x',
          xenrel: { version: 1, name: 'xen', components: { a: { url: 'https://e/a.tgz', path: 'a.tgz', pathh: 1 } } },
        },
        null,
        2,
      ),
    );
    await expect(loadConfig({ cwd: pkg })).rejects.toThrow(
      /package\.json:\d+:\d+: components\.a\.pathh: unknown key "pathh" \(did you mean "path"\?\)/,
    );

    const other = await tmp.make();
    await writeFile(join(other, 'custom.yaml'), good);
    expect((await loadConfig({ cwd: pkg, config: join(other, 'custom.yaml') })).config.name).toBe('xen');
    await expect(loadConfig({ cwd: other, config: 'missing.yaml' })).rejects.toMatchObject({
      code: 'E_NO_CONFIG',
      exitCode: 2,
    });
  });

  it('says where it looked when there is no config', async () => {
    const empty = await tmp.make();
    await writeFile(join(empty, 'package.json'), '{}');
    await expect(findConfig(empty)).rejects.toMatchObject({ code: 'E_NO_CONFIG', exitCode: 2 });
  });

  it('an empty config file is found and said to be empty; an empty package.json is passed over', async () => {
    const root = await tmp.make();
    await writeFile(join(root, 'xenrel.config.yaml'), good);
    await writeFile(join(root, 'package.json'), '');
    expect(await findConfig(root)).toBe(join(root, 'xenrel.config.yaml'));
    const sub = join(root, 'sub');
    await mkdir(sub);
    await writeFile(join(sub, 'xenrel.config.yaml'), '# to be written\n\n');
    expect(await findConfig(sub)).toBe(join(sub, 'xenrel.config.yaml'));
    await expect(loadConfig({ cwd: sub })).rejects.toThrow(/xenrel\.config\.yaml:1:1: the file is empty/);
  });
});
