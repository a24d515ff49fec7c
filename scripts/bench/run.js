// npm run bench [-- --small] [-- --runs N] [-- --keep]
// Builds a generated tree once (~150 MB: ~20k text files of varied size + a few large
// incompressible binaries; --small: ~15 MB), then times, in the same run and interleaved:
//   xenrel writer+gzip (level 6 and 9)  vs  GNU tar --sort=name … | gzip -n -6 / -9
//   xenrel verify                       vs  gzip -dc | sha256sum
//   xenrel tree hash                    vs  find | sort | xargs sha256sum | sha256sum
// Every xenrel measurement runs in a child process (wall time includes Node's start-up)
// and reports that process's peak RSS. Prints medians and ratios.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const small = args.includes('--small');
const runs = Number(args[args.indexOf('--runs') + 1]) || (small ? 3 : 5);
const keep = args.includes('--keep');
const worker = fileURLToPath(new URL('./worker.js', import.meta.url));
const MTIME = 1_700_000_000;

// ---------------------------------------------------------------- tree
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
const WORDS = ('static int void return struct unsigned long char const if else for while switch case break default ' +
  'xen domain vcpu page frame grant event channel hypercall memory map unmap lock spin irq timer sched credit ' +
  'the of and to in is that for it with as was on be at by this had not are but from or have an they which').split(' ');

function generate(root, nFiles, binaries, binSize) {
  const r = rng(42);
  let bytes = 0;
  const dirs = [];
  for (let i = 0; i < Math.max(10, Math.round(nFiles / 40)); i++) {
    const depth = 1 + Math.floor(r() * 4);
    const parts = [];
    for (let k = 0; k < depth; k++) parts.push(`${WORDS[Math.floor(r() * WORDS.length)]}${Math.floor(r() * 20)}`);
    dirs.push(parts.join('/'));
  }
  for (let i = 0; i < nFiles; i++) {
    // log-uniform sizes, 100 B .. 40 KiB: about 5 KiB on average
    const size = Math.floor(100 * Math.exp(r() * Math.log(400)));
    const words = [];
    let len = 0;
    while (len < size) {
      const w = WORDS[Math.floor(r() * WORDS.length)];
      words.push(w);
      len += w.length + 1;
      if (r() < 0.1) {
        words.push('\n');
        len++;
      }
    }
    const d = join(root, dirs[i % dirs.length]);
    mkdirSync(d, { recursive: true });
    const text = words.join(' ');
    writeFileSync(join(d, `file${i}.${['c', 'h', 'txt', 'S', 'mk'][i % 5]}`), text, { mode: i % 17 === 0 ? 0o755 : 0o644 });
    bytes += text.length;
  }
  mkdirSync(join(root, 'blobs'), { recursive: true });
  for (let i = 0; i < binaries; i++) {
    const b = Buffer.alloc(binSize);
    const g = rng(1000 + i);
    for (let k = 0; k < b.length; k += 4) b.writeUInt32LE((g() * 2 ** 32) >>> 0, k);
    writeFileSync(join(root, 'blobs', `firmware${i}.bin`), b);
    bytes += b.length;
  }
  return bytes;
}

// ---------------------------------------------------------------- timing
function sh(cmd) {
  const t = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`failed: ${cmd}`);
  return { s: Number(process.hrtime.bigint() - t) / 1e9, out: r.stdout.toString().trim() };
}
function node(...a) {
  const t = process.hrtime.bigint();
  // The same V8 flag the xenrel command starts with (see src/cli.ts).
  const r = spawnSync(process.execPath, ['--max-semi-space-size=2', worker, ...a], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`xenrel worker failed: ${a.join(' ')}`);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  return { s, ...JSON.parse(r.stdout.toString().trim().split('\n').pop()) };
}
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
/** The real `xenrel` command, end to end, with its peak RSS from /usr/bin/time. */
function cli(cwd, ...a) {
  const t = process.hrtime.bigint();
  // Run as users do: the installed command, through its #! line.
  const r = spawnSync('/usr/bin/time', ['-f', 'XENREL_RSS_KB=%M', CLI, ...a], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const err = r.stderr.toString();
  if (r.status !== 0) throw new Error(`xenrel ${a.join(' ')} failed: ${err}`);
  return { s, maxRssMiB: Number(/XENREL_RSS_KB=(\d+)/.exec(err)[1]) / 1024 };
}
const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------- main
const base = mkdtempSync(join(tmpdir(), 'xenrel-bench-'));
try {
  const tree = join(base, 'bench');
  mkdirSync(tree);
  const t0 = Date.now();
  const bytes = small ? generate(tree, 2000, 2, 4 << 20) : generate(tree, 20000, 4, 12 << 20);
  console.log(`tree: ${small ? 2000 : 20000} text files + ${small ? 2 : 4} binaries, ${(bytes / 2 ** 20).toFixed(0)} MiB, generated in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${availableParallelism()} cores; ${runs} runs each`);
  const gnu = (level, out) =>
    sh(`tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${MTIME} -cf - -C '${base}' bench | gzip -n -${level} > '${out}'`);
  sh(`tar -cf - -C '${base}' bench > /dev/null`); // warm the page cache for everyone

  const rows = [];
  const measure = (name, ours, theirs) => {
    const a = [];
    const b = [];
    let rss = 0;
    for (let i = 0; i < runs; i++) {
      const x = ours();
      a.push(x.s);
      rss = Math.max(rss, x.maxRssMiB);
      b.push(theirs().s);
    }
    const row = { name, xenrel: median(a), baseline: median(b), rss };
    rows.push(row);
    console.log(`  ${name}: xenrel ${row.xenrel.toFixed(2)} s, baseline ${row.baseline.toFixed(2)} s, ratio ${(row.xenrel / row.baseline).toFixed(2)}, RSS ${rss.toFixed(0)} MiB`);
  };
  const ours6 = join(base, 'xenrel-6.tar.gz');
  for (const level of [6, 9]) {
    measure(
      `release tar.gz -${level} vs tar|gzip -n -${level}`,
      () => node('pack', tree, join(base, `xenrel-${level}.tar.gz`), String(level), String(MTIME)),
      () => gnu(level, join(base, `gnu-${level}.tar.gz`)),
    );
    const o = statSync(join(base, `xenrel-${level}.tar.gz`)).size;
    const g = statSync(join(base, `gnu-${level}.tar.gz`)).size;
    console.log(`    sizes: xenrel ${(o / 2 ** 20).toFixed(1)} MiB, GNU ${(g / 2 ** 20).toFixed(1)} MiB (${((o / g - 1) * 100).toFixed(1)}%)`);
  }
  // The whole command as a release manager runs it: hashes the tree for release.json,
  // writes, then reads the tarball back and verifies it before reporting success.
  writeFileSync(join(tree, 'xenrel.config.yaml'), 'version: 1\nname: bench\nrelease:\n  version: "1.0"\ncomponents: {}\n');
  writeFileSync(join(tree, 'xenrel.lock'), '{\n  "components": {},\n  "lockfileVersion": 1,\n  "name": "bench"\n}\n');
  for (const level of [6, 9]) {
    measure(
      `xenrel release CLI -${level} (hash + write + self-verify) vs tar|gzip -n -${level}`,
      () => cli(tree, 'release', '--level', String(level), '--out', join(base, `cli-${level}`), '--cache', join(base, 'cache'), '-q'),
      () => gnu(level, join(base, `gnu-${level}.tar.gz`)),
    );
  }
  measure('verify vs gzip -dc | sha256sum', () => node('verify', ours6), () => sh(`gzip -dc '${ours6}' | sha256sum`));
  measure('tree hash vs find|sort|xargs sha256sum|sha256sum', () => node('hash', tree), () =>
    sh(`cd '${tree}' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum`),
  );

  console.log('\n| operation | xenrel s | baseline s | ratio | xenrel peak RSS MiB |\n|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.xenrel.toFixed(2)} | ${r.baseline.toFixed(2)} | ${(r.xenrel / r.baseline).toFixed(2)} | ${r.rss.toFixed(0)} |`);
  if (keep) console.log(`kept ${base}: ${readdirSync(base).join(' ')}`);
} finally {
  if (!keep) rmSync(base, { recursive: true, force: true });
}
