import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      'etcdkit/testing': fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      etcdkit: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Suites start real etcd servers; on two cores they must not compete for CPU.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    setupFiles: ['test/setup/hygiene.ts'],
  },
});
