import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A suite's setup is a file-scoped fixture (test/helpers/fixtures.ts), started inside its first
    // test, so that test's budget holds the setup a beforeAll hook used to have apart.
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Suites start their own redis-server and child processes; two cores, so keep it modest.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
