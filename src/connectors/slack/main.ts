/**
 * Runs the Slack connector over stdio or streamable HTTP. Run directly (`node src/connectors/slack/main.ts
 * [--http PORT] [--host HOST]`) it serves stdio unless --http is given.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { WebClient } from '@slack/web-api';
import { serveMcpHttp } from '../mcp-http.ts';
import { createSlackWebClient, slackEnvironment } from './client.ts';
import { createSlackMcpServer } from './server.ts';

export interface RunSlackConnectorOptions {
  transport: 'stdio' | 'http';
  /** HTTP only; 0 or unset: a free port */
  port?: number;
  host?: string;
  /** defaults to one built from the environment (SLACK_BOT_TOKEN, INTERLOCK_SLACK_API_URL) */
  client?: WebClient;
}

export interface SlackConnectorHandle {
  /** the `/mcp` endpoint, in HTTP mode */
  url?: string;
  close(): Promise<void>;
}

function log(line: string): void {
  process.stderr.write(`[slack-connector] ${line}\n`);
}

function clientFromEnv(): WebClient {
  const env = slackEnvironment();
  log(
    env.sandbox
      ? `SLACK_BOT_TOKEN unset; using the Slack sandbox at ${env.slackApiUrl}`
      : `using SLACK_BOT_TOKEN against ${env.slackApiUrl ?? 'slack.com'}`,
  );
  return createSlackWebClient({ token: env.token, ...(env.slackApiUrl ? { slackApiUrl: env.slackApiUrl } : {}) });
}

async function runHttp(client: WebClient, port: number, host: string): Promise<SlackConnectorHandle> {
  // One MCP server per session: an McpServer serves exactly one transport.
  const h = await serveMcpHttp(() => createSlackMcpServer({ client }), { port, host });
  return { url: h.url, close: h.close };
}

export async function runSlackConnector(options: RunSlackConnectorOptions): Promise<SlackConnectorHandle> {
  const client = options.client ?? clientFromEnv();
  if (options.transport === 'http') return runHttp(client, options.port ?? 0, options.host ?? '127.0.0.1');
  const server = createSlackMcpServer({ client });
  await server.connect(new StdioServerTransport());
  return { close: () => server.close() };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const httpPort = flag('--http');
  const handle = await runSlackConnector(
    httpPort === undefined
      ? { transport: 'stdio' }
      : { transport: 'http', port: Number(httpPort), host: flag('--host') ?? '127.0.0.1' },
  );
  if (handle.url) log(`listening on ${handle.url}`);
  const stop = (): void => {
    handle.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (httpPort === undefined) process.stdin.once('end', stop);
}
