import { describe, expect } from 'vitest';
import { callLogPath } from '../../helpers/app.ts';
import { appTest } from '../../helpers/fixtures.ts';
import { TOKENS, TOKEN_ENV, approve, connectClient, facadeYaml } from './helpers.ts';

// The server starts the workers, as `interlock serve` does.
const it = appTest({ yaml: facadeYaml({ log: callLogPath(), tokens: true }), workers: false, server: { env: TOKEN_ENV } });

describe('/mcp as `interlock serve` mounts it', () => {
  it('asks a token with confirm through elicitation, with links to this server', async ({ server }) => {
    const c = await connectClient(`${server.url}/mcp`, { token: TOKENS.ops, elicit: approve() });
    try {
      const { view } = await c.call('pay', { name: 'jo', amount: 11 });
      expect(view.status).toBe('succeeded');
      expect(c.asked[0].params.message).toContain(`${server.url}/ui/confirmations/`);
    } finally {
      await c.close();
    }
  });

  it('answers a chat token (no confirm) with the pending write and a link to this server, whatever its client would answer', async ({
    server,
  }) => {
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

  it('keeps the run tools from a read-only token and refuses a request without a token', async ({ server }) => {
    const c = await connectClient(`${server.url}/mcp`, { token: TOKENS.reader });
    try {
      expect((await c.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['get_run', 'list_workflows']);
    } finally {
      await c.close();
    }
    await expect(connectClient(`${server.url}/mcp`)).rejects.toThrow();
  });
});
