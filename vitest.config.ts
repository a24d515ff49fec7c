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
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
    ],
  },
});
