// Bundles the command-line entry point into a few files: the command table, then one chunk per
// command, loaded when that command runs. Unbundled, Node resolves, reads and compiles some 400
// modules (zod, yaml, cacache…) before a command starts, which costs more than many commands
// take. The library (dist/index.js and its modules) stays as tsc wrote it.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';

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
  banner: { js: "import { createRequire as xenrelCreateRequire } from 'node:module';\nconst require = xenrelCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
writeFileSync('dist/cli.js', "#!/usr/bin/env node\nimport './bin/xenrel.js';\n");
chmodSync('dist/cli.js', 0o755);
