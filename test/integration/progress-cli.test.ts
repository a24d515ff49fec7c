/**
 * Progress as people see it: byte counts from the HTTP download and from git's own
 * `--progress` (a real clone), plain lines every few seconds without a terminal, bars that
 * are cleared when done on one (through `script`, a real pty), nothing with --quiet/--json.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { GitFixtures, type TestRepo } from '../helpers/git-repos.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { makeTarball } from '../helpers/make-tarball.js';
import { tempDirs } from '../helpers/tmp.js';

const execFileAsync = promisify(execFile);
const tmp = tempDirs();
let fx: GitFixtures;
let big: TestRepo;
let server: TestHttpServer;
let gitHttp: GitHttpServer;
let tgz: Buffer;
const BIG = 24 * 1024 * 1024;

beforeAll(async () => {
  fx = await GitFixtures.create();
  big = await fx.repo('big', { files: { README: 'big\n' } });
  // Random bytes: git cannot compress them, so the pack is about this size.
  await writeFile(join(big.dir, 'blob.bin'), randomBytes(BIG));
  await big.commit('a big blob', { NEWS: 'one\n' });
  await big.tag('v1.0', { annotated: true });
  tgz = await makeTarball('newlib-1.16.0', { 'data.bin': randomBytes(450 * 1024).toString('base64') });
  server = await startHttpServer({ files: { '/newlib-1.16.0.tar.gz': tgz } });
  // The clone is served over smart HTTP at 16 MiB/s, so it lasts some 1.5 s however fast the
  // machine: long enough for several progress frames and a measured speed.
  gitHttp = await startGitHttpServer(fx.root, fx.env);
  gitHttp.packBytesPerSecond = 16 * 1024 * 1024;
}, 120_000);

afterAll(async () => {
  await server?.close();
  await gitHttp?.close();
  await fx?.cleanup();
  await tmp.cleanup();
});

async function project(which: 'git' | 'tarball') {
  const dir = await tmp.make('xenrel-progress-');
  const comp =
    which === 'git'
      ? `  big:\n    git: ${gitHttp.url('big')}\n    ref: v1.0\n    path: tools/big\n`
      : `  newlib:\n    url: ${server.url}/newlib-1.16.0.tar.gz\n    path: stubdom/newlib-1.16.0.tar.gz\n`;
  await writeFile(join(dir, 'xenrel.config.yaml'), `version: 1\nname: xen\ncomponents:\n${comp}`);
  const cache = join(dir, 'cache');
  const r = await runCli(['lock', '--cache', cache], { cwd: dir, env: fx.env });
  expect(r.code, r.stderr).toBe(0);
  return { dir, fresh: () => join(dir, `fresh-${Math.random().toString(36).slice(2)}`) };
}

const PLAIN =
  /^ {2}newlib: ([\d.]+) (B|KiB|MiB) of ([\d.]+) (KiB|MiB) \((\d+)%\)(?:, [\d.]+ (?:B|KiB|MiB)\/s)?, \d+ s$/;

describe('progress', () => {
  it('without a terminal: a plain line per download every interval, with bytes, total, percentage and speed', async () => {
    const p = await project('tarball');
    server.setFault('/newlib-1.16.0.tar.gz', { kind: 'slow', bytes: 32 * 1024, delayMs: 120, times: 1 });
    const r = await runCli(['fetch', '--cache', p.fresh()], {
      cwd: p.dir,
      env: { ...fx.env, XENREL_PROGRESS_INTERVAL: '0.3' },
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(PLAIN);
    const pcts = lines.map((l) => Number(PLAIN.exec(l)![5]));
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    expect(pcts[pcts.length - 1]).toBeGreaterThan(pcts[0]!);
    expect(lines.some((l) => /\/s, \d+ s$/.test(l))).toBe(true);
    expect(r.stdout).toContain('  newlib: fetched');
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });

  it('--quiet and --json: no progress at all', async () => {
    const p = await project('tarball');
    for (const flag of ['--quiet', '--json']) {
      server.setFault('/newlib-1.16.0.tar.gz', { kind: 'slow', bytes: 128 * 1024, delayMs: 100, times: 1 });
      const r = await runCli(['fetch', flag, '--cache', p.fresh()], {
        cwd: p.dir,
        env: { ...fx.env, XENREL_PROGRESS_INTERVAL: '0.1' },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr, flag).toBe('');
      if (flag === '--quiet') expect(r.stdout).toBe('');
      else expect(JSON.parse(r.stdout).components[0].status).toBe('fetched');
    }
  });

  it("a git clone without a terminal: lines from git's own counts (remote phases, then bytes received)", async () => {
    const p = await project('git');
    const r = await runCli(['fetch', '--cache', p.fresh()], {
      cwd: p.dir,
      env: { ...fx.env, XENREL_PROGRESS_INTERVAL: '0.1' },
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines)
      expect(l).toMatch(
        /^ {2}big: (?:starting|remote: (?:enumerating|counting|compressing)(?: \d+%)?|[\d.]+ (?:B|KiB|MiB) \(\d+%\)(?:, [\d.]+ (?:B|KiB|MiB)\/s)?), \d+ s$/,
      );
    // git's progress lines are not kept as if they were errors.
    expect(r.stderr).not.toMatch(/Receiving objects|Counting objects/);
  });

  it('on a terminal: a bar with the bytes git received and a speed, cleared when done', async () => {
    const p = await project('git');
    const cache = p.fresh();
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} fetch --cache ${JSON.stringify(cache)}`;
    // Not execFileSync: this process serves the clone, and must keep running meanwhile.
    const { stdout: out } = await execFileAsync('script', ['-qec', cmd, '/dev/null'], {
      cwd: p.dir,
      env: { ...process.env, ...fx.env, NO_COLOR: '1', COLUMNS: '120' },
      encoding: 'utf8',
    });
    // The pack git wrote holds what it received: the bar's last byte count is its size.
    const packDir = execFileSync('sh', ['-c', `find ${JSON.stringify(cache)} -path '*objects/pack'`], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')[0]!;
    const pack = (await readdir(packDir)).find((f) => f.endsWith('.pack'))!;
    const packSize = (await stat(join(packDir, pack))).size;
    const frames = [...out.matchAll(/ big +\[[^\]]*\] +(\d+)% ([\d.]+) (B|KiB|MiB)\/\? ?([^\x1b\r\n]*)/g)];
    expect(frames.length).toBeGreaterThan(1);
    // Bars are drawn 8 times a second, so the last frame drawn may come before the end: the
    // furthest one counts, and its bytes are what git received so far, never more.
    const last = frames.reduce((a, f) => (Number(f[1]) >= Number(a[1]) ? f : a));
    expect(Number(last[1])).toBeGreaterThan(0);
    expect(last[3]).toBe('MiB');
    expect(Number(last[2]) * 1024 * 1024).toBeLessThanOrEqual(packSize * 1.01);
    expect(Number(last[2])).toBeGreaterThan(0);
    expect(last[4]).toMatch(/^[\d.]+ (KiB|MiB)\/s$/);
    // The percentage moved (not a frozen bar), and the bar is erased before the done line.
    expect(new Set(frames.map((f) => f[1])).size).toBeGreaterThan(1);
    const doneAt = out.indexOf('  big: fetched ');
    expect(doneAt).toBeGreaterThan(out.lastIndexOf(last[0]));
    expect(out.slice(out.lastIndexOf(last[0]), doneAt)).toContain('\x1b[0J');
    expect(out.slice(doneAt)).not.toMatch(/ big +\[/);
  });

  it('verify without a terminal: lines with the bytes of the tarball read so far, of its size', async () => {
    const d = await tmp.make('xenrel-verify-progress-');
    execFileSync(
      'sh',
      ['-c', 'mkdir -p t/big && head -c 40000000 /dev/urandom > t/big/blob && tar -C t -cf big.tar big && rm -rf t'],
      { cwd: d },
    );
    const size = (await stat(join(d, 'big.tar'))).size;
    // A 5 ms interval: reading 40 MB takes tens of milliseconds on a fast machine, and the
    // test must see lines however fast the read is.
    const r = await runCli(['verify', 'big.tar'], { cwd: d, env: { ...fx.env, XENREL_PROGRESS_INTERVAL: '0.005' } });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('  big.tar: '));
    expect(lines.length).toBeGreaterThan(0);
    const total = `${(size / 1024 / 1024).toFixed(1)} MiB`;
    for (const l of lines)
      expect(l).toMatch(
        new RegExp(
          `^ {2}big\\.tar: [\\d.]+ (?:B|KiB|MiB) of ${total.replace('.', '\\.')} \\(\\d+%\\)(?:, [\\d.]+ (?:KiB|MiB|GiB)/s)?, \\d+ s$`,
        ),
      );
    // --quiet: the verdict's exit code only, no progress.
    const q = await runCli(['verify', 'big.tar', '--quiet'], {
      cwd: d,
      env: { ...fx.env, XENREL_PROGRESS_INTERVAL: '0.05' },
    });
    expect(q.stderr).not.toContain('big.tar: ');
  });
});

describe('release progress', () => {
  it('without a terminal: lines while the tarball is written and while it is read back', async () => {
    const { SourcesWorld } = await import('../helpers/sources-project.js');
    const w = await SourcesWorld.create();
    try {
      const dir = await w.project();
      // 40 MB the compressor cannot shrink: writing and reading back take a while.
      await writeFile(join(dir, 'firmware.bin'), randomBytes(40_000_000));
      // And after it, 3,000 small files: their headers and padding (some 3 MB) are tar bytes
      // that are not file content, which a total of the files' sizes must not count.
      await mkdir(join(dir, 'small'));
      for (let i = 0; i < 3000; i++) await writeFile(join(dir, 'small', `f${i}`), `${i}\n`);
      // A 5 ms interval, so that even a fast read-back of 40 MB shows lines.
      const r = await w.binary(dir, ['release', '--out', 'out'], { XENREL_PROGRESS_INTERVAL: '0.005' });
      expect(r.code, r.stderr).toBe(0);
      const writing = r.stderr.split('\n').filter((l) => l.startsWith('  writing xen-4.22.0.tar.gz: '));
      const reading = r.stderr.split('\n').filter((l) => l.startsWith('  reading back xen-4.22.0.tar.gz: '));
      expect(writing.length).toBeGreaterThan(0);
      expect(reading.length).toBeGreaterThan(0);
      for (const l of [...writing, ...reading])
        expect(l).toMatch(/: [\d.]+ (?:B|KiB|MiB) of [\d.]+ MiB \(\d+%\)(?:, [\d.]+ (?:KiB|MiB|GiB)\/s)?, \d+ s$/);
      // Never past the total (headers and padding are not counted against the files' sizes).
      const unit = { B: 1, KiB: 1024, MiB: 1024 * 1024 } as Record<string, number>;
      for (const l of [...writing, ...reading]) {
        const m = /: ([\d.]+) (B|KiB|MiB) of ([\d.]+) MiB \((\d+)%\)/.exec(l)!;
        expect(Number(m[1]) * unit[m[2]!]!, l).toBeLessThanOrEqual(Number(m[3]) * unit.MiB! + 0.05 * unit.MiB!);
        expect(Number(m[4]), l).toBeLessThanOrEqual(100);
      }
      // The primary output is unchanged: the sha256 line on stdout, no progress there.
      expect(r.stdout).toMatch(/^[0-9a-f]{64} {2}xen-4\.22\.0\.tar\.gz$/m);
      expect(r.stdout).not.toContain('writing xen-4.22.0.tar.gz');
    } finally {
      await w.cleanup();
    }
  }, 240_000);
});
