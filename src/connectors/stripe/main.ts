/**
 * Runs the Stripe connector on its own: over stdio (Interlock spawns it as a child) or over
 * streamable HTTP (a long-running server any MCP client can reach).
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type Stripe from 'stripe';
import { createStripeClientFromEnv } from './client.ts';
import { serveMcpHttp } from '../mcp-http.ts';
import { createStripeMcpServer } from './server.ts';

export interface RunStripeConnectorOptions {
  transport: 'stdio' | 'http';
  /** HTTP only; 0 or unset: a free port */
  port?: number;
  /** HTTP only; default 127.0.0.1 */
  host?: string;
  /** where STRIPE_SECRET_KEY and friends are read from; default process.env */
  env?: NodeJS.ProcessEnv;
  /** a ready client, instead of one built from env */
  stripe?: Stripe;
}

export async function runStripeConnector(opts: RunStripeConnectorOptions): Promise<{ url?: string; close(): Promise<void> }> {
  // Built first so a refused live key fails before anything listens.
  const stripe = opts.stripe ?? createStripeClientFromEnv(opts.env ?? process.env).stripe;
  if (opts.transport === 'stdio') {
    const server = createStripeMcpServer({ stripe });
    await server.connect(new StdioServerTransport());
    return { close: () => server.close() };
  }
  const handle = await serveMcpHttp(() => createStripeMcpServer({ stripe }), { port: opts.port, host: opts.host });
  return { url: handle.url, close: handle.close };
}
