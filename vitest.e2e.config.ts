import { defineConfig } from 'vitest/config';

// The real-cluster suite: two kwok-backed control planes and a real istioctl (npm run test:e2e).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 1_800_000,
    fileParallelism: false,
  },
});
