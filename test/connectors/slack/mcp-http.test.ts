import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackWebClient } from '../../../src/connectors/slack/client.ts';
import { type SlackConnectorHandle, runSlackConnector } from '../../../src/connectors/slack/main.ts';
import { type SlackSandbox, startSlackSandbox } from '../../../src/sandbox/slack/index.ts';
import { mcpClient } from '../../helpers/app.ts';
import { type Connect, defineToolSuite } from './tool-suite.ts';

const connectHttp: Connect = async ({ apiUrl, token }) => {
  let handle: SlackConnectorHandle;
  if (token) {
    handle = await runSlackConnector({
      transport: 'http',
      port: 0,
      client: createSlackWebClient({ token, slackApiUrl: apiUrl, log: () => {} }),
    });
  } else {
    // the default path: the connector builds its client from the environment
    delete process.env.SLACK_BOT_TOKEN;
    process.env.INTERLOCK_SLACK_API_URL = apiUrl;
    handle = await runSlackConnector({ transport: 'http', port: 0 });
  }
  const client = await mcpClient(handle.url!);
  return {
    client,
    close: async () => {
      await client.close();
      await handle.close();
    },
  };
};

defineToolSuite('streamable HTTP', connectHttp);

describe('Slack connector HTTP sessions', () => {
  let sandbox: SlackSandbox;
  let handle: SlackConnectorHandle;
  beforeAll(async () => {
    sandbox = await startSlackSandbox();
    handle = await runSlackConnector({
      transport: 'http',
      port: 0,
      client: createSlackWebClient({ token: 'xoxb-t', slackApiUrl: sandbox.url }),
    });
  });
  afterAll(async () => {
    await handle?.close();
    await sandbox?.close();
  });

  it('serves /mcp on loopback with a session per client', async () => {
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const a = await mcpClient(handle.url!);
    const b = await mcpClient(handle.url!);
    try {
      const [ta, tb] = await Promise.all([a.listTools(), b.listTools()]);
      expect(ta.tools).toHaveLength(5);
      expect(tb.tools).toHaveLength(5);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects unknown sessions and requests without one', async () => {
    const unknown = await fetch(handle.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'nope' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(unknown.status).toBe(404);
    const none = await fetch(handle.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(none.status).toBe(400);
  });
});
