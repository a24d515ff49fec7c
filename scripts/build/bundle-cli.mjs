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
// `xenrel hash DIR` runs from one CommonJS file of its own: Node starts it in a few
// milliseconds, where the chunks above (ES modules, clipanion) take some 30 ms more.
await build({
  entryPoints: { hash: 'dist/cli/hash-fast.js' },
  outdir: 'dist/bin',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: `node${pkg.engines.node.replace(/^>=/, '').split('.')[0]}`,
  logLevel: 'warning',
});
// `xenrel`, `--help` and `--version` print text known at build time: answered before any module
// loads. The bin is CommonJS because Node starts a CommonJS file faster than an ES module;
// dist/cli.js is the same for `node dist/cli.js`.
const { overview } = await import(pathToFileURL(resolve('dist/shell/overview.js')).href);
const { XENREL_VERSION } = await import(pathToFileURL(resolve('dist/version.js')).href);
// `hash` with arguments it does not take as plain goes on to the full command line.
const fastPath = (loadHash) =>
  [
    'const a = process.argv[2];',
    `if (a === undefined || a === '-h' || a === '--help') process.stdout.write(${JSON.stringify(overview())});`,
    `else if (a === '-v' || a === '--version') process.stdout.write(${JSON.stringify(`${XENREL_VERSION}\n`)});`,
    `else if (a === 'hash') ${loadHash}`,
    '    .then((m) => m.hashFast(process.argv.slice(3), process))',
    "    .then((code) => (code === undefined ? import('./bin/xenrel.js') : (process.exitCode = code)));",
    "else import('./bin/xenrel.js');",
  ].join('\n');
writeFileSync('dist/cli.js', `#!/usr/bin/env node\n${fastPath("import('./bin/hash.cjs')")}\n`);
writeFileSync(
  'dist/xenrel.cjs',
  `#!/usr/bin/env node\n'use strict';\n${fastPath("Promise.resolve(require('./bin/hash.cjs'))")}\n`,
);
chmodSync('dist/cli.js', 0o755);
chmodSync('dist/xenrel.cjs', 0o755);
