// One xenrel measurement in its own process, so that its peak RSS is its own.
// Usage: node worker.js pack DIR OUT LEVEL MTIME | verify FILE | hash DIR
// Prints one JSON line: {"ms": wall ms inside the process, "maxRssMiB": peak RSS}.
import { performance } from 'node:perf_hooks';

const dist = new URL('../../dist/', import.meta.url);
const [op, a, b, c, d] = process.argv.slice(2);
const t0 = performance.now();
let extra = {};
if (op === 'pack') {
  const { entriesFromDir } = await import(new URL('archive/entries.js', dist).href);
  const { writeArchive } = await import(new URL('archive/write-archive.js', dist).href);
  const r = await writeArchive(await entriesFromDir(a), { out: b, format: 'gz', level: Number(c), topDir: 'bench', mtime: Number(d) });
  extra = { size: r.size };
} else if (op === 'verify') {
  const { verifyTarball } = await import(new URL('verify/verify.js', dist).href);
  const r = await verifyTarball(a);
  if (r.unsafe.length || r.problems.length) throw new Error(JSON.stringify(r.unsafe.concat(r.problems)));
  extra = { files: r.files, tree: r.tree.actual };
} else if (op === 'hash') {
  const { hashDir } = await import(new URL('tree/walk.js', dist).href);
  extra = { tree: (await hashDir(a)).hash };
} else throw new Error(`unknown op ${op}`);
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...extra }));
