/**
 * The canary for `/mcp` behind introspection: the opaque tokens callers send (accepted, refused,
 * revoked, for another resource) and Interlock's own introspection client secret appear in no
 * log line (at trace level), run record, event, page, API answer, MCP answer or Redis key.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { RunningServer } from '../../../src/server/serve.ts';
import { callLogPath } from '../../helpers/app.ts';
import { openApp, openServer } from '../../helpers/fixtures.ts';
import { dumpRedis, witnessGreetAndPay, witnessTest } from '../../hostile/witness.ts';
import { introspectionOAuth, issuerFixture, issuerYaml } from './helpers.ts';
import {
  INTERLOCK_RS,
  type IntrospectingIssuer,
  OPAQUE_READER,
  OPAQUE_ROBOT,
  startIntrospectingIssuer,
} from './introspection-issuer.ts';

const yaml = (issuer: string) =>
  issuerYaml(issuer, callLogPath(), introspectionOAuth(issuer, INTERLOCK_RS.id, 'IL_CANARY_RS_SECRET'));

const it = witnessTest.extend<{ idp: IntrospectingIssuer; app: App; server: RunningServer }>({
  idp: issuerFixture(startIntrospectingIssuer),
  app: [
    async ({ redis, idp, witness }, use) => openApp(redis, { yaml: yaml(idp.issuer), logger: witness.logger }, use),
    { scope: 'file' },
  ],
  server: [
    async ({ app, witness }, use) =>
      openServer(app, { env: { IL_CANARY_RS_SECRET: INTERLOCK_RS.secret }, onNotice: (m) => witness.saw('notice', m) }, use),
    { scope: 'file' },
  ],
});

describe('introspected tokens and the introspection secret appear in no log, record, event, page, API or MCP answer', () => {
  it('keeps every token to its holder and the introspection secret to Interlock', async ({
    idp,
    app,
    server,
    saw,
    seen,
    logs,
  }) => {
    const mcpUrl = `${server.url}/mcp`;
    const robot = await idp.token(OPAQUE_ROBOT, mcpUrl, 'mcp:read mcp:run');
    const reader = await idp.token(OPAQUE_READER, mcpUrl, 'mcp:read');
    const elsewhere = await idp.token(OPAQUE_ROBOT, 'https://other.example/mcp', 'mcp:read mcp:run');
    const revoked = await idp.token(OPAQUE_ROBOT, mcpUrl, 'mcp:read mcp:run');

    const recordingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const method = init?.method ?? 'GET';
      if (method !== 'GET' || !(res.headers.get('content-type') ?? '').includes('event-stream'))
        saw(`mcp ${method} ${res.status} ${res.headers.get('www-authenticate') ?? ''}`, await res.clone().text());
      return res;
    };
    const connect = async (token: string) => {
      const client = new Client({ name: 'canary', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(mcpUrl), {
          fetch: recordingFetch,
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      return client;
    };

    const client = await connect(robot);
    await witnessGreetAndPay(client, app, saw);
    await client.close();

    const readerClient = await connect(reader);
    const refused = await readerClient.callTool({
      name: 'run_workflow',
      arguments: { workflow: 'greet', inputs: { text: 'x' } },
    });
    expect(refused.isError).toBe(true);
    saw('reader answer', JSON.stringify(refused));
    await readerClient.close();

    await idp.revoke(OPAQUE_ROBOT, revoked);
    for (const [what, token] of [
      ['revoked', revoked],
      ['elsewhere', elsewhere],
    ] as const) {
      const res = await recordingFetch(mcpUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(res.status, what).toBe(401);
    }

    for (const path of ['/api/v1/runs', '/api/v1/confirmations?status=pending', '/api/v1/connectors', '/ui', '/metrics']) {
      const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${robot}` } });
      saw(`GET ${path} ${res.status} ${res.headers.get('www-authenticate') ?? ''}`, await res.text());
    }
    const wrong = await fetch(`${server.url}/api/v1/runs`, { headers: { authorization: `Bearer ${revoked}` } });
    saw(`GET /api/v1/runs with the revoked token ${wrong.status} ${wrong.headers.get('www-authenticate')}`, await wrong.text());
    saw('redis', await dumpRedis(app));
    saw('logs', logs.join('\n'));

    const secrets: Record<string, string> = {
      'accepted token': robot,
      'reader token': reader,
      'token for another resource': elsewhere,
      'revoked token': revoked,
      'introspection client secret': INTERLOCK_RS.secret,
    };
    expect(seen.length).toBeGreaterThan(12);
    const leaks = Object.entries(secrets).flatMap(([what, value]) =>
      seen.filter((s) => s.text.includes(value) || s.where.includes(value)).map((s) => `${what} in ${s.where}`),
    );
    expect(leaks).toEqual([]);
    // The client's name is there, as who started the runs, and requests were logged: the check above is not blind.
    expect(seen.some((s) => s.where.startsWith('run ') && s.text.includes(`"owner":"${OPAQUE_ROBOT.id}"`))).toBe(true);
    expect(logs.length).toBeGreaterThan(0);
  });
});
