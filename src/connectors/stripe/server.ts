/**
 * Interlock's built-in Stripe connector: an MCP server over the official `stripe` SDK, with
 * reads marked `readOnlyHint` (run freely) and writes unmarked (Interlock confirms them first).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type Stripe from 'stripe';
import { registerReadTools } from './tools-read.ts';
import { registerWriteTools } from './tools-write.ts';

export const STRIPE_CONNECTOR_NAME = 'interlock-stripe';
export const STRIPE_CONNECTOR_VERSION = '0.1.0';

export function createStripeMcpServer({ stripe }: { stripe: Stripe }): McpServer {
  const server = new McpServer(
    { name: STRIPE_CONNECTOR_NAME, title: 'Stripe', version: STRIPE_CONNECTOR_VERSION },
    {
      instructions:
        'Stripe payments: look up charges, customers and the balance; create customers, invoice items and invoices; finalize invoices; refund charges. ' +
        'Amounts are integers in the smallest currency unit (cents for USD). Write tools honour the idempotency key sent in _meta["interlock/idempotencyKey"].',
    },
  );
  registerReadTools(server, stripe);
  registerWriteTools(server, stripe);
  return server;
}
