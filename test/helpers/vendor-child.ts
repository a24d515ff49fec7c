/**
 * Run `vendor()` in its own process, so a test can SIGKILL it mid-run. Prints one line
 * "start NAME" before placing each component (the parent kills on the Nth).
 * Usage: node --import tsx test/helpers/vendor-child.ts LOCK_JSON CACHE_DIR TREE_DIR
 */
import { readFile } from 'node:fs/promises';
import { Cache } from '../../src/content-cache/cache.js';
import type { Lockfile } from '../../src/model/lock.js';
import { vendor } from '../../src/vendoring/vendor.js';

const [lockFile, cacheDir, treeDir] = process.argv.slice(2);
const lock = JSON.parse(await readFile(lockFile!, 'utf8')) as Lockfile;
await vendor(lock, new Cache(cacheDir!), treeDir!, {
  progress: { start: (name) => void process.stdout.write(`start ${name}\n`) },
});
process.stdout.write('done\n');
