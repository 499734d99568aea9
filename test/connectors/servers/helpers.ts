/**
 * Third-party MCP servers from npm (exact versions in package.json) run as stdio children against
 * the Stripe and Slack sandboxes, through a real App: Redis, queues, workers, the gate.
 * docs/servers.md describes the same connector settings; these tests keep it true.
 */
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { App } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { startSandboxes, type Sandboxes } from '../../../src/sandbox/index.ts';
import { loadConfigFromString } from '../../../src/workflows/load.ts';
import { ROOT } from '../../helpers/app.ts';
import { TestRedis } from '../../helpers/redis.ts';

export const NODE = process.execPath;
export const STRIPE_MCP = join(ROOT, 'node_modules/@stripe/mcp/dist/index.js');
export const SLACK_MCP = join(ROOT, 'node_modules/@modelcontextprotocol/server-slack/dist/index.js');
export const FILESYSTEM_MCP = join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
export const STRIPE_PRELOAD = join(ROOT, 'src/sandbox/preload/stripe-host.cjs');
export const SLACK_PRELOAD = join(ROOT, 'src/sandbox/preload/slack-host.mjs');

/** The connectors as docs/servers.md shows them, with this checkout's paths. */
export const CONNECTORS = {
  stripeMcp: `
  stripe_mcp:
    command: ${NODE}
    args: [--require, ${STRIPE_PRELOAD}, ${STRIPE_MCP}, --tools=all]
    env: { STRIPE_SECRET_KEY: "\${env:THIRD_PARTY_STRIPE_KEY}", INTERLOCK_STRIPE_API_URL: "\${env:INTERLOCK_STRIPE_API_URL}" }
    tools:
      overrides:
        "*": { fail_when: "\${{ $type(output) = 'string' and $contains(output, 'Failed') }}" }`,
  slackMcp: `
  slack_mcp:
    command: ${NODE}
    args: [--import, ${SLACK_PRELOAD}, ${SLACK_MCP}]
    env: { SLACK_BOT_TOKEN: "\${env:THIRD_PARTY_SLACK_TOKEN}", SLACK_TEAM_ID: T0INTERLOCK, INTERLOCK_SLACK_API_URL: "\${env:INTERLOCK_SLACK_API_URL}" }
    tools:
      overrides:
        "slack_list_*": { annotations: { readOnlyHint: true, idempotentHint: true } }
        "slack_get_*": { annotations: { readOnlyHint: true, idempotentHint: true } }
        "*": { fail_when: "\${{ output.ok = false }}" }`,
  /** the same server without overrides, to show what it declares on its own */
  slackRaw: `
  slack_raw:
    command: ${NODE}
    args: [--import, ${SLACK_PRELOAD}, ${SLACK_MCP}]
    env: { SLACK_BOT_TOKEN: "\${env:THIRD_PARTY_SLACK_TOKEN}", SLACK_TEAM_ID: T0INTERLOCK, INTERLOCK_SLACK_API_URL: "\${env:INTERLOCK_SLACK_API_URL}" }`,
  files: (dir: string) => `
  files:
    command: ${NODE}
    args: [${FILESYSTEM_MCP}, ${dir}]`,
};

export interface Env {
  redis: TestRedis;
  sandboxes: Sandboxes;
  app: App;
}

/** Redis, both sandboxes and an App with workers over `yaml`; `close` stops them all. */
export async function startEnv(yaml: string): Promise<Env & { close: () => Promise<void> }> {
  const redis = await new TestRedis().start();
  const sandboxes = await startSandboxes({ stripePort: 0, slackPort: 0 });
  Object.assign(process.env, sandboxes.env, {
    THIRD_PARTY_STRIPE_KEY: 'sk_test_third_party',
    THIRD_PARTY_SLACK_TOKEN: 'xoxb-third-party',
  });
  const config = loadConfigFromString(yaml, join(ROOT, 'test/connectors/servers/inline.yaml'));
  const app = await App.create({ config, redisUrl: redis.url, prefix: `srv${process.pid}`, logger: silentLogger() });
  await app.startWorkers();
  return {
    redis,
    sandboxes,
    app,
    close: async () => {
      await app.close();
      await sandboxes.close();
      await redis.stop();
    },
  };
}

/** The suite's environment, started before its tests and stopped after them. */
export function useEnv(yaml: string, before?: () => void): () => Env {
  let env: (Env & { close: () => Promise<void> }) | undefined;
  beforeAll(async () => {
    before?.();
    env = await startEnv(yaml);
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });
  return () => {
    if (!env) throw new Error('the environment did not start');
    return env;
  };
}

export interface SlackState {
  messages: Array<{
    channel: string;
    text: string;
    ts: string;
    reactions?: Array<{ name: string; users: string[]; count: number }>;
  }>;
  requests: Array<{ method: string }>;
}
export interface StripeState {
  refunds: Record<string, { id: string; charge: string; amount: number; payment_intent: string | null }>;
}

export const slackState = (env: Env) => env.sandboxes.slack.state() as unknown as SlackState;
export const stripeState = (env: Env) => env.sandboxes.stripe.state() as unknown as StripeState;

export { approveAll, runThrough } from '../../helpers/app.ts';
