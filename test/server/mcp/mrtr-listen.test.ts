import { Client, type McpSubscription, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect } from 'vitest';
import { Authenticator } from '../../../src/server/auth.ts';
import { createRequestStates } from '../../../src/server/mcp/request-state.ts';
import { callLogPath, testConnectorYaml } from '../../helpers/app.ts';
import { appTest } from '../../helpers/fixtures.ts';
import { configYaml, payWorkflow } from '../../helpers/workflows.ts';
import { type Keep, type RouteServer, keepClients, serveRoute } from './helpers.ts';

// subscriptions/listen streams (2026-07-28) stay open as long as the client likes; one token may
// hold no more of them than it may hold MCP sessions, so it cannot take every slot from the others.

const env = { IL_T_A: 'listen-token-a-0123456789', IL_T_B: 'listen-token-b-0123456789' };
const TOKENS = `
tokens:
  - { name: a, token: "\${env:IL_T_A}", scopes: [read] }
  - { name: b, token: "\${env:IL_T_B}", scopes: [read] }
`;

/**
 * The MCP route alone (no `interlock serve`) on a loopback port, at most two sessions per token, for
 * the app of the tokens above; `connect` gives a client pinned to 2026-07-28 for a token.
 */
const it = appTest({
  yaml: configYaml({ connectors: testConnectorYaml(callLogPath()), workflows: [payWorkflow({ amount: {} })], extra: TOKENS }),
  workers: false,
}).extend<{ srv: RouteServer; keep: Keep; connect: (token: string) => Promise<Client> }>({
  srv: [
    async ({ app }, use) => {
      const srv = await serveRoute(app, {
        auth: Authenticator.fromConfig(app.config.tokens, env),
        states: createRequestStates({ redis: app.redis.client, keys: app.store.keys }),
        maxSessionsPerPrincipal: 2,
      });
      try {
        await use(srv);
      } finally {
        await srv.close();
      }
    },
    { scope: 'file' },
  ],
  keep: keepClients,
  connect: [
    async ({ srv, keep }, use) =>
      use(async (token) => {
        const client = keep(
          new Client({ name: 'listener', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } }),
        );
        await client.connect(
          new StreamableHTTPClientTransport(new URL(srv.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
        );
        return client;
      }),
    { scope: 'file' },
  ],
});

const listen = (c: Client): Promise<McpSubscription> => c.listen({ toolsListChanged: true });

describe('2026-07-28 listen streams per token', () => {
  it('lets a token hold two listen streams, refuses its third with 429, and leaves the other token its own', async ({
    connect,
  }) => {
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
