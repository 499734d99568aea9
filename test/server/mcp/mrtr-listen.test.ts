import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Client, type McpSubscription, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { Authenticator } from '../../../src/server/auth.ts';
import { servicesOf } from '../../../src/server/compose.ts';
import { createMcpRoute, type McpRouteHandle } from '../../../src/server/mcp/http.ts';
import { createRequestStates } from '../../../src/server/mcp/request-state.ts';
import { callLogPath, makeApp, testConnectorYaml } from '../../helpers/app.ts';
import { TestRedis } from '../../helpers/redis.ts';
import { configYaml, payWorkflow } from '../../helpers/workflows.ts';

// subscriptions/listen streams (2026-07-28) stay open as long as the client likes; one token may
// hold no more of them than it may hold MCP sessions, so it cannot take every slot from the others.

const env = { IL_T_A: 'listen-token-a-0123456789', IL_T_B: 'listen-token-b-0123456789' };
const TOKENS = `
tokens:
  - { name: a, token: "\${env:IL_T_A}", scopes: [read] }
  - { name: b, token: "\${env:IL_T_B}", scopes: [read] }
`;

describe('2026-07-28 listen streams per token', () => {
  const redis = new TestRedis();
  let app: App;
  let route: McpRouteHandle;
  let server: ServerType;
  let url: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    await redis.start();
    app = await makeApp(
      configYaml({ connectors: testConnectorYaml(callLogPath()), workflows: [payWorkflow({ amount: {} })], extra: TOKENS }),
      redis.url,
    );
    const hono = new Hono();
    hono.all('/mcp', (c) => route.handle(c));
    const addr = await new Promise<AddressInfo>((resolve) => {
      server = serve({ fetch: hono.fetch, hostname: '127.0.0.1', port: 0 }, resolve);
    });
    url = `http://127.0.0.1:${addr.port}/mcp`;
    route = createMcpRoute({
      services: servicesOf(app),
      auth: Authenticator.fromConfig(app.config.tokens, env),
      publicUrl: `http://127.0.0.1:${addr.port}`,
      states: createRequestStates({ redis: app.redis.client, keys: app.store.keys }),
      maxSessionsPerPrincipal: 2,
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await route?.close();
    if (server && 'closeAllConnections' in server) server.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await app?.close();
    await redis.stop();
  });

  async function connect(token: string): Promise<Client> {
    const client = new Client({ name: 'listener', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    clients.push(client);
    return client;
  }
  const listen = (c: Client): Promise<McpSubscription> => c.listen({ toolsListChanged: true });

  it('lets a token hold two listen streams, refuses its third with 429, and leaves the other token its own', async () => {
    const a = await connect(env.IL_T_A);
    const first = await listen(a);
    const second = await listen(a);
    await expect(listen(a)).rejects.toThrow(/already holds 2 open subscriptions\/listen streams/);
    const b = await connect(env.IL_T_B);
    const theirs = await listen(b);
    expect(theirs.honoredFilter.toolsListChanged).toBe(true);
    // Closing a stream gives its slot back (once the server sees the stream end).
    await first.close();
    await expect
      .poll(async () =>
        listen(a).then(
          async (s) => {
            await s.close();
            return 'listening';
          },
          () => 'refused',
        ),
      )
      .toBe('listening');
    await second.close();
    await theirs.close();
  });
});
