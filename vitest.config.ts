import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn git, tar, make and HTTP servers; two cores.
    pool: 'forks',
    maxWorkers: 2,
    // clipanion's ESM build imports a directory (`../platform`), which Node's ESM loader
    // refuses; let vite resolve it, so tests can run commands in-process.
    server: { deps: { inline: ['clipanion'] } },
    // `vitest run` runs both; `vitest run --project unit` (npm run test:unit) only the fast
    // inner loop, which needs no build.
    projects: [
      // Files share their workers (no fresh process and module graph per file): no test file
      // leaves process state behind (test/helpers/in-process.ts puts cwd and env back), a fresh
      // fork per file cost more than most unit files take, and the modules that in-process
      // commands load are loaded once per worker instead of once per file.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], isolate: false } },
    ],
  },
});
