import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CLI } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';
import { file, rawEntry, rawTar } from '../helpers/raw-tar.js';

/**
 * Ctrl-C always works: SIGINT or SIGTERM stops `xenrel verify` promptly while it reads a
 * large archive (4 GiB of content in a 4 MiB .tar.gz) or one with very many entries, and the
 * exit status says it did not finish. Each run is checked to be still busy when the signal
 * is sent, so the test cannot pass by the read ending first.
 */

const tmp = tempDirs();
let big: string;
let many: string;

beforeAll(async () => {
  const dir = await tmp.make('xenrel-sig-');
  // gzip members concatenate: one 64 MiB member of zeros, repeated, is 4 GiB of tar content
  const chunk = gzipSync(Buffer.alloc(64 << 20), { level: 1 });
  const parts = [gzipSync(rawEntry({ name: 'top/firmware.img', size: 64 * (64 << 20) }).subarray(0, 512))];
  for (let i = 0; i < 64; i++) parts.push(chunk);
  parts.push(gzipSync(Buffer.alloc(1024)));
  big = join(dir, 'big.tar.gz');
  writeFileSync(big, Buffer.concat(parts));
  // 140,000 entries (the default limit is 150,000)
  const entries: Buffer[] = [];
  for (let i = 0; i < 140_000; i++) entries.push(file(`top/d${i % 100}/f${i}`, ''));
  many = join(dir, 'many.tar.gz');
  writeFileSync(many, gzipSync(rawTar(entries), { level: 1 }));
}, 120_000);

afterAll(() => tmp.cleanup());

/** Starts verify, sends `signal` after `afterMs`; the exit status, and how long it took to stop. */
function interrupt(
  archive: string,
  signal: NodeJS.Signals,
  afterMs: number,
): Promise<{
  code: number | null;
  sig: NodeJS.Signals | null;
  stoppedMs: number;
  runningAtSignal: boolean;
  stderr: string;
}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'verify', archive], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let exited = false;
    let sentAt = 0;
    let runningAtSignal = false;
    const timer = setTimeout(() => {
      runningAtSignal = !exited;
      sentAt = Date.now();
      child.kill(signal);
    }, afterMs);
    const hard = setTimeout(() => child.kill('SIGKILL'), afterMs + 30_000);
    child.on('close', (code, sig) => {
      exited = true;
      clearTimeout(timer);
      clearTimeout(hard);
      resolve({ code, sig, stoppedMs: sentAt ? Date.now() - sentAt : -1, runningAtSignal, stderr });
    });
  });
}

describe('Ctrl-C stops verify', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} stops verify of 4 GiB of content within 2 s`, async () => {
      const r = await interrupt(big, signal, 1500);
      expect(r.runningAtSignal, `verify ended before the signal: ${r.code} ${r.stderr}`).toBe(true);
      expect(r.stoppedMs).toBeLessThan(2000);
      expect(r.code === 0).toBe(false);
    }, 60_000);
  }

  it('SIGINT stops verify of 140,000 entries within 2 s', async () => {
    const r = await interrupt(many, 'SIGINT', 800);
    expect(r.runningAtSignal, `verify ended before the signal: ${r.code} ${r.stderr}`).toBe(true);
    expect(r.stoppedMs).toBeLessThan(2000);
    expect(r.code === 0).toBe(false);
  }, 60_000);
});
