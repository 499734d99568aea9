import { request } from 'node:http';
import { describe, expect } from 'vitest';
import { runStripeConnector } from '../../../src/connectors/stripe/main.ts';
import { connectionTo } from '../../helpers/app.ts';
import { test } from '../../helpers/fixtures.ts';
import { expectSessionPerClient } from '../helpers.ts';
import { type Connect, defineToolSuite } from './tool-suite.ts';

const connectHttp: Connect = async ({ apiUrl }) => {
  // the default path: the connector builds its Stripe client from the environment it is given
  const handle = await runStripeConnector({ transport: 'http', port: 0, env: { INTERLOCK_STRIPE_API_URL: apiUrl } });
  return connectionTo(handle);
};

defineToolSuite('streamable HTTP', connectHttp);

/** The connector over HTTP on the Stripe emulator, for the file. */
const it = test.extend<{ handle: { url?: string; close(): Promise<void> } }>({
  handle: [
    async ({ stripe }, use) => {
      const handle = await runStripeConnector({ transport: 'http', port: 0, env: { INTERLOCK_STRIPE_API_URL: stripe.url } });
      await use(handle);
      await handle.close();
    },
    { scope: 'file' },
  ],
});

describe('Stripe connector HTTP sessions', () => {
  it('serves /mcp on loopback with a session per client', async ({ handle }) => {
    await expectSessionPerClient(handle.url, 9);
  });

  it('rejects unknown sessions, requests without one, and foreign Host headers', async ({ handle }) => {
    const post = (headers: Record<string, string>) =>
      fetch(handle.url ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    expect((await post({ 'mcp-session-id': 'nope' })).status).toBe(404);
    expect((await post({})).status).toBe(400);
    const url = new URL(handle.url ?? '');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/mcp',
          method: 'POST',
          headers: { host: 'evil.example', 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(403);
  });
});
