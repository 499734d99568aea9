import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { callLogPath } from '../helpers/app.ts';
import { openApp, openServer } from '../helpers/fixtures.ts';
import { dumpRedis, witnessGreetAndPay, witnessTest } from './witness.ts';
import {
  AS_SECRET,
  BUILTIN_ENV,
  MemoryOAuthClient,
  PASSWORDS,
  STATIC_TOKEN,
  builtinYaml,
  signInAndAllow,
} from '../server/oauth/helpers.ts';

/** A confidential client: dynamic registration hands it a client secret, which must stay as secret as the tokens. */
class ConfidentialClient extends MemoryOAuthClient {
  override get clientMetadata(): OAuthClientMetadata {
    return { ...super.clientMetadata, token_endpoint_auth_method: 'client_secret_basic' };
  }
}

const it = witnessTest.extend<{ app: App; server: RunningServer }>({
  app: [
    async ({ redis, witness }, use) => openApp(redis, { yaml: builtinYaml(callLogPath()), logger: witness.logger }, use),
    { scope: 'file' },
  ],
  server: [
    async ({ app, witness }, use) => openServer(app, { env: BUILTIN_ENV, onNotice: (m) => witness.saw('notice', m) }, use),
    { scope: 'file' },
  ],
});

describe('OAuth secrets of the built-in server appear in no log, record, event, page, API or MCP answer', () => {
  it('keeps access and refresh tokens, the code, the PKCE verifier and the client secret to the client alone', async ({
    app,
    server,
    browser,
    saw,
    seen,
    logs,
  }) => {
    const mcpUrl = `${server.url}/mcp`;
    const provider = new ConfidentialClient();
    const recordingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const type = res.headers.get('content-type') ?? '';
      const method = init?.method ?? 'GET';
      // Only /mcp's answers: the token and registration endpoints exist to hand these to the client.
      // A GET on /mcp is the long-lived notification stream; it would never end.
      const isMcp = new URL(String(input)).pathname === '/mcp';
      if (isMcp && (method !== 'GET' || !type.includes('event-stream')))
        saw(`mcp ${method} ${String(input)}`, await res.clone().text());
      return res;
    };
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: recordingFetch });
    await new Client({ name: 'canary', version: '1' }).connect(first).catch(() => {});
    const pages: string[] = [];
    const code = await signInAndAllow(
      browser,
      provider.authorizationUrl as URL,
      { user: 'alice', password: PASSWORDS.alice },
      (url, html) => {
        pages.push(url);
        saw(`page ${url}`, html);
      },
    );
    expect(pages.some((u) => u.includes('/oauth/interaction/'))).toBe(true);
    await first.finishAuth(code);
    const client = new Client({ name: 'canary', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: recordingFetch }));

    await witnessGreetAndPay(client, app, saw);
    await client.close();

    // A refresh, the way the SDK does it, so the second pair is checked too.
    const info = provider.info as { client_id: string; client_secret?: string };
    const tokens = provider.saved as { access_token: string; refresh_token?: string };
    expect(info.client_secret).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = (await (
      await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${info.client_id}:${info.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }),
      })
    ).json()) as { access_token: string; refresh_token: string };
    expect(refreshed.access_token).toBeTruthy();

    for (const path of ['/api/v1/runs', '/api/v1/confirmations?status=pending', '/ui', '/ui/confirmations', '/metrics'])
      saw(
        `GET ${path}`,
        await (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${STATIC_TOKEN}` } })).text(),
      );
    saw('redis', await dumpRedis(app));
    saw('logs', logs.join('\n'));

    const secrets: Record<string, string> = {
      'access token': tokens.access_token,
      'refresh token': tokens.refresh_token as string,
      'refreshed access token': refreshed.access_token,
      'refreshed refresh token': refreshed.refresh_token,
      'authorization code': code,
      'PKCE verifier': provider.verifier as string,
      'client secret': info.client_secret as string,
      'server secret': AS_SECRET,
      password: PASSWORDS.alice,
    };
    expect(seen.length).toBeGreaterThan(15);
    const leaks = Object.entries(secrets).flatMap(([what, value]) =>
      seen.filter((s) => s.text.includes(value)).map((s) => `${what} in ${s.where}`),
    );
    expect(leaks).toEqual([]);
    // The person's name is there, as who started the runs: the check above is not blind.
    expect(seen.some((s) => s.where.startsWith('run ') && s.text.includes('"owner":"alice"'))).toBe(true);
  });
});
