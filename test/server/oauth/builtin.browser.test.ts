import { decodeJwt } from 'jose';
import { describe, expect } from 'vitest';
import { waitForStatus } from '../../helpers/app.ts';
import { BUILTIN_ENV, MemoryOAuthClient, builtinYaml, connectWithOAuth, PASSWORDS, oauthTest } from './helpers.ts';

const it = oauthTest({ yaml: (log) => builtinYaml(log), env: BUILTIN_ENV });

describe('the built-in authorization server, as the MCP SDK client meets it', () => {
  it('answers /mcp without a token with 401 and a challenge that points at the protected resource metadata', async ({ h }) => {
    const res = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`resource_metadata="${h.url}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).toContain('scope="read trigger"');
    const meta = await (await fetch(`${h.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(meta).toMatchObject({
      resource: `${h.url}/mcp`,
      authorization_servers: [`${h.url}/oauth`],
      scopes_supported: ['read', 'trigger', 'confirm', 'admin', 'audit'],
    });
    const as = (await (await fetch(`${h.url}/.well-known/oauth-authorization-server/oauth`)).json()) as Record<string, unknown>;
    expect(as).toMatchObject({ issuer: `${h.url}/oauth`, code_challenge_methods_supported: expect.arrayContaining(['S256']) });
    expect(as.registration_endpoint).toBe(`${h.url}/oauth/reg`);
  });

  it('lets the SDK discover, register, sign in with PKCE in Chromium, list tools and run a workflow as the person', async ({
    h,
    browser,
  }) => {
    const c = await connectWithOAuth(`${h.url}/mcp`, browser, { user: 'alice', password: PASSWORDS.alice });
    try {
      const token = c.provider.saved?.access_token as string;
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({ sub: 'alice', aud: `${h.url}/mcp`, iss: `${h.url}/oauth` });
      expect(String(claims.scope).split(' ').sort()).toEqual(['read', 'trigger']);
      expect(c.provider.info?.client_id).toBeTruthy();
      const names = (await c.client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['run_workflow', 'greet', 'get_run']));
      const result = await c.client.callTool({ name: 'greet', arguments: { text: 'hello over OAuth' } });
      expect(result.isError).toBeFalsy();
      const runId = (result.structuredContent as { runId: string }).runId;
      const run = await waitForStatus(h.app, runId, ['succeeded']);
      expect(run.owner).toBe('alice');
    } finally {
      await c.close();
    }
  });

  it('gives a person without trigger a token that may list but not run, whatever the client asked for', async ({
    h,
    browser,
  }) => {
    const before = (await h.app.store.listRuns({ limit: 500 })).runs.length;
    const c = await connectWithOAuth(
      `${h.url}/mcp`,
      browser,
      { user: 'bob', password: PASSWORDS.bob },
      new MemoryOAuthClient('read trigger'),
    );
    try {
      expect(decodeJwt(c.provider.saved?.access_token as string).scope).toBe('read');
      const result = await c.client.callTool({ name: 'greet', arguments: { text: 'not allowed' } });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain("lacks the 'trigger' scope");
      expect((await h.app.store.listRuns({ limit: 500 })).runs.length).toBe(before);
    } finally {
      await c.close();
    }
  });
});
