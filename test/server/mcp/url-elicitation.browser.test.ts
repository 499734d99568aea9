import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  ElicitRequestSchema,
  type ElicitRequestURLParams,
  type ElicitResult,
  ElicitationCompleteNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { describe, expect } from 'vitest';
import type { RunningServer } from '../../../src/server/serve.ts';
import { callLogPath, readCalls } from '../../helpers/app.ts';
import { approveOnPage, payServerTest } from './helpers.ts';

// An MCP client that declares URL-mode elicitation is sent to a one-time page that shows the
// write in full; the person decides there (in Chromium), and the client hears
// notifications/elicitation/complete.

const log = callLogPath();
const it = payServerTest(log);

describe('URL-mode elicitation', () => {
  async function connect(server: RunningServer, answer: (params: ElicitRequestURLParams) => Promise<ElicitResult['action']>) {
    const client = new Client({ name: 'url-client', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
    const asked: ElicitRequestURLParams[] = [];
    const completed: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      const params = req.params as ElicitRequestURLParams;
      asked.push(params);
      return { action: await answer(params) };
    });
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
      completed.push(n.params.elicitationId);
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    return { client, asked, completed };
  }

  it('sends the person to a page that shows the JSON; Approve there runs the write once and completes the elicitation', async ({
    app,
    server,
    browser,
  }) => {
    let decided: Promise<{ outcome: string; again: number; json: unknown }> | undefined;
    const c = await connect(server, async (params) => {
      // The client accepts opening the URL at once; the person decides on the page afterwards.
      decided = (async () => {
        const page = await browser.newPage();
        const { outcome, json } = await approveOnPage(page, params.url);
        const again = (await page.goto(params.url))?.status() ?? 0;
        await page.close();
        return { outcome, again, json };
      })();
      return 'accept';
    });
    const before = readCalls(log).filter((x) => x.tool === 'record').length;
    const result = (await c.client.callTool({ name: 'pay', arguments: { name: 'ada', amount: 700 } })) as CallToolResult;
    const view = result.structuredContent as { status: string; runId: string };
    expect(view.status).toBe('succeeded');
    expect(c.asked).toHaveLength(1);
    expect(c.asked[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(/\/ui\/decide\/[A-Za-z0-9_-]{43}$/) });
    expect(c.asked[0].message).toMatch(/test\.record/);
    const page = await decided;
    expect(page).toMatchObject({ outcome: 'approved', again: 410, json: { name: 'ada', value: { amount: 700 } } });
    // The completion notification may trail the tool result by a moment on the GET stream.
    for (let i = 0; i < 100 && c.completed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(c.completed).toEqual([c.asked[0].elicitationId]);
    const run = await app.store.requireRun(view.runId);
    const conf = await app.store.requireConfirmation(run.steps.write.confirmationId as string);
    expect(conf).toMatchObject({ status: 'approved', channel: 'mcp-url', decidedBy: 'local' });
    expect(readCalls(log).filter((x) => x.tool === 'record').length).toBe(before + 1);
    await c.client.close();
  });

  it('declining to open the page denies the write, and the link it was given decides nothing afterwards', async ({ server }) => {
    const c = await connect(server, async () => 'decline');
    const result = (await c.client.callTool({ name: 'pay', arguments: { name: 'bob', amount: 900 } })) as CallToolResult;
    expect((result.structuredContent as { status: string }).status).toBe('denied');
    const res = await fetch(c.asked[0].url);
    expect(res.status).toBe(410);
    const post = await fetch(c.asked[0].url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
      body: 'decision=approve&argumentsHash=x',
    });
    expect(post.status).toBe(410);
    await c.client.close();
  });
});
