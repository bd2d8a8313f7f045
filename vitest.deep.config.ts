import { defineConfig } from 'vitest/config';

// The exhaustive sweeps (npm run test:deep): every crash point, every verb and step searched for a leaked
// secret, the package installed from its tarball. npm test runs a representative subset of each.
export default defineConfig({
  test: {
    include: ['test/deep/**/*.deep.test.ts'],
    // Only a guard against a hang: how long a sweep takes depends on the machine (the package test compiles
    // better-sqlite3's binding; the crash matrix starts hundreds of processes), and CI's own budget bounds it.
    testTimeout: 1_800_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    globalSetup: ['test/support/pg-global-setup.ts'],
  },
});
