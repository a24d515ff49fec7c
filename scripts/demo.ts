/**
 * `npm run demo`: the whole pipeline on a generated sample. It makes a small Xen-like tree
 * (Makefiles that fetch the way Xen's do) and its upstreams (git repositories served by
 * `git daemon` and tarballs on an HTTP server, both on 127.0.0.1), then runs xenrel as a
 * release manager and a packager would: lock, fetch, vendor, release, verify, reproduce, and finally
 * `make` on the extracted tarball inside a network namespace with no network at all.
 *
 * `npm run demo -- --xenrel /path/to/bin/xenrel` runs a given xenrel (an installed package)
 * instead of this checkout's dist/cli.js.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XenUpstreams, fixtureConfigYaml, writeXenTree } from '../test/helpers/xen-tree.js';
import { canUnshareNet, make, run } from '../test/helpers/netns.js';

const given = process.argv.indexOf('--xenrel');
const BIN = given >= 0 ? process.argv[given + 1] : undefined;
if (given >= 0 && !BIN) throw new Error('--xenrel needs the path of a xenrel executable');
/** The xenrel to run: a given executable as is, else this checkout's build under this Node. */
const XENREL: [string, string[]] = BIN
  ? [BIN, []]
  : [process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url))]];
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const indent = (s: string) =>
  s
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

let failures = 0;

async function step(
  title: string,
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; expect?: number },
) {
  const shown = cmd === XENREL[0] ? ['xenrel', ...args.slice(XENREL[1].length)] : [cmd, ...args];
  console.log(`\n${bold(`== ${title}`)}\n  $ ${shown.join(' ')}`);
  const r = await new Promise<{ code: number; out: string }>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
  if (r.out.trim()) console.log(indent(r.out));
  const want = opts.expect ?? 0;
  console.log(r.code === want ? `  -> exit ${r.code}` : `  -> exit ${r.code}, expected ${want}: DEMO FAILED HERE`);
  if (r.code !== want) failures++;
  return r;
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'xenrel-demo-'));
  console.log(bold('xenrel demo'));
  if (BIN) console.log(`running ${BIN}`);
  console.log(`working in ${work}`);
  console.log('starting the sample upstreams: git daemon and an HTTP server for tarballs, on 127.0.0.1 ...');
  const up = await XenUpstreams.create();
  try {
    const tree = join(work, 'xen');
    const cache = join(work, 'cache');
    const env = { XENREL_CACHE: cache, ...up.fixtures.env };
    const xenrel = (title: string, args: string[], expect = 0) =>
      step(title, XENREL[0], [...XENREL[1], ...args], { cwd: tree, env, expect });

    await writeXenTree(tree, up, { xenVersion: '4.22' });
    await writeFile(
      join(tree, 'xenrel.config.yaml'),
      fixtureConfigYaml(up).replace('name: xen-fixture\n', 'name: xen\nrelease:\n  version: 4.22.0\n'),
    );
    for (const args of [
      ['init', '-q'],
      ['add', '-A'],
      ['commit', '-q', '-m', 'Xen-like sample tree'],
    ])
      await run('git', args, { cwd: tree, env: up.fixtures.env });
    console.log(
      `sample Xen-like tree with ${Object.keys(up.git).length} git and ${Object.keys(up.tarballs).length} tarball components written to ${tree}`,
    );

    await xenrel('resolve every pin into xenrel.lock', ['lock']);
    await xenrel('what the lock says, and what the cache holds', ['status']);
    await xenrel('fetch (already in the cache from locking: nothing is downloaded twice)', ['fetch']);
    await xenrel('prove the cache is complete without any network', ['fetch', '--offline']);
    await xenrel('lock --check: has upstream moved? (the CI check)', ['lock', '--check']);
    await xenrel('vendor the sources into the tree and install the shim', ['vendor']);
    await xenrel('vendor --check: the tree matches the lock', ['vendor', '--check']);
    await xenrel('cut the release tarball', ['release', '--out', join(work, 'dist')]);
    const tarball = join(work, 'dist', 'xen-4.22.0.tar.gz');
    await xenrel('verify it as a packager would, offline', ['verify', tarball]);
    await xenrel('and against upstream, re-fetching every pin into a temporary cache', [
      'verify',
      tarball,
      '--upstream',
    ]);
    const again = await xenrel(
      'prove it reproduces: cut it again elsewhere (other path, umask, locale, time zone, mtimes, user) and compare bytes',
      ['release', '--reproduce', tarball],
    );
    if (!/^reproduced xen-4\.22\.0\.tar\.gz byte for byte: sha256 [0-9a-f]{64}$/m.test(again.out)) {
      console.log('  -> no "reproduced" line: DEMO FAILED HERE');
      failures++;
    }
    await step('check the published checksum', 'sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(work, 'dist') });

    const unpacked = join(work, 'unpacked');
    await step(
      'extract the tarball somewhere new',
      'sh',
      ['-c', `mkdir -p '${unpacked}' && tar -xzf '${tarball}' -C '${unpacked}'`],
      { cwd: work },
    );
    const src = join(unpacked, 'xen-4.22.0');
    if (canUnshareNet()) {
      const log = join(work, 'shim.log');
      console.log(
        `\n${bold('== make on the extracted tarball inside a network namespace with no interfaces')}\n  $ unshare -rn make   (XENREL_SHIM_LOG=${log})`,
      );
      const r = await make(src, [], { netns: true, env: { XENREL_SHIM_LOG: log } });
      console.log(indent((r.stdout + r.stderr).split('\n').slice(-12).join('\n')));
      if (r.code !== 0) failures++;
      console.log(r.code === 0 ? '  -> exit 0: the whole build ran offline' : `  -> exit ${r.code}: DEMO FAILED HERE`);
      const served = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
      console.log(`  the shim served ${served.length} fetch requests from the tarball's own store, for example:`);
      for (const l of served.slice(0, 4)) console.log(`    ${l.split('\t').slice(0, 4).join('  ')}`);
      const built = await run('sh', ['-c', 'ls built'], { cwd: src });
      console.log(`  built/: ${built.stdout.trim().split('\n').join(' ')}`);
    } else {
      console.log('\n(skipping the offline make: this machine does not allow `unshare -rn`)');
    }
  } finally {
    await up.cleanup();
    await rm(work, { recursive: true, force: true });
  }
  console.log(failures ? `\n${failures} step(s) failed` : `\n${bold('demo complete')}: every step behaved as expected`);
  process.exitCode = failures ? 1 : 0;
}

await main();
