/**
 * Third-party MCP servers from npm (exact versions in package.json) run as stdio children against
 * the Stripe and Slack sandboxes, through a real App: Redis, queues, workers, the gate.
 * docs/servers.md describes the same connector settings; these tests keep it true.
 */
import { join } from 'node:path';
import type { Sandboxes } from '../../../src/sandbox/index.ts';
import { ROOT } from '../../helpers/app.ts';
import { appTest } from '../../helpers/fixtures.ts';

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

/**
 * The app for `yaml` with workers, on both sandboxes (started first) and with the keys the
 * third-party servers are given: `it('…', async ({ app, sandboxes }) => …)`.
 */
export function serversTest(yaml: string) {
  return appTest({
    yaml,
    sandboxes: true,
    env: { THIRD_PARTY_STRIPE_KEY: 'sk_test_third_party', THIRD_PARTY_SLACK_TOKEN: 'xoxb-third-party' },
  });
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

export const slackState = (sandboxes: Sandboxes) => sandboxes.slack.state() as unknown as SlackState;
export const stripeState = (sandboxes: Sandboxes) => sandboxes.stripe.state() as unknown as StripeState;

export { approveAll, runThrough } from '../../helpers/app.ts';
