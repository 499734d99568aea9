import { Client, type ElicitRequestURLParams, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect } from 'vitest';
import { callLogPath, readCalls } from '../../helpers/app.ts';
import { approveOnPage, payServerTest } from './helpers.ts';

// URL-mode elicitation on 2025-11-25 as the v2 SDK client speaks it: the person is sent to the
// one-time page, decides there in Chromium, and the client hears notifications/elicitation/complete.

const log = callLogPath();
// the server starts the workers
const it = payServerTest(log);

describe('URL-mode elicitation with the v2 SDK client (2025-11-25)', () => {
  it('sends the person to the page; Approve there runs the write once and the client hears the completion', async ({
    app,
    server,
    browser,
  }) => {
    const client = new Client(
      { name: 'url-client-v2', version: '1.0.0' },
      { capabilities: { elicitation: { url: {} } }, supportedProtocolVersions: ['2025-11-25'] },
    );
    const asked: ElicitRequestURLParams[] = [];
    const completed: string[] = [];
    let decided: Promise<{ outcome: string; json: unknown }> | undefined;
    client.setRequestHandler('elicitation/create', async (req) => {
      const params = req.params as ElicitRequestURLParams;
      asked.push(params);
      // The client accepts opening the URL at once; the person decides on the page afterwards.
      decided = (async () => {
        const page = await browser.newPage();
        const decision = await approveOnPage(page, params.url);
        await page.close();
        return decision;
      })();
      return { action: 'accept' };
    });
    client.setNotificationHandler('notifications/elicitation/complete', (n) => {
      completed.push(n.params.elicitationId);
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      const before = readCalls(log).filter((x) => x.tool === 'record').length;
      const result = await client.callTool({ name: 'pay', arguments: { name: 'ivy', amount: 450 } });
      const view = result.structuredContent as { status: string; runId: string };
      expect(view.status).toBe('succeeded');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(/\/ui\/decide\/[A-Za-z0-9_-]{43}$/) });
      expect(await decided).toMatchObject({ outcome: 'approved', json: { name: 'ivy', value: { amount: 450 } } });
      // The completion notification may trail the tool result by a moment on the GET stream.
      for (let i = 0; i < 100 && completed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(completed).toEqual([asked[0]?.elicitationId]);
      const run = await app.store.requireRun(view.runId);
      const conf = await app.store.requireConfirmation(String(run.steps.write?.confirmationId));
      expect(conf).toMatchObject({ status: 'approved', channel: 'mcp-url', decidedBy: 'local' });
      expect(readCalls(log).filter((x) => x.tool === 'record').length).toBe(before + 1);
    } finally {
      await client.close();
    }
  });
});
