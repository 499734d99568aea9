/**
 * The canary test for OAuth connectors: a pre-registered client whose secret is a canary gets
 * its tokens from a real authorization server (oidc-provider, client credentials), Interlock
 * calls an MCP server that accepts only those tokens, and neither the client secret nor any
 * token the authorization server issued shows up in logs (trace level), Redis, API answers, pages
 * or MCP answers. Tokens in Redis are sealed: another key cannot open them. The browser login's
 * codes, PKCE verifiers and refresh tokens are checked the same way in
 * test/connectors/oauth/login.browser.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { Sealer } from '../../src/connectors/oauth/sealed.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { waitForStatus } from '../helpers/app.ts';
import type { TestOAuthServer } from '../helpers/oauth-server.ts';
import { oauthServer, openApp, openServer, withEnv } from '../helpers/fixtures.ts';
import { dumpRedis, witnessTest } from './witness.ts';
import { connectClient } from '../server/mcp/helpers.ts';

const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const KEY = randomBytes(32);

const yaml = (mcpUrl: string) => `
connectors:
  notes:
    transport: streamable-http
    url: ${mcpUrl}
    auth: { type: oauth, grant: client_credentials, client_id: interlock-m2m, client_secret: "\${env:IL_OAUTH_CANARY}", scopes: [tools] }
workflows:
  note:
    description: stores a note (a write, so it waits for a decision)
    expose: true
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - id: who
        call: notes.whoami
        with: {}
      - id: add
        call: notes.add_note
        with: { text: "\${{ inputs.text }}" }
`;

const it = witnessTest.extend<{ as: TestOAuthServer; app: App; server: RunningServer }>({
  as: oauthServer({ staticClient: { clientId: 'interlock-m2m', clientSecret: CANARY } }),
  app: [
    async ({ redis, as, witness }, use) =>
      withEnv({ IL_OAUTH_CANARY: CANARY, INTERLOCK_SECRET_KEY: KEY.toString('hex') }, () =>
        openApp(redis, { yaml: yaml(as.mcpUrl), logger: witness.logger }, use),
      ),
    { scope: 'file' },
  ],
  server: [
    async ({ app, witness }, use) => openServer(app, { onNotice: (m) => witness.saw('notice', m) }, use),
    { scope: 'file' },
  ],
});

describe('an OAuth connector keeps its client secret and tokens out of everything it writes or answers', () => {
  it('gets a client-credentials token by itself and calls the tools with it', async ({ app, as }) => {
    const { run } = await app.engine.trigger('note', { text: 'hello' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed', 'needs_attention']);
    expect(paused.status).toBe('awaiting_confirmation');
    expect(paused.steps.who.output).toEqual({ sub: 'interlock-m2m' });
    const conf = paused.steps.add.confirmationId as string;
    const c = await app.store.requireConfirmation(conf);
    await app.engine.approve(conf, c.argumentsHash, { by: 'test' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(as.grants.client_credentials).toBe(1);
    expect(as.seen.length).toBeGreaterThan(0);
  });

  it('appears nowhere: logs, Redis, API answers, pages and MCP answers', async ({ app, server, as, saw, seen, logs }) => {
    const { run } = await app.engine.trigger('note', { text: 'again' });
    const r = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed']);
    saw('run', JSON.stringify(r));
    saw('events', JSON.stringify(await app.store.readEvents(run.id)));
    for (const path of [
      '/api/v1/connectors',
      `/api/v1/runs/${run.id}`,
      '/api/v1/confirmations',
      '/ui',
      '/ui/connectors',
      `/ui/runs/${run.id}`,
    ]) {
      const res = await fetch(`${server.url}${path}`);
      saw(path, `${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
    }
    const login = await fetch(`${server.url}/api/v1/connectors/notes/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const loginBody = await login.text();
    saw('login', loginBody);
    expect(JSON.parse(loginBody).oauth).toMatchObject({ status: 'connected', scopes: ['tools'] });
    const mcp = await connectClient(`${server.url}/mcp`);
    try {
      saw('mcp get_run', JSON.stringify(await mcp.client.callTool({ name: 'get_run', arguments: { runId: run.id } })));
      saw('mcp tools', JSON.stringify(await mcp.client.listTools()));
    } finally {
      await mcp.close();
    }
    saw('logs', logs.join(''));
    saw('redis', await dumpRedis(app));
    const secrets = [CANARY, ...as.seen];
    for (const s of secrets) for (const { where, text } of seen) expect(text.includes(s), `a secret in ${where}`).toBe(false);
  });

  it('keeps tokens sealed: another key cannot open them, the right one can', async ({ app, as }) => {
    const h = await app.redis.client.hgetall(app.store.keys.oauth('notes'));
    expect(h.tokens).toMatch(/^v1\./);
    expect(new Sealer(randomBytes(32)).open(h.tokens, 'notes/tokens')).toBeUndefined();
    // Sealed for one place: the same value under another connector's name does not open either.
    expect(new Sealer(KEY).open(h.tokens, 'other/tokens')).toBeUndefined();
    const tokens = new Sealer(KEY).open<{ access_token: string }>(h.tokens, 'notes/tokens');
    expect(as.seen).toContain(tokens?.access_token);
  });
});
