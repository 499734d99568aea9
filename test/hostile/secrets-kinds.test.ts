/**
 * The canary test for every kind of configured secret at once: OPENAI_API_KEY (against an
 * OpenAI-compatible endpoint that echoes the key in its 401), STRIPE_SECRET_KEY and
 * SLACK_BOT_TOKEN (real-looking keys, pointed at the sandboxes by INTERLOCK_*_API_URL, which must
 * win over the key), SLACK_SIGNING_SECRET, a connector bearer token, a `${env:…}` connector header,
 * and the API tokens.
 * None may appear in run records, events, SSE, pages, API or MCP answers, Redis or the logs.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { type OpenAISandbox, startOpenAISandbox } from '../../src/sandbox/openai/index.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { startTestServerHttp, type TestServerHttp } from '../fixtures/test-server.ts';
import { waitForStatus } from '../helpers/app.ts';
import { openApp, openServer, withEnv } from '../helpers/fixtures.ts';
import { witnessTest } from './witness.ts';
import { connectClient } from '../server/mcp/helpers.ts';

const hex = () => randomBytes(10).toString('hex');
const SECRETS = {
  OPENAI_API_KEY: `sk-canaryopenai${hex()}`,
  STRIPE_SECRET_KEY: `sk_test_canarystripe${hex()}`,
  SLACK_BOT_TOKEN: `xoxb-canaryslack-${hex()}`,
  SLACK_SIGNING_SECRET: `canarysigning${hex()}`,
  IL_K_HEADER: `canaryheader${hex()}`,
  IL_K_BEARER: `canarybearer${hex()}`,
  IL_K_OPS: `canaryops${hex()}`,
  IL_K_VIEWER: `canaryviewer${hex()}`,
};

const yaml = (remote: string) => `
llm:
  model: gpt-test
connectors:
  stripe:
    transport: stdio
    command: interlock            # our own binary: it inherits the environment, keys included
    args: [connector, stripe]
    timeout: 20s
  slack:
    transport: stdio
    command: interlock            # our own binary: it inherits the environment, keys included
    args: [connector, slack]
    timeout: 20s
  remote:
    transport: streamable-http
    url: ${remote}
    auth: { type: bearer, token: "\${env:IL_K_BEARER}" }
    headers: { X-Api-Key: "\${env:IL_K_HEADER}" }
policy:
  confirmation_ttl: 1h
tokens:
  - { name: ops, token: "\${env:IL_K_OPS}", scopes: [read, trigger, confirm, admin] }
  - { name: viewer, token: "\${env:IL_K_VIEWER}", scopes: [read] }
workflows:
  draft:
    description: a model drafts a note
    inputs: { type: object }
    steps:
      - id: write
        llm:
          instructions: Draft a note.
          input: hello
          output_schema: { type: object, required: [note], additionalProperties: false, properties: { note: { type: string } } }
        retry: 1
  refund:
    description: refund a seeded charge, then tell billing
    inputs: { type: object }
    steps:
      - id: refund
        call: stripe.create_refund
        with: { charge_id: ch_seed_1, amount: 100 }
      - id: post
        call: slack.post_message
        with: { channel: "#billing", text: "refunded \${{ steps.refund.output.id }}" }
  echo:
    description: a read through a connector whose header is a secret
    inputs: { type: object }
    steps:
      - id: say
        call: remote.echo
        with: { text: hi }
`;

const it = witnessTest.extend<{
  /** an OpenAI-compatible endpoint that echoes the key in its 401 */
  keyEchoingOpenai: OpenAISandbox;
  bearerServer: TestServerHttp;
  env: Record<string, string>;
  app: App;
  server: RunningServer;
}>({
  keyEchoingOpenai: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const openai = await startOpenAISandbox({ script: [], rejectKey: true });
      await use(openai);
      await openai.close();
    },
    { scope: 'file' },
  ],
  bearerServer: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const remote = await startTestServerHttp({ mode: 'streamable', token: SECRETS.IL_K_BEARER });
      await use(remote);
      await remote.close();
    },
    { scope: 'file' },
  ],
  env: [
    async ({ keyEchoingOpenai: openai, stripe, slack }, use) =>
      use({ ...SECRETS, OPENAI_BASE_URL: openai.url, INTERLOCK_STRIPE_API_URL: stripe.url, INTERLOCK_SLACK_API_URL: slack.url }),
    { scope: 'file' },
  ],
  // Unredacted at trace level: the logger's own hook is not what is under test here.
  app: [
    async ({ redis, bearerServer, env, witness }, use) =>
      withEnv(env, () => openApp(redis, { yaml: yaml(bearerServer.url), logger: witness.logger }, use)),
    { scope: 'file' },
  ],
  server: [
    async ({ app, env, witness }, use) => openServer(app, { env, onNotice: (m) => witness.logs.push(m) }, use),
    { scope: 'file' },
  ],
});

describe('one scrubber for every secret (issue 14)', () => {
  it('keeps every configured secret out of records, events, SSE, pages, API and MCP answers, Redis and logs', async ({
    app,
    server,
    keyEchoingOpenai: openai,
    stripe,
    slack,
    logs,
  }) => {
    const seen: Array<{ where: string; text: string }> = [];
    const saw = (where: string, text: string) => seen.push({ where, text });
    const viewer = { authorization: `Bearer ${SECRETS.IL_K_VIEWER}` };
    const ops = { authorization: `Bearer ${SECRETS.IL_K_OPS}`, 'content-type': 'application/json' };

    // The endpoint put the key in its 401: there was something to leak.
    const draft = (await app.engine.trigger('draft', {})).run;
    const failed = await waitForStatus(app, draft.id, ['failed']);
    expect(failed.error?.message).toContain('Incorrect API key provided: [redacted]');
    expect(openai.requests).toHaveLength(0);

    // Real-looking Stripe and Slack keys went to the sandboxes named by INTERLOCK_*_API_URL.
    const refund = (await app.engine.trigger('refund', {})).run;
    for (;;) {
      const r = await waitForStatus(app, refund.id, ['awaiting_confirmation', 'succeeded', 'failed']);
      if (r.status !== 'awaiting_confirmation') break;
      const cid = Object.values(r.steps).find((s) => s.status === 'awaiting_confirmation')?.confirmationId ?? '';
      const conf = await app.store.requireConfirmation(cid);
      const res = await fetch(`${server.url}/api/v1/confirmations/${cid}/approve`, {
        method: 'POST',
        headers: ops,
        body: JSON.stringify({ argumentsHash: conf.argumentsHash }),
      });
      expect(res.status).toBe(200);
      await waitForStatus(app, refund.id, ['running', 'awaiting_confirmation', 'succeeded', 'failed']);
      await new Promise((r2) => setTimeout(r2, 50));
    }
    const refunded = await app.store.requireRun(refund.id);
    expect(refunded.status).toBe('succeeded');
    const refundId = (refunded.steps.refund.output as { id: string }).id;
    expect(Object.keys((stripe.state() as { refunds: Record<string, unknown> }).refunds)).toContain(refundId);
    expect(slack.state().messages.map((m) => m.text)).toContain(`refunded ${refundId}`);

    const echo = (await app.engine.trigger('echo', {})).run;
    expect((await waitForStatus(app, echo.id, ['succeeded', 'failed'])).status).toBe('succeeded');

    for (const id of [draft.id, refund.id, echo.id]) {
      saw(`api run ${id}`, await (await fetch(`${server.url}/api/v1/runs/${id}`, { headers: viewer })).text());
      saw(`sse ${id}`, await (await fetch(`${server.url}/api/v1/runs/${id}/events`, { headers: viewer })).text());
      saw(`page ${id}`, await (await fetch(`${server.url}/ui/runs/${id}`, { headers: viewer })).text());
      saw(`fragment ${id}`, await (await fetch(`${server.url}/ui/runs/${id}/fragment`, { headers: viewer })).text());
    }
    for (const p of ['/api/v1/runs', '/api/v1/confirmations', '/api/v1/connectors', '/ui', '/metrics'])
      saw(p, await (await fetch(`${server.url}${p}`, { headers: viewer })).text());
    const mcp = await connectClient(`${server.url}/mcp`, { token: SECRETS.IL_K_VIEWER });
    try {
      for (const id of [draft.id, refund.id, echo.id])
        saw(`mcp get_run ${id}`, JSON.stringify(await mcp.client.callTool({ name: 'get_run', arguments: { runId: id } })));
    } finally {
      await mcp.close();
    }
    const r = app.redis.client;
    const keys = await r.keys('*');
    for (const k of keys) {
      const type = await r.type(k);
      if (type === 'hash') saw(`redis ${k}`, JSON.stringify(await r.hgetall(k)));
      else if (type === 'string') saw(`redis ${k}`, String(await r.get(k)));
      else if (type === 'stream') saw(`redis ${k}`, JSON.stringify(await r.xrange(k, '-', '+')));
      else if (type === 'list') saw(`redis ${k}`, JSON.stringify(await r.lrange(k, 0, -1)));
      else if (type === 'zset') saw(`redis ${k}`, JSON.stringify(await r.zrange(k, 0, -1)));
    }
    saw('logs', logs.join(''));

    const leaks: string[] = [];
    for (const [kind, value] of Object.entries(SECRETS)) {
      for (const s of seen)
        if (s.text.includes(value))
          leaks.push(`${kind} in ${s.where}: …${s.text.slice(Math.max(0, s.text.indexOf(value) - 120), s.text.indexOf(value))}…`);
    }
    expect(leaks).toEqual([]);
    expect(seen.find((s) => s.where === `sse ${draft.id}`)?.text).toContain('Incorrect API key provided: [redacted]');
  }, 120_000);
});
