// npm run bench — xenrel's commands side by side with the standard tools, in one run.
//
// Workloads (sizes settable, defaults in brackets):
//   XENREL_BENCH_MB=190        generated tree: text files of varied size + incompressible blobs
//   XENREL_BENCH_FILES=20000   text files in it
//   XENREL_BENCH_HASH_FILES=4000  files in the tree `xenrel hash` is timed on
//   XENREL_BENCH_RUNS=3        pairs per comparison
//   XENREL_BENCH_BIG_MB=0      also a git tree of this size (e.g. 600), for peak RSS only
//   XENREL_BENCH_XEN=DIR       a Xen git repository (e.g. a bare mirror), released at
//   XENREL_BENCH_XEN_REF=RELEASE-4.22.0
//   XENREL_BENCH_KEEP=1        keep the work folder
//   XENREL_BENCH_ONLY=verify,hash  only these groups (release, verify, hash, startup, noop, xen, big);
//                              verify without release makes its tarball with one untimed release
//
// Every measurement runs the command a user runs (the built `xenrel`, through its #! line)
// and the baseline, alternately: A B A B … (A B C for two baselines). Each pair gives a
// ratio; the median of those ratios is printed, so drift of a shared machine during the
// run cancels out. Peak RSS is of the whole process tree (git and gzip children count),
// sampled from /proc every 20 ms.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  rmSync,
  statSync,
  readFileSync,
  readdirSync,
  existsSync,
} from 'node:fs';
import { tmpdir, availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const env = process.env;
const num = (k, d) => (env[k] !== undefined && env[k] !== '' ? Number(env[k]) : d);
const MB = num('XENREL_BENCH_MB', 190);
const FILES = num('XENREL_BENCH_FILES', 20000);
const HASH_FILES = num('XENREL_BENCH_HASH_FILES', 4000);
const RUNS = num('XENREL_BENCH_RUNS', 3);
const BIG_MB = num('XENREL_BENCH_BIG_MB', 0);
const XEN = env.XENREL_BENCH_XEN;
const XEN_REF = env.XENREL_BENCH_XEN_REF || 'RELEASE-4.22.0';
const KEEP = env.XENREL_BENCH_KEEP === '1';
const GROUPS = ['release', 'verify', 'hash', 'startup', 'noop', 'xen', 'big'];
const ONLY = env.XENREL_BENCH_ONLY ? env.XENREL_BENCH_ONLY.split(',').map((g) => g.trim()) : GROUPS;
for (const g of ONLY)
  if (!GROUPS.includes(g)) throw new Error(`XENREL_BENCH_ONLY: unknown group ${g} (known: ${GROUPS.join(', ')})`);
const want = (g) => ONLY.includes(g);
// The installed command: package.json's bin, run through its #! line.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin.xenrel);
const MTIME = 1_700_000_000;
const PAGE = 4096;

// ---------------------------------------------------------------- trees
function rng(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}
const WORDS = (
  'static int void return struct unsigned long char const if else for while switch case break default ' +
  'xen domain vcpu page frame grant event channel hypercall memory map unmap lock spin irq timer sched credit ' +
  'the of and to in is that for it with as was on be at by this had not are but from or have an they which'
).split(' ');

/** `nFiles` text files (log-uniform 100 B .. 40 KiB) in nested folders, then random blobs up to `totalMB`. */
function generate(root, nFiles, totalMB, seed = 42) {
  const r = rng(seed);
  let bytes = 0;
  const dirs = [];
  for (let i = 0; i < Math.max(10, Math.round(nFiles / 40)); i++) {
    const depth = 1 + Math.floor(r() * 4);
    const parts = [];
    for (let k = 0; k < depth; k++) parts.push(`${WORDS[Math.floor(r() * WORDS.length)]}${Math.floor(r() * 20)}`);
    dirs.push(parts.join('/'));
  }
  for (let i = 0; i < nFiles; i++) {
    const size = Math.floor(100 * Math.exp(r() * Math.log(400)));
    const words = [];
    let len = 0;
    while (len < size) {
      const w = r() < 0.1 ? '\n' : WORDS[Math.floor(r() * WORDS.length)];
      words.push(w);
      len += w.length + 1;
    }
    const d = join(root, dirs[i % dirs.length]);
    mkdirSync(d, { recursive: true });
    const text = words.join(' ');
    writeFileSync(join(d, `file${i}.${['c', 'h', 'txt', 'S', 'mk'][i % 5]}`), text, {
      mode: i % 17 === 0 ? 0o755 : 0o644,
    });
    bytes += text.length;
  }
  mkdirSync(join(root, 'blobs'), { recursive: true });
  const blob = 12 << 20;
  for (let i = 0; bytes < totalMB * 2 ** 20; i++) {
    const b = Buffer.alloc(Math.min(blob, Math.max(4096, totalMB * 2 ** 20 - bytes)));
    const g = rng(1000 + i + seed);
    for (let k = 0; k + 4 <= b.length; k += 4) b.writeUInt32LE((g() * 2 ** 32) >>> 0, k);
    writeFileSync(join(root, 'blobs', `firmware${i}.bin`), b);
    bytes += b.length;
  }
  return bytes;
}

const CONFIG = (name) => `version: 1\nname: ${name}\nrelease:\n  version: "1.0"\ncomponents: {}\n`;
const LOCK = (name) => `{\n  "components": {},\n  "lockfileVersion": 1,\n  "name": "${name}"\n}\n`;
const gitEnv = {
  ...env,
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.org',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.org',
  GIT_AUTHOR_DATE: `@${MTIME} +0000`,
  GIT_COMMITTER_DATE: `@${MTIME} +0000`,
};
function sh(cmd, cwd, bytes = false) {
  const r = spawnSync('sh', ['-c', cmd], {
    cwd,
    env: gitEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`failed: ${cmd}`);
  return bytes ? r.stdout : r.stdout.toString();
}
/** Commits `dir` (with a xenrel config and lock) to a fresh git repository, packed as a clone would be. */
function commitTree(dir, name) {
  writeFileSync(join(dir, 'xenrel.config.yaml'), CONFIG(name));
  writeFileSync(join(dir, 'xenrel.lock'), LOCK(name));
  sh('git init -q && git add -A && git commit -q -m tree && git repack -adq --window=0 && git prune', dir);
}

// ---------------------------------------------------------------- measuring
/** Sum of RSS over a process and all its descendants, from /proc. */
function treeRss(rootPid) {
  const kids = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'latin1');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch {}
  }
  let sum = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    try {
      sum += Number(readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]) * PAGE;
    } catch {}
    stack.push(...(kids.get(pid) ?? []));
  }
  return sum;
}

/** Runs `argv` (or a shell command); wall seconds and the process tree's peak RSS in MiB. */
function timed(argv, cwd) {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = typeof argv === 'string' ? ['sh', '-c', argv] : argv;
    const t = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env: gitEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let peak = 0;
    const sample = () => (peak = Math.max(peak, treeRss(child.pid)));
    const timer = setInterval(sample, 20);
    sample();
    child.on('close', (code) => {
      clearInterval(timer);
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      if (code !== 0)
        reject(new Error(`failed (${code}): ${typeof argv === 'string' ? argv : argv.join(' ')}\n${err}`));
      else resolve({ s, rss: peak / 2 ** 20 });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f2 = (x) => x.toFixed(2);
const rows = [];

/**
 * Paired runs: for each run, xenrel then each baseline in turn. `before` runs untimed
 * before every xenrel run (e.g. to empty a cache).
 */
async function compare(title, ours, baselines, opts = {}) {
  const a = [];
  const b = baselines.map(() => []);
  const ratios = baselines.map(() => []);
  let rssA = 0;
  const rssB = baselines.map(() => 0);
  for (let i = 0; i < RUNS; i++) {
    opts.before?.();
    const x = await ours.run();
    a.push(x.s);
    rssA = Math.max(rssA, x.rss);
    for (let k = 0; k < baselines.length; k++) {
      const y = await baselines[k].run();
      b[k].push(y.s);
      ratios[k].push(x.s / y.s);
      rssB[k] = Math.max(rssB[k], y.rss);
    }
  }
  for (let k = 0; k < baselines.length; k++) {
    const row = {
      what: `${title}`,
      vs: baselines[k].name,
      xenrel: median(a),
      base: median(b[k]),
      ratio: median(ratios[k]),
      ratios: ratios[k],
      rssA,
      rssB: rssB[k],
    };
    rows.push(row);
    console.log(
      `  ${row.what} vs ${row.vs}: xenrel ${f2(row.xenrel)} s, baseline ${f2(row.base)} s, median ratio ${f2(row.ratio)} (${row.ratios.map(f2).join(' ')}); peak RSS xenrel ${row.rssA.toFixed(0)} MiB, baseline ${row.rssB.toFixed(0)} MiB`,
    );
  }
}

// ---------------------------------------------------------------- main
const base = mkdtempSync(join(tmpdir(), 'xenrel-bench-'));
const hasPigz = spawnSync('pigz', ['--version'], { stdio: 'ignore' }).status === 0;
try {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `machine: ${availableParallelism()} cores, ${cpu}; node ${process.version}; ${RUNS} paired runs per comparison`,
  );
  if (!hasPigz) console.log('NOTE: pigz is not installed (apt-get install pigz): the pigz comparisons are skipped');

  const tree = join(base, 'bench');
  const folder = join(base, 'folder', 'bench');
  let t0 = Date.now();
  // Only release and verify time the generated tree.
  const generated = want('release') || want('verify');
  if (generated) {
    mkdirSync(tree);
    const bytes = generate(tree, FILES, MB);
    mkdirSync(join(base, 'folder'));
    sh(`cp -a '${tree}' '${folder}'`);
    writeFileSync(join(folder, 'xenrel.config.yaml'), CONFIG('bench'));
    writeFileSync(join(folder, 'xenrel.lock'), LOCK('bench'));
    commitTree(tree, 'bench');
    console.log(
      `tree: ${FILES} text files + random blobs, ${(bytes / 2 ** 20).toFixed(0)} MiB, as a git project and as a folder; made in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
  const cache = join(base, 'cache');
  const blobCache = join(cache, 'blob-sha256');
  const out = join(base, 'out');
  const release = (dir, level, extra = []) => ({
    run: () => timed([CLI, 'release', '--level', String(level), '--out', out, '--cache', cache, '-q', ...extra], dir),
  });
  const gitArchive = (dir, level, z) => ({
    name: `git archive | ${z} -n -${level}`,
    run: () => timed(`git archive --prefix=bench-1.0/ HEAD | ${z} -n -${level} > '${join(base, `ga.tar.gz`)}'`, dir),
  });
  const gnuTar = (dir, level, z) => ({
    name: `tar --sort=name | ${z} -n -${level}`,
    run: () =>
      timed(
        `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${MTIME} -cf - . | ${z} -n -${level} > '${join(base, 'gnu.tar.gz')}'`,
        dir,
      ),
  });
  const zs = hasPigz ? ['gzip', 'pigz'] : ['gzip'];
  const coldBlobCache = { before: () => rmSync(blobCache, { recursive: true, force: true }) };
  // Warm the page cache for everyone.
  if (generated) sh(`find '${folder}' -type f -exec cat {} + > /dev/null; git -C '${tree}' archive HEAD > /dev/null`);

  if (want('release')) {
    console.log('release of the git project (first release of the commit: blob-hash cache empty)');
    for (const level of [6, 9])
      await compare(
        `release git -${level}`,
        release(tree, level),
        zs.map((z) => gitArchive(tree, level, z)),
        coldBlobCache,
      );
    console.log('re-release of the same commit (blob-hash cache warm)');
    await compare(
      're-release git -6',
      release(tree, 6),
      zs.map((z) => gitArchive(tree, 6, z)),
    );
    console.log('release of the folder project');
    for (const level of [6, 9])
      await compare(
        `release folder -${level}`,
        release(folder, level),
        zs.map((z) => gnuTar(folder, level, z)),
      );
  }
  const tarball = join(out, 'bench-1.0.tar.gz');
  if (!want('release')) {
    if (want('verify')) await release(folder, 9).run();
  } else {
    const o = statSync(tarball).size;
    sh(
      `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${MTIME} -cf - . | gzip -n -9 > '${join(base, 'gnu.tar.gz')}'`,
      folder,
    );
    const g = statSync(join(base, 'gnu.tar.gz')).size;
    console.log(
      `  size at -9: xenrel ${(o / 2 ** 20).toFixed(1)} MiB, tar | gzip -n -9 ${(g / 2 ** 20).toFixed(1)} MiB (${((o / g - 1) * 100).toFixed(1)}%)`,
    );
  }

  if (want('verify')) {
    console.log('verify');
    await compare('verify', { run: () => timed([CLI, 'verify', tarball, '-q'], base) }, [
      { name: 'gzip -dc | sha256sum', run: () => timed(`gzip -dc '${tarball}' | sha256sum > /dev/null`, base) },
    ]);
  }

  if (want('hash')) {
    console.log(`tree hash (${HASH_FILES} files)`);
    const small = join(base, 'hash-tree');
    mkdirSync(small);
    generate(small, HASH_FILES, 0, 7);
    rmSync(join(small, 'blobs'), { recursive: true, force: true });
    sh(`find '${small}' -type f -exec cat {} + > /dev/null`);
    await compare('xenrel hash', { run: () => timed([CLI, 'hash', small], base) }, [
      {
        name: 'find | sort | xargs sha256sum | sha256sum',
        run: () =>
          timed(
            `cd '${small}' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum > /dev/null`,
            base,
          ),
      },
    ]);
  }

  if (want('startup')) {
    console.log('start-up');
    await compare('xenrel --version', { run: () => timed([CLI, '--version'], base) }, [
      { name: 'node -e 0', run: () => timed([process.execPath, '-e', '0'], base) },
    ]);
    await compare('xenrel --help', { run: () => timed([CLI, '--help'], base) }, [
      { name: 'node -e 0', run: () => timed([process.execPath, '-e', '0'], base) },
    ]);
  }

  if (want('noop')) {
    // Commands that find nothing to do, on a config shaped like Xen's: five git components
    // (the -dir-remote trees and mini-os) and nine tarballs (stubdom's and pvgrub2's GRUB),
    // all cached and vendored. Small stand-ins: what is timed is start-up, config, lock and
    // cache checks, not hashing. The tarballs are served on 127.0.0.1.
    const noop = join(base, 'noop');
    mkdirSync(noop);
    const gits = [
      ['qemu-xen', 'tools/qemu-xen-dir-remote'],
      ['seabios', 'tools/firmware/seabios-dir-remote'],
      ['ovmf', 'tools/firmware/ovmf-dir-remote'],
      ['ipxe', 'tools/firmware/etherboot/ipxe'],
      ['mini-os', 'extras/mini-os-remote'],
    ];
    const tars = ['newlib-1.16.0', 'zlib-1.2.3', 'pciutils-2.2.9', 'lwip-1.3.0', 'grub-0.97', 'polarssl-1.1.4'];
    tars.push('gmp-4.3.2', 'tpm_emulator-0.7.4', 'grub-2.12');
    const files = {};
    for (const [i, t] of tars.entries()) {
      const d = join(base, `noop-tar-${t}`, t);
      mkdirSync(d, { recursive: true });
      generate(d, 50, 0, 30 + i);
      rmSync(join(d, 'blobs'), { recursive: true, force: true });
      files[`/${t}.tar.gz`] = sh(`tar -C .. --sort=name --owner=0 --group=0 --mtime=@0 -cf - ${t} | gzip -n`, d, true);
    }
    const server = createServer((req, res) => {
      const body = files[req.url];
      res.writeHead(body ? 200 : 404, body ? { 'content-length': body.length } : {});
      res.end(body);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${server.address().port}`;
      let yaml = 'version: 1\nname: xen\nrelease:\n  version: "1.0"\ncomponents:\n';
      for (const [i, [name, path]] of gits.entries()) {
        const dir = join(base, `noop-git-${name}`);
        mkdirSync(dir);
        generate(dir, 200, 0, 20 + i);
        rmSync(join(dir, 'blobs'), { recursive: true, force: true });
        sh('git init -q && git add -A && git commit -q -m c && git tag v1', dir);
        yaml += `  ${name}:\n    git: file://${dir}\n    ref: v1\n    path: ${path}\n`;
      }
      for (const t of tars)
        yaml += `  ${t === 'grub-2.12' ? 'grub2' : t.replace(/-[\d.]+$/, '')}:\n    url: ${url}/${t}.tar.gz\n    path: stubdom/${t}.tar.gz\n`;
      writeFileSync(join(noop, 'xenrel.config.yaml'), yaml);
      const noopCache = join(base, 'noop-cache');
      // Not sh(): a synchronous child would stop this process's server from answering.
      await timed(`'${CLI}' lock -q --cache '${noopCache}' && '${CLI}' vendor -q --cache '${noopCache}'`, noop);
      console.log(`no-op commands: ${gits.length} git and ${tars.length} tarball components, cached and vendored`);
      const node0 = { name: 'node -e 0', run: () => timed([process.execPath, '-e', '0'], base) };
      for (const args of [['fetch'], ['vendor', '--check'], ['lock', '--check', '--offline']])
        await compare(
          `no-op xenrel ${args.join(' ')}`,
          { run: () => timed([CLI, ...args, '-q', '--cache', noopCache], noop) },
          [node0],
        );
    } finally {
      server.close();
    }
  }

  if (XEN && want('xen')) {
    const xen = join(base, 'xen');
    sh(`git clone -q --no-checkout '${XEN}' '${xen}' && git -C '${xen}' checkout -q -b bench '${XEN_REF}'`);
    writeFileSync(join(xen, 'xenrel.config.yaml'), CONFIG('xen'));
    writeFileSync(join(xen, 'xenrel.lock'), LOCK('xen'));
    sh('git add xenrel.config.yaml xenrel.lock && git commit -q -m bench', xen);
    const files = sh('git ls-files | wc -l', xen).trim();
    console.log(`Xen ${XEN_REF} (${files} files), git project`);
    const xenOut = join(base, 'xen-out');
    const xr = (level) => ({
      run: () => timed([CLI, 'release', '--level', String(level), '--out', xenOut, '--cache', cache, '-q'], xen),
    });
    const xa = (level, z) => ({
      name: `git archive | ${z} -n -${level}`,
      run: () => timed(`git archive --prefix=xen-1.0/ HEAD | ${z} -n -${level} > '${join(base, 'xa.tar.gz')}'`, xen),
    });
    for (const level of [6, 9])
      await compare(
        `Xen release -${level}`,
        xr(level),
        zs.map((z) => xa(level, z)),
        coldBlobCache,
      );
    await compare('Xen xenrel hash', { run: () => timed([CLI, 'hash', xen], base) }, [
      {
        name: 'find | sort | xargs sha256sum | sha256sum',
        run: () =>
          timed(
            `cd '${xen}' && find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum > /dev/null`,
            base,
          ),
      },
    ]);
  }

  if (XEN && want('xen')) {
    // The same Xen tree with its git components locked and fetched, as a release manager has
    // it: generated stand-ins for qemu-xen (text, 4,000 files) and SeaBIOS (text and a blob),
    // served over file://. The baseline archives the tree and each component with git archive
    // into one gzip stream, the work the release does without xenrel's extras.
    const comps = [
      { name: 'qemu-xen', path: 'tools/qemu-xen-dir-remote', files: 4000, mb: 0, seed: 11 },
      { name: 'seabios', path: 'tools/firmware/seabios-dir-remote', files: 600, mb: 8, seed: 12 },
    ];
    const xc = join(base, 'xen-comp');
    sh(`git clone -q --no-checkout '${XEN}' '${xc}' && git -C '${xc}' checkout -q -b bench '${XEN_REF}'`);
    let yaml = `version: 1\nname: xen\nrelease:\n  version: "1.0"\ncomponents:\n`;
    for (const c of comps) {
      const dir = join(base, `comp-${c.name}`);
      mkdirSync(dir);
      generate(dir, c.files, c.mb, c.seed);
      if (!c.mb) rmSync(join(dir, 'blobs'), { recursive: true, force: true });
      sh(
        'git init -q && git add -A && git commit -q -m c && git tag v1 && git repack -adq --window=0 && git prune',
        dir,
      );
      yaml += `  ${c.name}:\n    git: file://${dir}\n    ref: v1\n    path: ${c.path}\n`;
    }
    writeFileSync(join(xc, 'xenrel.config.yaml'), yaml);
    const compCache = join(base, 'comp-cache');
    sh(
      `'${CLI}' lock -q --cache '${compCache}' && '${CLI}' fetch -q --cache '${compCache}' && git add xenrel.config.yaml xenrel.lock && git commit -q -m bench`,
      xc,
    );
    const cfiles = sh(`git ls-files | wc -l`, xc).trim();
    console.log(
      `Xen ${XEN_REF} (${cfiles} files) with ${comps.map((c) => `${c.name} (${c.files} files${c.mb ? ` + ${c.mb} MiB` : ''})`).join(', ')} as locked git components`,
    );
    const xcOut = join(base, 'xen-comp-out');
    const archives = (z, level) =>
      `{ git archive --prefix=xen-1.0/ HEAD; ${comps.map((c) => `git -C '${join(base, `comp-${c.name}`)}' archive --prefix=xen-1.0/${c.path}/ v1`).join('; ')}; } | ${z} -n -${level} > '${join(base, 'xca.tar.gz')}'`;
    await compare(
      'Xen + components release -6',
      { run: () => timed([CLI, 'release', '--level', '6', '--out', xcOut, '--cache', compCache, '-q'], xc) },
      zs.map((z) => ({
        name: `git archive (tree, each component) | ${z} -n -6`,
        run: () => timed(archives(z, 6), xc),
      })),
      { before: () => rmSync(join(compCache, 'blob-sha256'), { recursive: true, force: true }) },
    );
  }

  if (BIG_MB > 0 && want('big')) {
    const big = join(base, 'big');
    mkdirSync(big);
    t0 = Date.now();
    const n = generate(big, Math.round((FILES * BIG_MB) / MB), BIG_MB, 99);
    commitTree(big, 'big');
    console.log(
      `big tree: ${(n / 2 ** 20).toFixed(0)} MiB git project, made in ${((Date.now() - t0) / 1000).toFixed(0)} s (peak RSS, one run each)`,
    );
    rmSync(blobCache, { recursive: true, force: true });
    const bigOut = join(base, 'big-out');
    const r = await timed([CLI, 'release', '--level', '6', '--out', bigOut, '--cache', cache, '-q'], big);
    const ga = await timed(`git archive --prefix=big-1.0/ HEAD | gzip -n -6 > '${join(base, 'big-ga.tar.gz')}'`, big);
    const v = await timed([CLI, 'verify', join(bigOut, 'big-1.0.tar.gz'), '-q'], base);
    console.log(
      `  release -6: ${f2(r.s)} s, peak RSS ${r.rss.toFixed(0)} MiB; git archive | gzip -n -6: ${f2(ga.s)} s, peak RSS ${ga.rss.toFixed(0)} MiB; verify: ${f2(v.s)} s, peak RSS ${v.rss.toFixed(0)} MiB`,
    );
  }

  console.log(
    '\n| operation | compared with | xenrel s | baseline s | median ratio of paired runs | peak RSS xenrel / baseline MiB |\n|---|---|---|---|---|---|',
  );
  for (const r of rows)
    console.log(
      `| ${r.what} | \`${r.vs.replaceAll('|', '\\|')}\` | ${f2(r.xenrel)} | ${f2(r.base)} | ${f2(r.ratio)} | ${r.rssA.toFixed(0)} / ${r.rssB.toFixed(0)} |`,
    );
  if (KEEP) console.log(`kept ${base}`);
} finally {
  if (!KEEP) rmSync(base, { recursive: true, force: true });
}
