import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    globalSetup: ['packages/test-kit/dist/global-setup.js'],
    // `.only` fails the run everywhere, not only in CI: a focused suite must never pass for the whole.
    allowOnly: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // e2e tests share one Docker engine on 2 cores: two files at a time
    maxWorkers: 2,
  },
});
