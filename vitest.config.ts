import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-cluster suite has its own config (vitest.e2e.config.ts) and needs its clusters up; the exhaustive
    // sweeps (test/deep, vitest.deep.config.ts) are a CI stage of their own (npm run test:deep).
    exclude: ['test/e2e/**', 'test/deep/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CLI tests spawn mesh-run processes; two workers match the two cores of our machines. (A third made the
    // suite a minute faster but left eight processes on one SQLite file waiting past its busy timeout.)
    maxWorkers: 2,
    // A private PostgreSQL server for the PostgreSQL store tests (each file uses its own schema).
    globalSetup: ['test/support/pg-global-setup.ts'],
  },
});
