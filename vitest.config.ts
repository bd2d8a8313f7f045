import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-cluster suite has its own config (vitest.e2e.config.ts) and needs its clusters up; the exhaustive
    // sweeps (test/deep, vitest.deep.config.ts) are a CI stage of their own (npm run test:deep).
    exclude: ['test/e2e/**', 'test/deep/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Three workers on two cores: many tests wait (simulated latency, CLI processes, timers) rather than compute,
    // so a third keeps the cores busy (measured: 8 min with two, 6 min with three, on this machine).
    maxWorkers: 3,
    // A private PostgreSQL server for the PostgreSQL store tests (each file uses its own schema).
    globalSetup: ['test/support/pg-global-setup.ts'],
  },
});
