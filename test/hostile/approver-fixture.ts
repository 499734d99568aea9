/**
 * The attacker's setup from issue 14: `interlock serve` with four tokens (ops: every scope, chat:
 * read + trigger, viewer: read, approver: read + confirm) and the built-in Slack connector posting
 * to the Slack sandbox, whose message list is the witness of what was really sent.
 */
import { join } from 'node:path';
import type { App } from '../../src/app.ts';
import type { ConfirmationRecord, RunRecord, RunStatus } from '../../src/runs/records.ts';
import type { SlackSandbox } from '../../src/sandbox/slack/index.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { openApp, openServer, test } from '../helpers/fixtures.ts';
import type { TestRedis } from '../helpers/redis.ts';
import { type Raw, raw } from '../server/helpers.ts';

export { type Raw, cookieFrom, raw } from '../server/helpers.ts';

export const TOKENS = {
  ops: 'tok-h14-ops-a1b2c3d4',
  chat: 'tok-h14-chat-e5f6a7b8',
  viewer: 'tok-h14-viewer-c9d0e1f2',
  approver: 'tok-h14-approver-a3b4c5d6',
} as const;
export type TokenName = keyof typeof TOKENS;
/** the principals whose decisions may let a write through */
export const CONFIRMERS = new Set<string>(['ops', 'approver']);

const yaml = (slackUrl: string) => `
connectors:
  slack:
    transport: stdio
    command: ${process.execPath}
    args: [${join(ROOT, 'src/cli.ts')}, connector, slack]
    env: { INTERLOCK_SLACK_API_URL: "${slackUrl}" }
    timeout: 20s
policy:
  confirmation_ttl: 1h
tokens:
  - { name: ops, token: "\${env:IL_H14_OPS}", scopes: [read, trigger, confirm, admin] }
  - { name: chat, token: "\${env:IL_H14_CHAT}", scopes: [read, trigger] }
  - { name: viewer, token: "\${env:IL_H14_VIEWER}", scopes: [read] }
  - { name: approver, token: "\${env:IL_H14_APPROVER}", scopes: [read, confirm] }
workflows:
  notify:
    description: post one message to a channel
    expose: true
    inputs: { type: object, required: [text], additionalProperties: false, properties: { text: { type: string, minLength: 1 } } }
    steps:
      - id: post
        call: slack.post_message
        with: { channel: "#billing", text: "\${{ inputs.text }}" }
`;

export interface Attack {
  redis: TestRedis;
  slack: SlackSandbox;
  app: App;
  server: RunningServer;
  url: string;
  /** texts the Slack sandbox received in #billing */
  posted(): string[];
  api(
    path: string,
    opts?: { method?: string; token?: TokenName; json?: unknown; headers?: Record<string, string>; body?: string },
  ): Promise<Raw>;
  trigger(token: TokenName, text: string, session?: string): Promise<RunRecord>;
  pendingOf(runId: string): Promise<ConfirmationRecord>;
  waitRun(runId: string, statuses: RunStatus[]): Promise<RunRecord>;
}

const ENV = {
  IL_H14_OPS: TOKENS.ops,
  IL_H14_CHAT: TOKENS.chat,
  IL_H14_VIEWER: TOKENS.viewer,
  IL_H14_APPROVER: TOKENS.approver,
};

function attackOn(redis: TestRedis, slack: SlackSandbox, app: App, server: RunningServer): Attack {
  const api: Attack['api'] = (path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${TOKENS[opts.token]}`;
    if (opts.json !== undefined) headers['content-type'] = 'application/json';
    return raw(`${server.url}${path}`, {
      method: opts.method ?? 'GET',
      headers,
      ...(opts.json !== undefined ? { body: JSON.stringify(opts.json) } : opts.body !== undefined ? { body: opts.body } : {}),
    });
  };
  const waitRun = (runId: string, statuses: RunStatus[]) => waitForStatus(app, runId, statuses, 30_000);
  return {
    redis,
    slack,
    app,
    server,
    url: server.url,
    api,
    waitRun,
    posted: () =>
      slack
        .state()
        .messages.filter((m) => m.channel === 'C0BILLING')
        .map((m) => m.text),
    async trigger(token, text, session) {
      const res = await api('/api/v1/workflows/notify/runs', {
        method: 'POST',
        token,
        json: { inputs: { text }, ...(session ? { session } : {}) },
      });
      if (res.status !== 202) throw new Error(`trigger answered ${res.status}: ${res.body}`);
      return JSON.parse(res.body) as RunRecord;
    },
    async pendingOf(runId) {
      const run = await waitRun(runId, ['awaiting_confirmation']);
      return app.store.requireConfirmation(run.steps.post.confirmationId ?? '');
    },
  };
}

/**
 * The attack setup as the fixture `attack`: `interlock serve` (workers sweeping every 100 ms) on
 * the file's `redis`, its Slack connector posting to the file's `slack` sandbox.
 */
export const attackTest = test.extend<{ attack: Attack }>({
  attack: [
    async ({ redis, slack }, use) =>
      openApp(redis, { yaml: yaml(slack.url), workers: { sweepEveryMs: 100 } }, (app) =>
        openServer(app, { env: ENV }, (server) => use(attackOn(redis, slack, app, server))),
      ),
    { scope: 'file' },
  ],
});
