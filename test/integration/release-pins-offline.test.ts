/**
 * The release tarball builds offline however the tree was configured. A release manager's
 * tree takes its pins from `.config` (mirror URLs on loopback: git daemon and HTTP) and from
 * configure's NEWLIB_URL in config/Stubdom.mk; `xenrel init`, `lock`, `release` cut a tarball
 * from git (Xen's .gitignore lists .config and config/*.mk, so neither is in it). On a
 * "clean machine" — a fresh folder, an empty cache, a default configure's config/*.mk, no
 * .config of its own — every fetch target runs inside a network namespace with no
 * interfaces, then again after `make distclean`: all pass, and the shim served every call.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDocument } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { canUnshareNet, make, run } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { stubdomConfigureAc } from '../helpers/xen-pins-tree.js';
import { STUBDOM_TARBALLS, XenUpstreams, expectedBuilt, writeXenTree } from '../helpers/xen-tree.js';

const tmp = tempDirs();
let up: XenUpstreams;
const netns = canUnshareNet();

beforeAll(async () => {
  up = await XenUpstreams.create();
}, 120_000);
afterAll(async () => {
  await up?.cleanup();
  await tmp.cleanup();
});

/** Bare copies of the upstreams under mirror/ (served by the same git daemon), and the tarballs under /mirror/. */
async function makeMirrors(): Promise<{ git: Record<string, string>; extfiles: string; newlibBase: string }> {
  const git: Record<string, string> = {};
  for (const g of Object.values(up.git)) {
    const rel = `mirror/${g.name}.git`;
    execFileSync('git', ['clone', '--quiet', '--mirror', g.repo.dir, join(up.fixtures.root, rel)], {
      env: up.fixtures.env,
    });
    git[g.name] = up.daemon.url(rel);
  }
  for (const t of Object.values(up.tarballs)) up.http.setFile(`/mirror/xen-extfiles/${t.file}`, t.bytes);
  up.http.setFile(`/configured/newlib/${up.tarballs.newlib!.file}`, up.tarballs.newlib!.bytes);
  return { git, extfiles: `${up.http.url}/mirror/xen-extfiles`, newlibBase: `${up.http.url}/configured/newlib` };
}

interface LogLine {
  tool: string;
  call: string;
  outcome: string;
}
async function readLog(file: string): Promise<LogLine[]> {
  return (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [tool, , call, outcome] = l.split('\t');
      return { tool: tool!, call: call!, outcome: outcome! };
    });
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, env: up.fixtures.env, encoding: 'utf8' });

/** Every target of the fixture that fetches, one by one, then the whole build and the force-update. */
const FETCH_TARGETS: string[][] = [
  ['mini-os-dir'],
  ['-C', 'tools', 'qemu-xen-dir-find'],
  ['-C', 'tools/firmware', 'seabios-dir'],
  ['-C', 'tools/firmware', 'ovmf-dir'],
  ['-C', 'tools/firmware/etherboot', 'ipxe.tar.gz'],
  ...STUBDOM_TARBALLS.map((t) => ['-C', 'stubdom', t]),
  [],
  ['subtree-force-update'],
];

describe('a release cut from a tree configured through .config builds offline', () => {
  test.runIf(!netns && process.env.CI)(
    'CI must be able to make network namespaces (this proof cannot be skipped there)',
    () => {
      expect(netns).toBe(true);
    },
  );

  test.runIf(netns)(
    'init, lock, release; on a clean machine every fetch target passes in a namespace with no network, also after distclean',
    async () => {
      const mirrors = await makeMirrors();
      const tree = await tmp.make('xenrel-rm-tree-');
      await writeXenTree(tree, up);
      // What a default configure writes on the build machine, kept before this tree is reconfigured.
      const configured = await tmp.make('xenrel-configure-');
      for (const f of ['Tools.mk', 'Stubdom.mk']) await copyFile(join(tree, 'config', f), join(configured, f));

      // The release manager's mirror: in .config (Xen's .gitignore lists it) …
      await writeFile(
        join(tree, '.config'),
        [
          '# release manager: everything from our mirror',
          `QEMU_UPSTREAM_URL = ${mirrors.git['qemu-xen']}`,
          `SEABIOS_UPSTREAM_URL = ${mirrors.git.seabios}`,
          `OVMF_UPSTREAM_URL = ${mirrors.git.ovmf}`,
          `MINIOS_UPSTREAM_URL = ${mirrors.git['mini-os']}`,
          `XEN_EXTFILES_URL = ${mirrors.extfiles}`,
          '',
        ].join('\n'),
      );
      // … and configure's NEWLIB_URL=… (AC_ARG_VAR), as config/Stubdom.mk records it.
      const stubdomMk = await readFile(join(tree, 'config/Stubdom.mk'), 'utf8');
      await writeFile(
        join(tree, 'config/Stubdom.mk'),
        stubdomMk.replace(/^NEWLIB_URL := .*$/m, `NEWLIB_URL := ${mirrors.newlibBase}`),
      );
      // Xen's stubdom/configure.ac (versions and default URLs), which the tarball carries.
      await writeFile(join(tree, 'stubdom/configure.ac'), stubdomConfigureAc());
      await writeFile(
        join(tree, '.gitignore'),
        '.config\n/config/Tools.mk\n/config/Stubdom.mk\n/dist/\n/xenrel.config.yaml\n/xenrel.lock\n',
      );
      git(tree, 'init', '--quiet');
      git(tree, 'add', '-A');
      git(tree, 'commit', '--quiet', '-m', 'xen');

      const cache = await tmp.make('xenrel-rm-cache-');
      const env = { XENREL_CACHE: cache, CMAKE: '' };
      const init = await runCli(['init'], { cwd: tree, env });
      expect(init.code, init.stderr).toBe(0);
      // grub2 is xenrel's own pvgrub2 source, not a pin of this tree; there is no network for it here.
      const doc = parseDocument(await readFile(join(tree, 'xenrel.config.yaml'), 'utf8'));
      doc.deleteIn(['components', 'grub2']);
      await writeFile(join(tree, 'xenrel.config.yaml'), doc.toString());
      const cfg = await readFile(join(tree, 'xenrel.config.yaml'), 'utf8');
      expect(cfg).toContain(`git: ${mirrors.git.seabios}`);
      expect(cfg).toContain(`url: ${mirrors.newlibBase}/newlib-1.16.0.tar.gz`);

      const lock = await runCli(['lock'], { cwd: tree, env, timeoutMs: 180_000 });
      expect(lock.code, lock.stderr).toBe(0);
      const out = await tmp.make('xenrel-rm-dist-');
      const rel = await runCli(['release', '--prefix', 'xen-fixture', '--out', out], {
        cwd: tree,
        env,
        timeoutMs: 180_000,
      });
      expect(rel.code, rel.stderr).toBe(0);
      // Every pin the tarball's make asks for is the lock's: release has nothing to warn about.
      expect(rel.stderr).not.toMatch(/would ask for|no make variable/);

      // The clean machine: a fresh folder, an empty cache, a default configure, no .config of its own.
      const fresh = await tmp.make('xenrel-clean-machine-');
      const x = await run('tar', ['-xzf', join(out, 'xen-fixture.tar.gz'), '-C', fresh, '--strip-components=1'], {
        cwd: fresh,
      });
      expect(x.code, x.stderr).toBe(0);
      const dotConfig = await readFile(join(fresh, '.config'), 'utf8');
      expect(dotConfig).not.toContain('release manager');
      expect(dotConfig).toMatch(/^# BEGIN xenrel/);
      await mkdir(join(fresh, 'config'), { recursive: true });
      for (const f of ['Tools.mk', 'Stubdom.mk']) await copyFile(join(configured, f), join(fresh, 'config', f));
      const emptyCache = await tmp.make('xenrel-empty-cache-');
      const log = join(await tmp.make('xenrel-shim-log-'), 'shim.log');
      const makeEnv = { XENREL_SHIM_LOG: log, XENREL_CACHE: emptyCache };

      const round = async (label: string) => {
        await mkdir(join(fresh, 'built'), { recursive: true });
        for (const t of FETCH_TARGETS) {
          const r = await make(fresh, t, { netns: true, env: makeEnv });
          expect(r.code, `${label}: make ${t.join(' ')}\n${r.stderr}`).toBe(0);
        }
        const built: Record<string, string> = {};
        for (const f of await readdir(join(fresh, 'built')))
          if (f !== 'qemu-configure-args.txt') built[f] = await readFile(join(fresh, 'built', f), 'utf8');
        expect(built, label).toEqual(expectedBuilt(up));
      };
      await round('from the tarball');
      const dc = await make(fresh, ['distclean'], { netns: true });
      expect(dc.code, dc.stderr).toBe(0);
      await round('after make distclean');

      const calls = await readLog(log);
      expect(calls.filter((l) => !l.outcome.startsWith('served'))).toEqual([]);
      // Each component was served twice (once per round), from the store, at the mirror URL.
      const clones = calls.filter((l) => l.tool === 'git' && l.call.startsWith('clone '));
      expect(clones.map((l) => l.call.split(' ')[1]).sort()).toEqual(
        [...Object.values(mirrors.git), ...Object.values(mirrors.git)].sort(),
      );
      const fetches = calls.filter((l) => l.tool === 'fetch').map((l) => l.call.split(' ').pop()!);
      expect(fetches).toContain(`${mirrors.newlibBase}/newlib-1.16.0.tar.gz`);
      expect(fetches).toContain(`${mirrors.extfiles}/zlib-1.2.3.tar.gz`);
      expect(fetches.filter((u) => u.startsWith(`${up.extfilesUrl}/`))).toEqual([]);
    },
    600_000,
  );
});
