import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import tsconfig from './tsconfig.json' with { type: 'json' };

// Tests run the TypeScript sources: each `@restjwt/*` specifier resolves to its package's source entry, from the
// same `paths` table the type check uses, so a test and the package it imports share one copy of every module.
const alias = Object.entries(tsconfig.compilerOptions.paths).map(([name, [target]]) => ({
  find: new RegExp(`^${name.replace(/[/]/g, '\\/')}$`),
  replacement: fileURLToPath(new URL(target!, import.meta.url)),
}));

// The installs from packed tarballs (test/install/, test/readme/) compile better-sqlite3 from source on a machine
// that cannot download its prebuilt binary: minutes of both cores. They run after everything else, so that the
// timing-sensitive tests (3-second tokens in a browser, races) never share the machine with a compiler.
const INSTALLS = ['test/install/**/*.test.ts', 'test/readme/**/*.test.ts'];
// The store suites against the database servers wait on PostgreSQL, MariaDB and Redis more than on the CPU: two of
// them run side by side, after the timing-sensitive tests of `main` and before the installs.
const SERVERS = ['test/stores/postgres.test.ts', 'test/stores/mariadb.test.ts', 'test/stores/redis-cache.test.ts', 'test/interop/shared-db.test.ts'];
// The app under every runtime (test/runtimes/): ten processes at once, so not beside the timing-sensitive tests (its own
// group: vitest refuses two projects of one group with different worker counts).
const RUNTIMES = ['test/runtimes/**/*.test.ts'];

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts', 'packages/*/src/**/*.test.ts'], exclude: [...INSTALLS, ...SERVERS, ...RUNTIMES], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'servers', include: SERVERS, maxWorkers: 2, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'runtimes', include: RUNTIMES, sequence: { groupOrder: 2 } } },
      // One at a time: three at once left two of them without their app's answer within the tests' time (tried).
      { extends: true, test: { name: 'installs', include: INSTALLS, sequence: { groupOrder: 3 } } },
    ],
  },
});
