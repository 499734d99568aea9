/** The read-only tools: nothing here changes Stripe, so Interlock runs them without a confirmation. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type Stripe from 'stripe';
import { z } from 'zod';
import {
  balanceShape,
  chargeListShape,
  chargeShape,
  customerSearchShape,
  formatMoney,
  toBalance,
  toCharge,
  toCustomer,
} from './format.ts';
import { guarded, invalidArguments, ok } from './result.ts';

/** Ids go into URL paths; this keeps `ch_1/refunds` or an empty id from turning into another request. */
export const stripeId = (what: string, prefix: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_]+$/, `must be a Stripe ${what} id like ${prefix}_…`)
    .describe(`The ${what} id (${prefix}_…).`);

const READ = { readOnlyHint: true, openWorldHint: false } as const;

/** Stripe search syntax: a quoted value with backslash escapes. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function registerReadTools(server: McpServer, stripe: Stripe): void {
  server.registerTool(
    'get_balance',
    {
      title: 'Get Stripe balance',
      description:
        "Use this when you need the Stripe account's current balance: " +
        'funds available now (what refunds draw on) and funds still pending, per currency, in the smallest currency unit. Takes no arguments and changes nothing.',
      inputSchema: {},
      outputSchema: balanceShape,
      annotations: { title: 'Get Stripe balance', ...READ },
    },
    () =>
      guarded('get the balance', async () => {
        const b = toBalance(await stripe.balance.retrieve());
        const text = b.available.map((a) => `${formatMoney(a.amount, a.currency)} available`).join(', ') || 'No balance yet';
        return ok(b, text);
      }),
  );

  server.registerTool(
    'retrieve_charge',
    {
      title: 'Look up a Stripe charge',
      description:
        'Use this when you have a charge id (ch_…) and need its amount, how much is already refunded and still refundable, and who paid: the customer id, ' +
        'email, name and the Slack channel recorded for them (customer_slack_channel), so a later step can notify the customer. Check amount_refundable before create_refund. Changes nothing.',
      inputSchema: { charge_id: stripeId('charge', 'ch') },
      outputSchema: chargeShape,
      annotations: { title: 'Look up a Stripe charge', ...READ },
    },
    ({ charge_id }) =>
      guarded(`retrieve charge ${charge_id}`, async () => {
        const c = toCharge(await stripe.charges.retrieve(charge_id, { expand: ['customer'] }));
        const who = c.customer_email ?? c.customer ?? 'no customer';
        return ok(
          c,
          `${c.id}: ${formatMoney(c.amount, c.currency)} from ${who}, ${formatMoney(c.amount_refunded, c.currency)} refunded, ${formatMoney(c.amount_refundable, c.currency)} refundable`,
        );
      }),
  );

  server.registerTool(
    'list_charges',
    {
      title: 'List Stripe charges',
      description:
        "Use this to browse charges, newest first, optionally only one customer's. Returns up to `limit` charges with their refund state and " +
        'customer details, plus a cursor for the next page. If you already know the charge id, use retrieve_charge instead. Changes nothing.',
      inputSchema: {
        customer_id: stripeId('customer', 'cus')
          .optional()
          .describe("Only this customer's charges (cus_…). Omit for all charges."),
        limit: z.number().int().min(1).max(100).default(10).describe('How many charges to return, 1 to 100 (default 10).'),
        starting_after: stripeId('charge', 'ch')
          .optional()
          .describe('Cursor for the next page: the next_starting_after value of the previous answer.'),
      },
      outputSchema: chargeListShape,
      annotations: { title: 'List Stripe charges', ...READ },
    },
    ({ customer_id, limit, starting_after }) =>
      guarded('list charges', async () => {
        const page = await stripe.charges.list({
          limit,
          expand: ['data.customer'],
          ...(customer_id ? { customer: customer_id } : {}),
          ...(starting_after ? { starting_after } : {}),
        });
        const charges = page.data.map(toCharge);
        const last = charges[charges.length - 1];
        return ok(
          { charges, has_more: page.has_more, next_starting_after: page.has_more && last ? last.id : null },
          `${charges.length} charge(s)${customer_id ? ` for ${customer_id}` : ''}${page.has_more ? ', more available' : ''}`,
        );
      }),
  );

  server.registerTool(
    'search_customers',
    {
      title: 'Find Stripe customers',
      description:
        "Use this to find a customer's id (cus_…) from their email or name. Matches are exact and case-insensitive; give email, name, or both. " +
        "For other searches pass a Stripe search `query` instead, e.g. metadata['slack_channel']:'C0CUST001'. " +
        'On live Stripe a customer created in the last minute may not be found yet: use the id create_customer returned. Changes nothing.',
      inputSchema: {
        email: z.string().min(1).optional().describe('Email address to match exactly (case-insensitive).'),
        name: z.string().min(1).optional().describe('Full name to match exactly (case-insensitive).'),
        query: z
          .string()
          .min(1)
          .optional()
          .describe(
            "A raw Stripe customer search query, used instead of email and name, e.g. name~'Lovelace' OR email:'ada@example.com'.",
          ),
        limit: z.number().int().min(1).max(100).default(10).describe('At most this many customers, 1 to 100 (default 10).'),
      },
      outputSchema: customerSearchShape,
      annotations: { title: 'Find Stripe customers', ...READ },
    },
    ({ email, name, query, limit }) => {
      if (query && (email || name)) return invalidArguments('Give either query or email/name, not both.');
      const clauses = [email ? `email:${quote(email)}` : '', name ? `name:${quote(name)}` : ''].filter(Boolean);
      const q = query ?? clauses.join(' AND ');
      if (!q) return invalidArguments('Give an email, a name, or a query to search for.');
      return guarded('search customers', async () => {
        const found = await stripe.customers.search({ query: q, limit });
        const customers = found.data.map(toCustomer);
        const list = customers.map((c) => `${c.id} (${c.email ?? c.name ?? 'no email'})`).join(', ');
        return ok({ customers, has_more: found.has_more }, customers.length ? `Found ${list}` : `No customer matches ${q}`);
      });
    },
  );
}
