/**
 * Runs fetchTarball jobs in their own process (for kill/resume, concurrency and disk-full
 * tests):
 *   tsx test/helpers/fetch-child.ts '<json>'
 * with { cacheDir, jobs: [{ name, url, expected? }], idleMs?, listFiles? }.
 * Prints one JSON line: { results: [result | { error, exitCode, message }], files? }.
 * Exits 3 if any job failed.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Cache } from '../../src/content-cache/cache.js';
import { fetchTarball, hasVerifiedContent } from '../../src/sources/tarball.js';
import type { XenrelError } from '../../src/errors.js';

interface Job {
  name: string;
  url: string;
  expected?: { integrity: string; size?: number };
}
const o = JSON.parse(process.argv[2]!) as {
  cacheDir: string;
  jobs: Job[];
  idleMs?: number;
  listFiles?: boolean;
  verify?: string[];
};
const cache = new Cache(o.cacheDir);
const results: unknown[] = [];
let failed = false;
for (const job of o.jobs) {
  try {
    results.push(
      await fetchTarball({
        name: job.name,
        url: job.url,
        mirrors: [],
        expected: job.expected,
        cache,
        allowHttp: true,
        retry: { baseDelayMs: 10 },
        timeouts: { idleMs: o.idleMs ?? 60_000 },
        lock: { staleMs: 2000 },
      }),
    );
  } catch (err) {
    const e = err as XenrelError;
    failed = true;
    results.push({ error: e.code, exitCode: e.exitCode, message: e.message });
  }
}
async function walk(d: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await walk(join(d, e.name), out);
    else out.push(relative(o.cacheDir, join(d, e.name)));
  }
  return out;
}
const verified = o.verify ? await Promise.all(o.verify.map((i) => hasVerifiedContent(cache, i))) : undefined;
const files = o.listFiles ? (await walk(o.cacheDir)).sort() : undefined;
process.stdout.write(`${JSON.stringify({ results, files, verified })}\n`);
process.exit(failed ? 3 : 0);
