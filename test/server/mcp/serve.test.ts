import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { type RunningServer, startServer } from '../../../src/server/serve.ts';
import { callLogPath, makeApp } from '../../helpers/app.ts';
import { TestRedis } from '../../helpers/redis.ts';
import { TOKENS, TOKEN_ENV, approve, connectClient, facadeYaml } from './helpers.ts';

describe('/mcp as `interlock serve` mounts it', () => {
  const redis = new TestRedis();
  let app: App;
  let server: RunningServer;

  beforeAll(async () => {
    await redis.start();
    app = await makeApp(facadeYaml({ log: callLogPath(), tokens: true }), redis.url);
    server = await startServer(app, { host: '127.0.0.1', port: 0, env: TOKEN_ENV, onNotice: () => {} });
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
    await redis.stop();
  });

  it('asks a token with confirm through elicitation, with links to this server', async () => {
    const c = await connectClient(`${server.url}/mcp`, { token: TOKENS.ops, elicit: approve() });
    try {
      const { view } = await c.call('pay', { name: 'jo', amount: 11 });
      expect(view.status).toBe('succeeded');
      expect(c.asked[0].params.message).toContain(`${server.url}/ui/confirmations/`);
    } finally {
      await c.close();
    }
  });

  it('answers a chat token (no confirm) with the pending write and a link to this server, whatever its client would answer', async () => {
    const c = await connectClient(`${server.url}/mcp`, { token: TOKENS.chat, elicit: approve() });
    try {
      const { view } = await c.call('pay', { name: 'jo', amount: 12 });
      expect(c.asked).toHaveLength(0);
      expect(view.status).toBe('awaiting_confirmation');
      expect(view.confirmation?.approveUrl).toContain(`${server.url}/ui/confirmations/`);
    } finally {
      await c.close();
    }
  });

  it('keeps the run tools from a read-only token and refuses a request without a token', async () => {
    const c = await connectClient(`${server.url}/mcp`, { token: TOKENS.reader });
    try {
      expect((await c.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['get_run', 'list_workflows']);
    } finally {
      await c.close();
    }
    await expect(connectClient(`${server.url}/mcp`)).rejects.toThrow();
  });
});
