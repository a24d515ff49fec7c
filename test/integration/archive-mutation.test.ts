import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  openSync,
  closeSync,
  ftruncateSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { tempDirs } from '../helpers/tmp.js';
import { extractWith, oracleTrees, type Extracted, type OracleTree } from '../helpers/tar-oracle.js';
import type { ChildResult } from '../helpers/mutation-child.js';

/**
 * The archive contract under mutation: valid archives written by GNU tar, bsdtar and Python
 * tarfile get header bytes flipped, fields replaced, pax records damaged, blocks spliced and
 * the stream truncated (fixed seeds: every run reads the same few hundred archives). For
 * each, either xenrel reads exactly the tree GNU tar extracts (bsdtar agreeing), or it refuses
 * with a named E_TAR_* finding — on the lock-time hash, readTar and the extraction path.
 * Where GNU tar fails, xenrel must refuse. Never an unexpected error, never a hang over 10 s.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const CASE_TIMEOUT_MS = 10_000;
const tmp = tempDirs();
let work: string;

interface Mutant {
  name: string;
  file: string;
  gnu?: Extracted;
  bsd?: Extracted;
  gnuTree?: OracleTree;
  bsdTree?: OracleTree;
  xen?: ChildResult;
  hung?: boolean;
}
const mutants: Mutant[] = [];

/** mulberry32: a small seeded PRNG, so each run builds the same mutants. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}

const sh = (cmd: string, args: string[], cwd?: string) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });

/** A small tree with every entry kind a header can describe: the mutants start from its archives. */
function makeTree(root: string, long: boolean, sparse: boolean): void {
  const t = join(root, 'top');
  mkdirSync(join(t, 'bin'), { recursive: true });
  mkdirSync(join(t, 'empty'), { recursive: true });
  writeFileSync(join(t, 'README'), 'a tree to mutate\n');
  writeFileSync(join(t, 'bin/run.sh'), '#!/bin/sh\necho run\n');
  chmodSync(join(t, 'bin/run.sh'), 0o755);
  writeFileSync(join(t, 'data.bin'), Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 13) & 255)));
  writeFileSync(join(t, 'empty.txt'), '');
  symlinkSync('README', join(t, 'link'));
  linkSync(join(t, 'README'), join(t, 'hard'));
  if (long) {
    mkdirSync(join(t, 'd'.repeat(60), 'e'.repeat(60)), { recursive: true });
    writeFileSync(join(t, 'd'.repeat(60), 'e'.repeat(60), 'leaf-é.c'), 'leaf\n');
    symlinkSync(`${'d'.repeat(60)}/${'e'.repeat(60)}/leaf-é.c`, join(t, 'long-link'));
  }
  if (sparse) {
    const fd = openSync(join(t, 'sparse.img'), 'w');
    writeSync(fd, Buffer.alloc(512, 0xab), 0, 512, 8192);
    ftruncateSync(fd, 20_000);
    closeSync(fd);
  }
}

/** Offsets of the 512-byte blocks whose checksum is right: the headers (found without xenrel's code). */
function headerOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + 512 <= b.length; o += 512) {
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[o + i]!;
    const field = b
      .subarray(o + 148, o + 156)
      .toString('latin1')
      .replace(/[\0 ]+$/, '')
      .trim();
    if (sum !== 256 && /^[0-7]+$/.test(field) && parseInt(field, 8) === sum) out.push(o);
  }
  return out;
}

function fixChecksum(b: Buffer, o: number): void {
  b.fill(32, o + 148, o + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[o + i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, o + 148, 'latin1');
}

const FIELDS: [string, number, number][] = [
  ['name', 0, 100],
  ['mode', 100, 8],
  ['size', 124, 12],
  ['chksum', 148, 8],
  ['typeflag', 156, 1],
  ['linkname', 157, 100],
  ['magic', 257, 8],
  ['prefix', 345, 155],
  ['gnu-sparse', 386, 97],
];
const SIZES = [
  '00000000000\0',
  '00000001000\0',
  '77777777777\0',
  '0000000001 \0',
  '           \0',
  '\0\0\0\0\0\0\0\0\0\0\0\0',
  '9\0\0\0\0\0\0\0\0\0\0\0',
  '-1\0\0\0\0\0\0\0\0\0\0',
  '00000000777 ',
];
const TYPES = '0123456789xgLKSAMNVDX\0 a';

/** One mutant of `base`: what was done, and the bytes. */
function mutate(base: Buffer, headers: number[], r: ReturnType<typeof prng>): [string, Buffer] {
  const b = Buffer.from(base);
  const h = r.pick(headers);
  const op = r.pick(['flip', 'flip', 'flip', 'field', 'field', 'meta', 'truncate', 'splice', 'splice'] as const);
  if (op === 'flip') {
    const n = 1 + r.int(3);
    const what: string[] = [];
    for (let k = 0; k < n; k++) {
      const [fname, off, len] = r.pick(FIELDS);
      const at = h + off + r.int(len);
      const v = r.next() < 0.5 ? b[at]! ^ (1 << r.int(8)) : r.int(256);
      b[at] = v;
      what.push(`${fname}@${at}=${v}`);
    }
    const fix = r.next() < 0.75;
    if (fix) fixChecksum(b, h);
    return [`flip ${what.join(',')}${fix ? ' +chksum' : ''}`, b];
  }
  if (op === 'field') {
    const f = r.pick(['size', 'size', 'typeflag', 'typeflag', 'base256', 'magic', 'name-nul'] as const);
    let what = '';
    if (f === 'size') {
      const v = r.pick(SIZES);
      b.write(v, h + 124, 'latin1');
      what = `size=${JSON.stringify(v)}`;
    } else if (f === 'typeflag') {
      const v = TYPES[r.int(TYPES.length)]!;
      b.write(v, h + 156, 'latin1');
      what = `type=${JSON.stringify(v)}`;
    } else if (f === 'base256') {
      b[h + 124] = r.pick([0x80, 0xff]);
      for (let i = 1; i < 12; i++) b[h + 124 + i] = i < 8 ? 0 : r.int(r.next() < 0.5 ? 4 : 256);
      what = `size=base256:${b.subarray(h + 124, h + 136).toString('hex')}`;
    } else if (f === 'magic') {
      const v = r.pick(['ustar\x0000', 'ustar  \0', '\0\0\0\0\0\0\0\0', 'USTAR\x0000']);
      b.write(v, h + 257, 'latin1');
      what = `magic=${JSON.stringify(v)}`;
    } else {
      const at = r.int(100);
      b[h + at] = r.pick([0, 0x2f, 0x2e]);
      what = `name[${at}]=${b[h + at]}`;
    }
    fixChecksum(b, h);
    return [`field ${what} @${h}`, b];
  }
  if (op === 'meta') {
    // the data block after a pax or GNU long-name header: lengths, keys, terminators
    const metas = headers.filter((o) => 'xgLK'.includes(String.fromCharCode(b[o + 156]!)) && o + 1024 <= b.length);
    const m = metas.length ? r.pick(metas) + 512 : h + 512;
    const text = b.subarray(m, m + 512);
    const used = Math.max(1, text.indexOf(0) === -1 ? 512 : text.indexOf(0));
    const at = m + r.int(Math.min(used + 2, 512));
    const v = r.pick([0x30 + r.int(10), 0x20, 0x3d, 0x0a, 0, r.int(256)]);
    b[at] = v;
    return [`meta @${at}=${v}`, b];
  }
  if (op === 'truncate') {
    const at = r.next() < 0.5 ? r.int(b.length / 512) * 512 : r.int(b.length);
    return [`truncate @${at}`, b.subarray(0, at)];
  }
  const s = r.pick(['dup', 'delete', 'overwrite', 'zero'] as const);
  const o = r.pick(headers);
  if (s === 'dup')
    return [`splice dup ${h}→${o}`, Buffer.concat([b.subarray(0, o), b.subarray(h, h + 512), b.subarray(o)])];
  if (s === 'delete') {
    const n = 1 + r.int(3);
    return [`splice delete ${n} blocks @${o}`, Buffer.concat([b.subarray(0, o), b.subarray(o + 512 * n)])];
  }
  if (s === 'overwrite') {
    b.copy(b, o, h, h + 512);
    return [`splice overwrite ${h}→${o}`, b];
  }
  return [`splice zero @${o}`, Buffer.concat([b.subarray(0, o), Buffer.alloc(512), b.subarray(o)])];
}

function buildMutants(dir: string): void {
  const trees = join(dir, 'trees');
  makeTree(join(trees, 'long'), true, false);
  makeTree(join(trees, 'short'), false, false);
  makeTree(join(trees, 'sparse'), true, true);
  const bases: [string, string][] = [];
  const base = (name: string, make: (out: string) => void) => {
    const out = join(dir, `base-${bases.length}.tar`);
    make(out);
    bases.push([name, out]);
  };
  for (const fmt of ['gnu', 'oldgnu', 'ustar', 'pax'])
    base(`GNU tar ${fmt}`, (o) =>
      sh('tar', [`--format=${fmt}`, '-cf', o, '-C', join(trees, fmt === 'ustar' ? 'short' : 'long'), 'top']),
    );
  base('GNU tar v7', (o) => sh('tar', ['--format=v7', '-cf', o, '-C', join(trees, 'short'), 'top']));
  base('GNU tar gnu sparse', (o) =>
    sh('tar', ['--format=gnu', '--sparse', '-cf', o, '-C', join(trees, 'sparse'), 'top']),
  );
  base('GNU tar pax sparse 1.0', (o) =>
    sh('tar', ['--format=pax', '--sparse', '--sparse-version=1.0', '-cf', o, '-C', join(trees, 'sparse'), 'top']),
  );
  base('GNU tar ./ names', (o) => sh('tar', ['--format=gnu', '-cf', o, '-C', join(trees, 'short', 'top'), '.']));
  for (const fmt of ['pax', 'ustar'])
    base(`bsdtar ${fmt}`, (o) =>
      sh('bsdtar', [`--format=${fmt}`, '-cf', o, '-C', join(trees, fmt === 'ustar' ? 'short' : 'long'), 'top']),
    );
  base('Python tarfile GNU', (o) =>
    sh(
      'python3',
      [
        '-c',
        `import tarfile\nwith tarfile.open(${JSON.stringify(o)}, 'w', format=tarfile.GNU_FORMAT) as t: t.add('top')`,
      ],
      join(trees, 'long'),
    ),
  );

  // Fixed in `npm test`; XENREL_MUTANTS / XENREL_MUTATION_SEED explore further by hand.
  const PER_BASE = Number(process.env.XENREL_MUTANTS ?? 28);
  const SEED = Number(process.env.XENREL_MUTATION_SEED ?? 0x5eed);
  bases.forEach(([name, file], bi) => {
    const bytes = readFileSync(file);
    const headers = headerOffsets(bytes);
    const r = prng(SEED + bi);
    for (let k = 0; k < PER_BASE; k++) {
      const [what, b] = mutate(bytes, headers, r);
      const out = join(dir, `m-${mutants.length}.tar`);
      writeFileSync(out, b);
      mutants.push({ name: `${name} #${k} (seed ${SEED + bi}): ${what}`, file: out });
    }
  });
  // The compressed layer: a gzip stream truncated, or with a byte changed.
  const gz = gzipSync(readFileSync(bases[0]![1]));
  const r = prng(0x9a);
  for (let k = 0; k < 12; k++) {
    const b = Buffer.from(gz);
    let what: string;
    if (k % 2) {
      const at = 10 + r.int(b.length - 10);
      b[at] = b[at]! ^ (1 << r.int(8));
      what = `flip @${at}`;
    } else what = `truncate @${r.int(b.length)}`;
    const out = join(dir, `m-${mutants.length}.tar.gz`);
    writeFileSync(out, what.startsWith('truncate') ? b.subarray(0, Number(what.split('@')[1])) : b);
    mutants.push({ name: `GNU tar gnu | gzip #${k} (seed ${0x9a}): ${what}`, file: out });
  }
}

/** Runs xenrel over every mutant in a child process; a case over the timeout is a hang: the child is killed and a new one goes on. */
async function runXenrel(scratch: string): Promise<void> {
  let next = 0;
  while (next < mutants.length) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/mutation-child.ts'), scratch], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const from = next;
    child.stdin.on('error', () => {}); // a killed child: the cases it had not read go to the next one
    for (let i = from; i < mutants.length; i++) child.stdin.write(`${i}\t${mutants[i]!.file}\n`);
    child.stdin.end();
    let current = -1;
    let timer: NodeJS.Timeout | undefined;
    const rl = createInterface({ input: child.stdout });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    for await (const line of rl) {
      if (line.startsWith('start ')) {
        current = Number(line.slice(6));
        clearTimeout(timer);
        timer = setTimeout(() => {
          mutants[current]!.hung = true;
          child.kill('SIGKILL');
        }, CASE_TIMEOUT_MS);
      } else {
        const res = JSON.parse(line) as ChildResult;
        clearTimeout(timer);
        mutants[res.i]!.xen = res;
        next = res.i + 1;
      }
    }
    clearTimeout(timer);
    await exited;
    // A crash or a kill: the case it was on is recorded, the rest go to a fresh child.
    if (current >= next) next = current + 1;
    else if (next === from) throw new Error('the mutation child produced nothing');
  }
}

beforeAll(async () => {
  work = await tmp.make('xenrel-mut-');
  buildMutants(join(work, 'in'));
  const dirs: string[] = [];
  mutants.forEach((m, i) => {
    const g = join(work, 'gnu', String(i));
    const b = join(work, 'bsd', String(i));
    m.gnu = extractWith('gnu', m.file, g, CASE_TIMEOUT_MS);
    m.bsd = extractWith('bsdtar', m.file, b, CASE_TIMEOUT_MS);
    dirs.push(g, b);
  });
  // Mutated modes can leave what tar wrote unreadable: give the owner read (and search on
  // directories) back, never an execute bit on a file, so the oracle can hash it.
  spawnSync('sh', [
    '-c',
    'find "$1" -type d -exec chmod u+rwx {} + ; find "$1" -type f ! -perm -u=r -exec chmod u+r {} +',
    'sh',
    work,
  ]);
  const trees = oracleTrees(dirs);
  for (const [i, m] of mutants.entries()) Object.assign(m, { gnuTree: trees[2 * i], bsdTree: trees[2 * i + 1] });
  mkdirSync(join(work, 'x'));
  await runXenrel(join(work, 'x'));
}, 900_000);

afterAll(() => {
  if (process.env.XENREL_MUTATION_KEEP) return console.log(`mutants kept in ${work}`);
  if (work) spawnSync('rm', ['-rf', work]);
  return tmp.cleanup();
});

describe('mutation test: damaged headers meet the archive contract', () => {
  it('builds a few hundred mutants from valid archives of GNU tar, bsdtar and Python', () => {
    expect(mutants.length).toBeGreaterThanOrEqual(300);
  });

  it('every mutant is read as GNU tar extracts it, or refused by name', () => {
    const failures: string[] = [];
    let accepted = 0;
    let refused = 0;
    let gnuFailed = 0;
    const named = (code: string) => /^E_TAR_[A-Z_]+$/.test(code);
    for (const m of mutants) {
      const fail = (what: string) => failures.push(`${m.name}: ${what}`);
      if (m.hung) {
        fail(`no answer within ${CASE_TIMEOUT_MS} ms`);
        continue;
      }
      const x = m.xen;
      if (!x) {
        fail('the child died on it');
        continue;
      }
      if (x.unexpected) fail(x.unexpected);
      for (const s of [x.read, x.extract]) if (s.startsWith('UNEXPECTED')) fail(s);
      if (m.gnu!.exit !== 0) gnuFailed++;
      if (x.hash !== undefined) {
        accepted++;
        if (m.gnu!.exit !== 0) fail(`accepted, GNU tar exits ${m.gnu!.exit}: ${m.gnu!.stderr.trim()}`);
        else if (x.hash !== m.gnuTree!.hash)
          fail(
            `tree hash ${x.hash} ≠ GNU tar's ${m.gnuTree!.hash}; entries ${JSON.stringify(x.entries)} vs ${JSON.stringify(m.gnuTree!.entries)}`,
          );
        if (m.bsd!.exit !== 0) fail(`accepted, bsdtar exits ${m.bsd!.exit}: ${m.bsd!.stderr.trim()}`);
        else if (m.bsdTree!.hash !== m.gnuTree!.hash)
          fail(
            `accepted, GNU tar and bsdtar extract different trees: ${JSON.stringify(m.gnuTree!.entries)} vs ${JSON.stringify(m.bsdTree!.entries)}`,
          );
        if (x.read !== 'ok') fail(`lock-time hash accepts, readTar refuses: ${x.read}`);
        if (x.extract !== x.hash) fail(`extraction: ${x.extract}`);
      } else if (!x.unexpected) {
        refused++;
        if (!x.findings.length || !x.findings.every((f) => named(f.code)))
          fail(`refused without a named finding: ${JSON.stringify(x.findings)}`);
        if (!named(x.read)) fail(`readTar: ${x.read}`);
        if (!named(x.extract)) fail(`extraction: ${x.extract}`);
      }
    }
    console.log(`mutants: ${mutants.length}, accepted ${accepted}, refused ${refused}, GNU tar failed on ${gnuFailed}`);
    if (failures.length) console.error(`${failures.length} failures:\n${failures.join('\n')}`);
    expect(failures).toEqual([]);
    // the mutants exercise both sides of the contract
    expect(accepted).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(100);
    expect(gnuFailed).toBeGreaterThan(30);
  }, 120_000);
});
