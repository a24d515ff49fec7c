/**
 * Run `ensureMirror(url)` in its own process, so a test can SIGKILL it mid-clone.
 * Usage: node --import tsx test/helpers/git-mirror-child.ts URL CACHE_DIR
 */
import { Cache } from '../../src/content-cache/cache.js';
import { ensureMirror } from '../../src/sources/git/mirror.js';

const [url, cacheDir] = process.argv.slice(2);
const dir = await ensureMirror(url!, new Cache(cacheDir!));
process.stdout.write(`${dir}\n`);
