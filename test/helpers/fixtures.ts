import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base } from 'vitest';
import type { App } from '../../src/app.ts';
import { makeApp } from './app.ts';
import { TestRedis } from './redis.ts';

type WorkerOptions = Parameters<App['startWorkers']>[0];

export interface AppFixtureOptions {
  /** the workflows.yaml text the app loads (see configYaml in ./workflows.ts) */
  yaml: string;
  /** in-process step workers: their options, or false for an app that only triggers and inspects */
  workers?: WorkerOptions | false;
}

/** What a suite's tests can ask for: each is built for the first test that names it and kept for the file. */
export interface FileFixtures {
  /** a private redis-server, stopped (and its data removed) after the file */
  redis: TestRedis;
  /** the config written to a temp workflows.yaml, for child processes (`INTERLOCK_CONFIG`) and the CLI */
  configFile: string;
  /** an App on `redis` under its own key prefix, loaded from `configFile`, with workers unless told otherwise; closed after the file */
  app: App;
}

/** A private redis-server for the file, as a fixture (`it('…', async ({ redis }) => …)`). */
export const redisTest = base.extend<{ redis: TestRedis }>({
  redis: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const redis = await new TestRedis().start();
      await use(redis);
      await redis.stop();
    },
    { scope: 'file' },
  ],
});

/**
 * A `test` whose context holds `redis` and `app` for one config: the setup and teardown that each
 * suite used to copy into beforeAll/afterAll. Tests are written `it('…', async ({ app }) => …)`.
 */
export function appTest(opts: AppFixtureOptions) {
  return redisTest.extend<Omit<FileFixtures, 'redis'>>({
    configFile: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
      async ({}, use) => {
        const dir = mkdtempSync(join(tmpdir(), 'interlock-config-'));
        const file = join(dir, 'workflows.yaml');
        writeFileSync(file, opts.yaml);
        await use(file);
        rmSync(dir, { recursive: true, force: true });
      },
      { scope: 'file' },
    ],
    app: [
      async ({ redis, configFile }, use) => {
        const app = await makeApp(opts.yaml, redis.url, configFile);
        try {
          if (opts.workers !== false) await app.startWorkers(opts.workers ?? {});
          await use(app);
        } finally {
          await app.close();
        }
      },
      { scope: 'file' },
    ],
  });
}
