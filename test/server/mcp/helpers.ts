import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ElicitRequest,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { Hono } from 'hono';
import type { App } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { Authenticator } from '../../../src/server/auth.ts';
import { servicesOf } from '../../../src/server/compose.ts';
import { createMcpRoute, type McpRouteDeps, type McpRouteHandle } from '../../../src/server/mcp/http.ts';
import type { RunView } from '../../../src/server/mcp/results.ts';
import { testConnectorYaml } from '../../helpers/app.ts';
import { appTest, type FileFixture, type Keep, keeping } from '../../helpers/fixtures.ts';

export type { Keep } from '../../helpers/fixtures.ts';
import { configYaml, payWorkflow } from '../../helpers/workflows.ts';
import type { Page } from 'playwright-core';

export const TOKENS = {
  reader: 'tok-mcp-reader-9f1',
  chat: 'tok-mcp-chat-9f2',
  other: 'tok-mcp-other-9f3',
  ops: 'tok-mcp-ops-9f4',
} as const;
export const TOKEN_ENV = {
  IL_MCP_READER: TOKENS.reader,
  IL_MCP_CHAT: TOKENS.chat,
  IL_MCP_OTHER: TOKENS.other,
  IL_MCP_OPS: TOKENS.ops,
};

/** Workflows over the project's test MCP server: a read, a read then a write, and a slow read. */
export function facadeYaml(opts: { log: string; tokens?: boolean; extra?: string }): string {
  const tokens = opts.tokens
    ? `
tokens:
  - { name: reader, token: "\${env:IL_MCP_READER}", scopes: [read] }
  - { name: chat, token: "\${env:IL_MCP_CHAT}", scopes: [read, trigger] }
  - { name: other-chat, token: "\${env:IL_MCP_OTHER}", scopes: [read, trigger] }
  - { name: ops, token: "\${env:IL_MCP_OPS}", scopes: [read, trigger, confirm] }
`
    : '';
  return `
connectors:${testConnectorYaml(opts.log, '\n    concurrency: 4')}
policy:
  confirmation_ttl: 1h
workflows:
  greet:
    description: Echo a greeting back
    expose: true
    inputs: { type: object, required: [text], additionalProperties: false, properties: { text: { type: string, description: "what to say" } } }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }${payWorkflow({ amount: { description: 'Look a payee up, then record a payment to them' } })}
  nap:
    description: Sleep on the test server
    inputs: { type: object, required: [ms], properties: { ms: { type: integer } } }
    steps:
      - id: sleep
        call: test.slow
        with: { ms: "\${{ inputs.ms }}" }
${opts.extra ?? ''}${tokens}`;
}

export interface RouteServer {
  route: McpRouteHandle;
  /** sessions whose standalone GET stream is open: server-initiated notifications reach only those */
  getStreams: Set<string>;
  url: string;
  origin: string;
  close(): Promise<void>;
}

/** createMcpRoute mounted at /mcp in a bare Hono app on a loopback port: the facade alone, no API around it. */
export async function serveRoute(app: App, opts: Partial<Omit<McpRouteDeps, 'app'>> = {}): Promise<RouteServer> {
  const hono = new Hono();
  let route: McpRouteHandle | undefined;
  const getStreams = new Set<string>();
  hono.all('/mcp', async (c) => {
    const res = await (route as McpRouteHandle).handle(c);
    const sid = c.req.header('mcp-session-id');
    if (c.req.method === 'GET' && sid && res.status === 200) getStreams.add(sid);
    return res;
  });
  let server: ServerType | undefined;
  const addr = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch: hono.fetch, hostname: '127.0.0.1', port: 0 }, resolve);
  });
  const origin = `http://127.0.0.1:${addr.port}`;
  route = createMcpRoute({
    services: servicesOf(app),
    auth: opts.auth ?? Authenticator.fromConfig(app.config.tokens, TOKEN_ENV),
    publicUrl: opts.publicUrl ?? origin,
    ...opts,
  });
  const srv = server as ServerType;
  return {
    route,
    getStreams,
    url: `${origin}/mcp`,
    origin,
    async close() {
      await route?.close();
      if ('closeAllConnections' in srv) srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

export type ElicitHandler = (req: ElicitRequest) => ElicitResult | Promise<ElicitResult>;

export interface TestClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** every elicitation/create the server sent */
  asked: ElicitRequest[];
  /** tools/list_changed notifications received */
  listChanged: number;
  call(name: string, args?: Record<string, unknown>): Promise<{ result: CallToolResult; view: RunView }>;
  close(): Promise<void>;
}

export async function connectClient(url: string, opts: { token?: string; elicit?: ElicitHandler } = {}): Promise<TestClient> {
  const client = new Client(
    { name: 'interlock-test-client', version: '1.0.0' },
    { capabilities: opts.elicit ? { elicitation: { form: {} } } : {} },
  );
  const asked: ElicitRequest[] = [];
  const state = { listChanged: 0 };
  if (opts.elicit) {
    const handler = opts.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req);
      return handler(req);
    });
  }
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    state.listChanged++;
  });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} },
  });
  await client.connect(transport);
  return {
    client,
    transport,
    asked,
    get listChanged() {
      return state.listChanged;
    },
    async call(name, args = {}) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      return { result, view: result.structuredContent as unknown as RunView };
    },
    async close() {
      await client.close();
    },
  };
}

export const approve =
  (remember = false): ElicitHandler =>
  () => ({ action: 'accept', content: { decision: 'approve', remember } });
export const decline: ElicitHandler = () => ({ action: 'decline' });

/** A raw JSON-RPC POST to /mcp, for the refusals a well-behaved SDK client would never provoke. */
export function rawPost(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

export const initializeBody = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

/** fetch cannot send a Host header of its choosing; node:http can, as a rebinding attacker's browser would. */
export function postWithHost(
  url: string,
  host: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The shared app (workers sweeping every 100 ms) with the MCP route served over HTTP as `srv`, both for the file. */
export function routeTest(yaml: string) {
  return appTest({ yaml, workers: { sweepEveryMs: 100 } }).extend<{ srv: RouteServer }>({
    srv: [
      async ({ app }, use) => {
        const srv = await serveRoute(app);
        await use(srv);
        await srv.close();
      },
      { scope: 'file' },
    ],
  });
}

/**
 * `pay` on the test connector (calls logged to `log`) behind `interlock serve`, which starts the
 * workers; the server logs nothing. For the suites that decide on the URL-mode elicitation page.
 */
export function payServerTest(log: string) {
  return appTest({
    yaml: configYaml({ connectors: testConnectorYaml(log), workflows: [payWorkflow({ amount: {} })] }),
    workers: false,
    server: { logger: silentLogger() },
  });
}

/** `keep` as a file fixture (`keep: keepClients` in an extend): a suite's connect fixture keeps each client it opens. */
export const keepClients: FileFixture<Keep, object> = [
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  async ({}, use) => keeping(use),
  { scope: 'file' },
];

/**
 * What the person does on the one-time URL-mode elicitation page at `url`, in `page`: reads the
 * arguments it shows (as JSON), presses Approve, and reads the outcome the page then states.
 */
export async function approveOnPage(page: Page, url: string): Promise<{ outcome: string; json: unknown }> {
  await page.goto(url);
  const json = JSON.parse(await page.locator('pre.arguments').innerText()) as unknown;
  await page.locator('button[data-action=approve]').click();
  const outcome = (await page.locator('h1.outcome').getAttribute('data-status')) ?? '';
  return { outcome, json };
}
