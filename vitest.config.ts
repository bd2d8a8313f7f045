import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-cluster suite has its own config (vitest.e2e.config.ts) and needs its clusters up; the exhaustive
    // sweeps (test/deep, vitest.deep.config.ts) are a CI stage of their own (npm run test:deep).
    exclude: ['test/e2e/**', 'test/deep/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Most files wait more than they compute (simulated command latency, drivers paused past a lease), so three
    // workers on two cores: npm test 4m15s against 5m29s with two. (Three once left eight processes on one
    // SQLite file waiting past SQLite's busy timeout; a busy journal write is now waited out, shared/busy-wait.ts.)
    maxWorkers: 3,
    // A private PostgreSQL server for the PostgreSQL store tests (each file uses its own schema).
    globalSetup: ['test/support/pg-global-setup.ts'],
  },
});
