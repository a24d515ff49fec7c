import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The package root (one level above src/ or dist/). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const XENREL_VERSION: string = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
