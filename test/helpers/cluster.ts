/**
 * Redis Cluster as a fixture: `clusterTest` is the base `test` (./fixtures.ts) with `cluster`, three
 * masters on free ports (./redis.ts TestCluster) started when first named and stopped after the
 * file; `openClusterApp` is openApp for an App on it, as REDIS_CLUSTER_NODES connects one.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { type OpenAppOptions, test, useApp } from './fixtures.ts';
import { TestCluster } from './redis.ts';

export const clusterTest = test.extend<{ cluster: TestCluster }>({
  cluster: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const cluster = new TestCluster();
      try {
        await cluster.start(3);
        await use(cluster);
      } finally {
        await cluster.stop();
      }
    },
    { scope: 'file' },
  ],
});

/**
 * An App on `cluster` under its own key prefix, loaded from `yaml` written to a temp workflows.yaml
 * (`app.config.file`, for the CLI), with workers unless `workers: false`; handed to `use` and closed after.
 */
export async function openClusterApp(
  cluster: TestCluster,
  opts: Pick<OpenAppOptions, 'workers' | 'logger'> & { yaml: string },
  use: (app: App) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'interlock-cluster-cfg-'));
  const file = join(dir, 'workflows.yaml');
  writeFileSync(file, opts.yaml);
  const config = loadConfigFromString(opts.yaml, file);
  const app = await App.create({
    config,
    redisClusterNodes: cluster.nodes,
    prefix: `c${randomUUID().slice(0, 8)}`,
    logger: opts.logger ?? silentLogger(),
  });
  try {
    await useApp(app, opts.workers, use);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
