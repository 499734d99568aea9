import { describe, expect } from 'vitest';
import { createSlackWebClient } from '../../../src/connectors/slack/client.ts';
import { type SlackConnectorHandle, runSlackConnector } from '../../../src/connectors/slack/main.ts';
import { connectionTo } from '../../helpers/app.ts';
import { test } from '../../helpers/fixtures.ts';
import { expectSessionPerClient } from '../helpers.ts';
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
  return connectionTo(handle);
};

defineToolSuite('streamable HTTP', connectHttp);

/** The connector over HTTP on the Slack emulator, for the file. */
const it = test.extend<{ handle: SlackConnectorHandle }>({
  handle: [
    async ({ slack }, use) => {
      const handle = await runSlackConnector({
        transport: 'http',
        port: 0,
        client: createSlackWebClient({ token: 'xoxb-t', slackApiUrl: slack.url }),
      });
      await use(handle);
      await handle.close();
    },
    { scope: 'file' },
  ],
});

describe('Slack connector HTTP sessions', () => {
  it('serves /mcp on loopback with a session per client', async ({ handle }) => {
    await expectSessionPerClient(handle.url, 5);
  });

  it('rejects unknown sessions and requests without one', async ({ handle }) => {
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
