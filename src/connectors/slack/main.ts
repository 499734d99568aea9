/**
 * Runs the Slack connector over stdio or streamable HTTP. Run directly (`node src/connectors/slack/main.ts
 * [--http PORT] [--host HOST]`) it serves stdio unless --http is given.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { WebClient } from '@slack/web-api';
import { Hono } from 'hono';
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
  log(env.sandbox ? `SLACK_BOT_TOKEN unset; using the Slack sandbox at ${env.slackApiUrl}` : 'using Slack with SLACK_BOT_TOKEN');
  return createSlackWebClient({ token: env.token, ...(env.slackApiUrl ? { slackApiUrl: env.slackApiUrl } : {}) });
}

const jsonRpcError = (code: number, message: string) => ({ jsonrpc: '2.0' as const, error: { code, message }, id: null });

async function runHttp(client: WebClient, port: number, host: string): Promise<SlackConnectorHandle> {
  // One MCP server per session: an McpServer serves exactly one transport.
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const app = new Hono();

  app.all('/mcp', async (c) => {
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId) {
      const transport = sessions.get(sessionId);
      if (!transport) return c.json(jsonRpcError(-32001, 'Session not found; initialize a new session'), 404);
      return transport.handleRequest(c.req.raw);
    }
    if (c.req.method !== 'POST') return c.json(jsonRpcError(-32000, 'Bad Request: mcp-session-id header required'), 400);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(jsonRpcError(-32700, 'Parse error: body is not JSON'), 400);
    }
    if (!isInitializeRequest(body)) return c.json(jsonRpcError(-32000, 'Bad Request: no session; send initialize first'), 400);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await createSlackMcpServer({ client }).connect(transport);
    return transport.handleRequest(c.req.raw, { parsedBody: body });
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s as Server));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${address.port}/mcp`,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      sessions.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
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
    httpPort === undefined ? { transport: 'stdio' } : { transport: 'http', port: Number(httpPort), host: flag('--host') ?? '127.0.0.1' },
  );
  if (handle.url) log(`listening on ${handle.url}`);
  const stop = (): void => {
    handle.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (httpPort === undefined) process.stdin.once('end', stop);
}
