/**
 * Serves a built-in connector's MCP server factory over streamable HTTP at `/mcp`, one server and transport per
 * session (an McpServer holds one connection). Sessions live in this process's memory: a restart
 * ends them and clients initialize again, which the MCP client side of Interlock does on its own.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { Hono } from 'hono';
import { listen } from '../listen.ts';

export interface McpHttpHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0' as const, error: { code, message }, id: null };
}

export async function serveMcpHttp(
  createServerForSession: () => McpServer,
  opts: { port?: number; host?: string } = {},
): Promise<McpHttpHandle> {
  const host = opts.host ?? '127.0.0.1';
  const sessions = new Map<string, Session>();
  const app = new Hono();

  // DNS-rebinding guard: a server bound to loopback answers only requests addressed to loopback.
  if (LOOPBACK.has(host)) {
    app.use('*', async (c, next) => {
      const hostname = (c.req.header('host') ?? '').replace(/:\d+$/, '');
      if (!LOOPBACK.has(hostname)) return c.json(rpcError(-32000, `Host ${hostname || '(none)'} is not allowed`), 403);
      await next();
    });
  }

  app.get('/healthz', (c) => c.json({ ok: true, sessions: sessions.size }));

  app.all('/mcp', async (c) => {
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId) {
      const session = sessions.get(sessionId);
      if (!session) return c.json(rpcError(-32001, 'Session not found; initialize a new session'), 404);
      return session.transport.handleRequest(c.req.raw);
    }
    if (c.req.method !== 'POST')
      return c.json(rpcError(-32000, 'Bad Request: no Mcp-Session-Id; initialize with POST first'), 400);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(rpcError(-32700, 'Parse error: body is not JSON'), 400);
    }
    const initializing = Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
    if (!initializing) return c.json(rpcError(-32000, 'Bad Request: no Mcp-Session-Id; initialize with POST first'), 400);

    const server = createServerForSession();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(c.req.raw, { parsedBody: body });
  });

  const httpServer = createServer(getRequestListener(app.fetch));
  const { port, origin } = await listen(httpServer, opts.port ?? 0, host);
  return {
    url: `${origin}/mcp`,
    port,
    close: async () => {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map((s) => s.server.close()));
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        // Open SSE streams would otherwise hold close() until clients hang up.
        httpServer.closeAllConnections();
      });
    },
  };
}
