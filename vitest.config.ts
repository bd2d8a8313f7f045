import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CLI tests spawn mesh-run processes; two workers match the two cores of our machines.
    maxWorkers: 2,
  },
});
