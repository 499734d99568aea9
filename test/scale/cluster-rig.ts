/**
 * The rig of scale/cluster.test.ts: an app with workers on the `cluster` fixture, its HTTP server
 * with bearer tokens, and what the tests call through: `api` (a request with one of the tokens),
 * `cli` (`interlock` reading REDIS_CLUSTER_NODES) and `paused` (a pay run triggered over HTTP,
 * paused at its write, and its confirmation).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { ConfirmationRecord, RunRecord } from '../../src/runs/records.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { clusterTest, openClusterApp } from '../helpers/cluster.ts';
import { openServer } from '../helpers/fixtures.ts';

/** A token per scope the tests use. */
export interface ClusterTokens {
  reader: string;
  trigger: string;
  approver: string;
  admin: string;
}

/**
 * The fixtures for `yaml`, whose token named `reader` reads its secret from `${env:IL_CL_READER}`
 * (and so on for each name of `tokens`); the server gets those variables.
 */
export function clusterAppTest(yaml: string, tokens: ClusterTokens) {
  type Api = (path: string, token: keyof ClusterTokens, init?: RequestInit & { json?: unknown }) => Promise<Response>;
  const env = Object.fromEntries(Object.entries(tokens).map(([name, token]) => [`IL_CL_${name.toUpperCase()}`, token]));
  return clusterTest.extend<{
    app: App;
    server: RunningServer;
    api: Api;
    cli: (args: string[]) => Promise<{ stdout: string }>;
    paused: (name: string) => Promise<{ run: RunRecord; conf: ConfirmationRecord }>;
  }>({
    app: [async ({ cluster }, use) => openClusterApp(cluster, { yaml, workers: { sweepEveryMs: 200 } }, use), { scope: 'file' }],
    server: [async ({ app }, use) => openServer(app, { env }, use), { scope: 'file' }],
    api: [
      async ({ server }, use) =>
        use((path, token, init = {}) => {
          const { json, ...rest } = init;
          return fetch(`${server.url}${path}`, {
            ...rest,
            headers: {
              authorization: `Bearer ${tokens[token]}`,
              ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
          });
        }),
      { scope: 'file' },
    ],
    cli: [
      async ({ cluster, app }, use) =>
        use((args) =>
          promisify(execFile)(process.execPath, [join(ROOT, 'bin/interlock.js'), ...args], {
            env: {
              ...process.env,
              REDIS_URL: '',
              REDIS_CLUSTER_NODES: cluster.nodes,
              INTERLOCK_PREFIX: app.prefix,
              INTERLOCK_CONFIG: app.config.file,
              LOG_LEVEL: 'warn',
            },
            timeout: 30_000,
          }),
        ),
      { scope: 'file' },
    ],
    paused: [
      async ({ app, api }, use) =>
        use(async (name) => {
          const res = await api('/api/v1/workflows/pay/runs', 'trigger', { method: 'POST', json: { inputs: { name } } });
          expect(res.status).toBe(202);
          const run = await waitForStatus(app, ((await res.json()) as RunRecord).id, ['awaiting_confirmation', 'failed'], 20_000);
          expect(run.status).toBe('awaiting_confirmation');
          const conf = (await (
            await api(`/api/v1/confirmations/${run.steps.write.confirmationId}`, 'reader')
          ).json()) as ConfirmationRecord;
          return { run, conf };
        }),
      { scope: 'file' },
    ],
  });
}
