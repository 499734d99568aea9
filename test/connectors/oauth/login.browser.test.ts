/**
 * Interlock as an OAuth client of a connector, end to end against a real authorization server
 * (oidc-provider) and an MCP server that accepts only its tokens: discovery from the 401, dynamic
 * registration, a person's login through the Connect button (login and consent pages clicked in
 * Chromium), tool calls by three `interlock worker` processes, one refresh across all three when
 * the token expires, and a run that pauses when the refresh token is revoked and continues after
 * the next login.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { StoredTokens } from '../../../src/connectors/oauth/credentials.ts';
import { Sealer } from '../../../src/connectors/oauth/sealed.ts';
import type { RunningServer } from '../../../src/server/serve.ts';
import { waitForStatus } from '../../helpers/app.ts';
import { type WorkerProcesses, oauthServer, openApp, openServer, test, workerProcesses } from '../../helpers/fixtures.ts';
import type { TestOAuthServer } from '../../helpers/oauth-server.ts';
import type { WorkerProcess } from '../../helpers/processes.ts';
import { whoamiOAuthYaml } from '../../helpers/workflows.ts';

const KEY = randomBytes(32);
process.env.INTERLOCK_SECRET_KEY = KEY.toString('base64');

const yaml = (mcpUrl: string) => whoamiOAuthYaml(mcpUrl, `{ type: oauth, scopes: [openid, email] }`);

let pausedId = '';
/** pages the browser ended on (the callback's), for the leak check */
const shown: string[] = [];

// Three `interlock worker` processes take the steps; the server runs none of its own.
const it = test.extend<{
  as: TestOAuthServer;
  app: App;
  workers: WorkerProcess[];
  processes: WorkerProcesses;
  server: RunningServer;
}>({
  as: oauthServer(),
  app: [async ({ redis, as }, use) => openApp(redis, { yaml: yaml(as.mcpUrl), workers: false }, use), { scope: 'file' }],
  processes: workerProcesses,
  workers: [
    async ({ app, processes }, use) =>
      use(
        await processes.start(3, {
          env: { INTERLOCK_SECRET_KEY: KEY.toString('base64'), INTERLOCK_OAUTH_REDIRECT_URL: app.oauth.redirectUrl },
        }),
      ),
    { scope: 'file' },
  ],
  server: [async ({ app, workers: _running }, use) => openServer(app, { workers: false }, use), { scope: 'file' }],
});

/** Connect on /ui/connectors, then whatever the authorization server shows: its login form, its consent page. */
async function logInThroughBrowser(server: RunningServer, page: Page, user: string): Promise<string> {
  await page.goto(`${server.url}/ui/connectors`);
  await page.locator('button[data-connect="notes"]').click();
  const callback = `${server.url}/oauth/callback`;
  // The pages come one after another as the browser follows redirects; act on whichever is shown.
  for (let i = 0; i < 600 && !page.url().startsWith(callback); i++) {
    await page.waitForLoadState();
    if (page.url().startsWith(callback)) break;
    if (await page.locator('input[name="login"]').count()) {
      await page.fill('input[name="login"]', user);
      await page.fill('input[name="password"]', 'any password');
      await page.locator('button[type="submit"]').click();
    } else if (await page.locator('button:has-text("Continue")').count()) {
      await page.locator('button:has-text("Continue")').click();
    } else {
      await sleep(100);
    }
  }
  await page.waitForURL((u) => u.href.startsWith(callback));
  shown.push(await page.content());
  return page.locator('h1').innerText();
}

async function connectorJson(server: RunningServer): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/api/v1/connectors`);
  const body = (await res.json()) as { connectors: Array<Record<string, unknown>> };
  return body.connectors.find((c) => c.id === 'notes') as Record<string, unknown>;
}

async function storedTokens(app: App): Promise<StoredTokens> {
  const h = await app.redis.client.hgetall(app.store.keys.oauth('notes'));
  return new Sealer(KEY).open<StoredTokens>(h.tokens, 'notes/tokens') as StoredTokens;
}

async function runWho(app: App): Promise<string> {
  const { run } = await app.engine.trigger('who', {});
  return run.id;
}

describe('an OAuth connector logged in through the browser', () => {
  it('starts with no login: a run pauses with CONNECTOR_LOGIN_REQUIRED instead of failing', async ({ app, server, as }) => {
    expect((await connectorJson(server)).oauth).toMatchObject({ status: 'login_required' });
    pausedId = await runWho(app);
    const run = await waitForStatus(app, pausedId, ['needs_attention', 'failed', 'succeeded']);
    expect(run.status).toBe('needs_attention');
    expect(run.error?.code).toBe('CONNECTOR_LOGIN_REQUIRED');
    expect(as.calls).toHaveLength(0);
  });

  it('discovers, registers and logs in; the paused run continues and the API says who is connected', async ({
    app,
    server,
    browser,
    as,
  }) => {
    const page = await browser.newPage();
    try {
      expect(await logInThroughBrowser(server, page, 'alice')).toBe('Connector notes is connected');
    } finally {
      await page.close();
    }
    expect(as.grants.authorization_code).toBe(1);
    const run = await waitForStatus(app, pausedId, ['succeeded', 'failed', 'needs_attention']);
    expect(run.status).toBe('succeeded');
    expect(run.steps.me.output).toEqual({ sub: 'alice' });
    const c = await connectorJson(server);
    expect(c.oauth).toMatchObject({ status: 'connected', subject: 'alice@example.test', grant: 'authorization_code' });
    expect((c.oauth as { scopes: string[] }).scopes).toEqual(expect.arrayContaining(['tools']));
    expect((c.oauth as { expiresAt: number }).expiresAt).toBeGreaterThan(Date.now());
    const tokens = await storedTokens(app);
    expect(JSON.stringify(c)).not.toContain(tokens.access_token);
    // Sealed at rest: neither token appears in any value Redis holds.
    const raw = JSON.stringify(await app.redis.client.hgetall(app.store.keys.oauth('notes')));
    expect(raw).not.toContain(tokens.access_token);
    expect(raw).not.toContain(tokens.refresh_token);
  });

  it('refreshes an expired token once across three worker processes', async ({ app, server, browser, as }) => {
    // The next token lives 2 s; one login later it has run out.
    as.ttl.access = 2;
    const page = await browser.newPage();
    try {
      expect(await logInThroughBrowser(server, page, 'alice')).toBe('Connector notes is connected');
    } finally {
      await page.close();
    }
    as.ttl.access = 3600;
    // Waiting out the token's 2 s is the setup, not a measurement: nothing here asserts a duration.
    const short = await storedTokens(app);
    expect(short.expires_in).toBe(2);
    const expiresAt = short.expires_at as number;
    while (Date.now() < expiresAt) await sleep(expiresAt - Date.now());
    const before = as.grants.refresh_token ?? 0;
    const ids = await Promise.all(Array.from({ length: 9 }, () => runWho(app)));
    for (const id of ids)
      expect((await waitForStatus(app, id, ['succeeded', 'failed', 'needs_attention'])).status).toBe('succeeded');
    expect((as.grants.refresh_token ?? 0) - before).toBe(1);
    expect((await connectorJson(server)).oauth).toMatchObject({ status: 'connected', subject: 'alice@example.test' });
  });

  it('pauses a run when the refresh token is revoked, and continues it after the next login', async ({
    app,
    server,
    browser,
    as,
  }) => {
    const h = await app.redis.client.hgetall(app.store.keys.oauth('notes'));
    const client = new Sealer(KEY).open<{ client_id: string }>(h.client, 'notes/client');
    const tokens = await storedTokens(app);
    await as.revoke(tokens.refresh_token as string, client?.client_id as string);
    const id = await runWho(app);
    const run = await waitForStatus(app, id, ['needs_attention', 'failed', 'succeeded']);
    expect(run.status).toBe('needs_attention');
    expect(run.error?.code).toBe('CONNECTOR_LOGIN_REQUIRED');
    expect((await connectorJson(server)).oauth).toMatchObject({ status: 'login_required' });

    const page = await browser.newPage();
    try {
      expect(await logInThroughBrowser(server, page, 'bob')).toBe('Connector notes is connected');
    } finally {
      await page.close();
    }
    const resumed = await waitForStatus(app, id, ['succeeded', 'failed']);
    expect(resumed.status).toBe('succeeded');
    expect(resumed.steps.me.output).toEqual({ sub: expect.any(String) });
  });

  it('never shows a code, verifier or token: worker logs, pages, API answers and Redis', async ({ app, server, as, workers }) => {
    const where: Array<[string, string]> = workers.map((w, i) => [`worker ${i}`, w.output]);
    for (const [i, html] of shown.entries()) where.push([`callback page ${i}`, html]);
    for (const path of ['/api/v1/connectors', '/ui/connectors', `/api/v1/runs/${pausedId}`, `/ui/runs/${pausedId}`]) {
      const res = await fetch(`${server.url}${path}`);
      where.push([path, await res.text()]);
    }
    const keys = await app.redis.client.keys(`${app.prefix}:*`);
    for (const k of keys) {
      if ((await app.redis.client.type(k)) === 'hash') where.push([k, JSON.stringify(await app.redis.client.hgetall(k))]);
    }
    const secrets = as.seen;
    // codes, verifiers, access, refresh and ID tokens of three logins and a refresh
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    for (const s of secrets) for (const [at, text] of where) expect(text.includes(s), `a secret in ${at}`).toBe(false);
  });
});
