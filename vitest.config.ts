import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One real dev server and one runsc root for the suite; needs root and runsc.
          globalSetup: ['test/support/global-setup.ts'],
          // Files run one at a time: they share the dev server and the runsc root, and some
          // time cancellation, which a 2-core machine running several at once would distort.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
