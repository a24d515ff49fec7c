// Bundles the command-line entry point into a few files: the command table, then one chunk per
// command, loaded when that command runs. Unbundled, Node resolves, reads and compiles some 400
// modules (zod, yaml, cacache…) before a command starts, which costs more than many commands
// take. The library (dist/index.js and its modules) stays as tsc wrote it.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
await build({
  entryPoints: { xenrel: 'dist/cli.js' },
  outdir: 'dist/bin',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: `node${pkg.engines.node.replace(/^>=/, '').split('.')[0]}`,
  // cosmiconfig's loader for TypeScript config files: only with typescript installed, never bundled
  external: ['typescript'],
  // CommonJS dependencies call require() for Node's built-ins
  banner: {
    js: "import { createRequire as xenrelCreateRequire } from 'node:module';\nconst require = xenrelCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// `xenrel`, `--help` and `--version` print text known at build time: answered before any module
// loads. The bin is CommonJS because Node starts a CommonJS file faster than an ES module;
// dist/cli.js is the same for `node dist/cli.js`.
const { overview } = await import(pathToFileURL(resolve('dist/shell/overview.js')).href);
const { XENREL_VERSION } = await import(pathToFileURL(resolve('dist/version.js')).href);
const fastPath = [
  'const a = process.argv[2];',
  `if (a === undefined || a === '-h' || a === '--help') process.stdout.write(${JSON.stringify(overview())});`,
  `else if (a === '-v' || a === '--version') process.stdout.write(${JSON.stringify(`${XENREL_VERSION}\n`)});`,
  "else import('./bin/xenrel.js');",
].join('\n');
writeFileSync('dist/cli.js', `#!/usr/bin/env node\n${fastPath}\n`);
writeFileSync('dist/xenrel.cjs', `#!/usr/bin/env node\n'use strict';\n${fastPath}\n`);
chmodSync('dist/cli.js', 0o755);
chmodSync('dist/xenrel.cjs', 0o755);
