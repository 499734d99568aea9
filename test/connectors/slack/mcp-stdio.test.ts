import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type Connect, defineToolSuite } from './tool-suite.ts';

const MAIN = fileURLToPath(new URL('../../../src/connectors/slack/main.ts', import.meta.url));
const TOKEN_CONNECTOR = fileURLToPath(new URL('./fixtures/token-connector.ts', import.meta.url));

/** Only what the child needs: in particular no SLACK_BOT_TOKEN from the developer's shell. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...extra };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

const connectStdio: Connect = async ({ apiUrl, token }) => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [token ? TOKEN_CONNECTOR : MAIN],
    env: childEnv({ INTERLOCK_SLACK_API_URL: apiUrl, ...(token ? { TEST_SLACK_TOKEN: token } : {}) }),
    stderr: 'pipe',
  });
  const client = new Client({ name: 'interlock-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, close: () => client.close() };
};

defineToolSuite('stdio', connectStdio);
