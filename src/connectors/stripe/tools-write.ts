/**
 * The tools that change Stripe. Each passes Interlock's idempotency key (from the call's `_meta`)
 * as Stripe's Idempotency-Key, which is what makes `idempotentHint: true` true: a retried call
 * gets the first call's answer back instead of a second customer, invoice or refund.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type Stripe from 'stripe';
import { z } from 'zod';
import {
  createdCustomerShape,
  formatMoney,
  invoiceItemShape,
  invoiceShape,
  refundShape,
  toCreatedCustomer,
  toInvoice,
  toInvoiceItem,
  toRefund,
} from './format.ts';
import { guarded, invalidArguments, ok, writeOptions } from './result.ts';
import { stripeId } from './tools-read.ts';

const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

const metadataInput = z
  .record(z.string().max(40), z.string().max(500))
  .optional()
  .describe('Optional notes to store on the Stripe object as key-value strings (keys up to 40 characters, values up to 500).');

const currencyInput = z
  .string()
  .regex(/^[a-zA-Z]{3}$/, 'must be a three-letter ISO currency code')
  .transform((c) => c.toLowerCase())
  .default('usd')
  .describe('Three-letter ISO currency code (default "usd").');

const replayNote = (replayed: boolean) => (replayed ? ' (repeated call: Stripe returned the original result)' : '');

export function registerWriteTools(server: McpServer, stripe: Stripe): void {
  server.registerTool(
    'create_customer',
    {
      title: 'Create a Stripe customer',
      description:
        'Creates a new customer in Stripe. Use this only after search_customers found nobody with that email: ' +
        'Stripe does not deduplicate customers by email, so calling it for an existing person makes a second record. Optionally records the Slack channel used to reach them.',
      inputSchema: {
        email: z.email().describe("The customer's email address; Stripe sends receipts and invoices here."),
        name: z.string().min(1).max(256).optional().describe("The customer's full name or business name."),
        description: z.string().max(350).optional().describe('An internal note about the customer, not shown to them.'),
        slack_channel: z
          .string()
          .regex(/^[CG][A-Z0-9]+$/, 'must be a Slack channel id like C0CUST001')
          .optional()
          .describe('Slack channel id (C…) for messages to this customer; stored as metadata.slack_channel.'),
        metadata: metadataInput,
      },
      outputSchema: createdCustomerShape,
      annotations: { title: 'Create a Stripe customer', ...WRITE },
    },
    ({ email, name, description, slack_channel, metadata }, extra) =>
      guarded(`create customer ${email}`, async () => {
        const meta = { ...(metadata ?? {}), ...(slack_channel ? { slack_channel } : {}) };
        const params: Stripe.CustomerCreateParams = { email, ...(name ? { name } : {}), ...(description ? { description } : {}) };
        if (Object.keys(meta).length) params.metadata = meta;
        const c = toCreatedCustomer(await stripe.customers.create(params, writeOptions(extra)));
        return ok(c, `Created customer ${c.id} (${c.email ?? email})${replayNote(c.idempotent_replayed)}`);
      }),
  );

  server.registerTool(
    'create_invoice_item',
    {
      title: 'Add a line to a Stripe invoice',
      description:
        'Adds a charge line (amount and description) for a customer. Use this before create_invoice: ' +
        "the line waits as a pending item and the customer's next invoice picks it up; or pass invoice_id to add it to an existing draft invoice. A negative amount is a credit.",
      inputSchema: {
        customer_id: stripeId('customer', 'cus').describe('The customer to bill (cus_…).'),
        amount: z
          .number()
          .int()
          .refine((n) => n !== 0, 'must not be zero')
          .describe('Line amount in the smallest currency unit (cents for USD: 4200 = $42.00); negative for a credit.'),
        currency: currencyInput,
        description: z.string().min(1).max(500).describe('What the line is for, as the customer will see it on the invoice.'),
        invoice_id: stripeId('invoice', 'in')
          .optional()
          .describe('A draft invoice (in_…) to put the line on directly; omit to leave it pending for the next invoice.'),
        metadata: metadataInput,
      },
      outputSchema: invoiceItemShape,
      annotations: { title: 'Add a line to a Stripe invoice', ...WRITE },
    },
    ({ customer_id, amount, currency, description, invoice_id, metadata }, extra) =>
      guarded(`add an invoice item for ${customer_id}`, async () => {
        const params: Stripe.InvoiceItemCreateParams = { customer: customer_id, amount, currency, description };
        if (invoice_id) params.invoice = invoice_id;
        if (metadata && Object.keys(metadata).length) params.metadata = metadata;
        const item = toInvoiceItem(await stripe.invoiceItems.create(params, writeOptions(extra)));
        const where = item.invoice ? `on invoice ${item.invoice}` : 'pending for the next invoice';
        return ok(
          item,
          `Added ${item.id}: ${formatMoney(item.amount, item.currency)} "${item.description ?? ''}" ${where}${replayNote(item.idempotent_replayed)}`,
        );
      }),
  );

  server.registerTool(
    'create_invoice',
    {
      title: 'Create a draft Stripe invoice',
      description:
        'Creates a draft invoice for a customer, collecting their pending invoice items (from create_invoice_item). ' +
        'A draft is not sent or payable: call finalize_invoice next. ' +
        "Defaults to send_invoice (the customer pays on Stripe's hosted page) due in 30 days; " +
        "Stripe's automatic advancing is off, so nothing happens to the draft until it is finalized.",
      inputSchema: {
        customer_id: stripeId('customer', 'cus').describe('The customer to invoice (cus_…).'),
        description: z.string().max(1500).optional().describe('A memo shown on the invoice.'),
        collection_method: z
          .enum(['send_invoice', 'charge_automatically'])
          .default('send_invoice')
          .describe(
            "send_invoice: the customer pays via the hosted page (default). charge_automatically: Stripe charges the customer's saved payment method.",
          ),
        days_until_due: z
          .number()
          .int()
          .min(1)
          .max(365)
          .optional()
          .describe(
            'For send_invoice: days after finalizing until payment is due (default 30). Not allowed with charge_automatically.',
          ),
        include_pending_items: z
          .boolean()
          .default(true)
          .describe("Put the customer's pending invoice items on this invoice (default true)."),
        metadata: metadataInput,
      },
      outputSchema: invoiceShape,
      annotations: { title: 'Create a draft Stripe invoice', ...WRITE },
    },
    ({ customer_id, description, collection_method, days_until_due, include_pending_items, metadata }, extra) => {
      if (collection_method === 'charge_automatically' && days_until_due !== undefined) {
        return invalidArguments('days_until_due only applies to collection_method send_invoice.');
      }
      return guarded(`create an invoice for ${customer_id}`, async () => {
        const params: Stripe.InvoiceCreateParams = {
          customer: customer_id,
          collection_method,
          auto_advance: false,
          pending_invoice_items_behavior: include_pending_items ? 'include' : 'exclude',
        };
        if (collection_method === 'send_invoice') params.days_until_due = days_until_due ?? 30;
        if (description) params.description = description;
        if (metadata && Object.keys(metadata).length) params.metadata = metadata;
        const inv = toInvoice(await stripe.invoices.create(params, writeOptions(extra)));
        return ok(
          inv,
          `Created draft invoice ${inv.id} for ${customer_id}: ${inv.lines.length} line(s), ${formatMoney(inv.amount_due, inv.currency)} due${replayNote(inv.idempotent_replayed)}`,
        );
      });
    },
  );

  server.registerTool(
    'finalize_invoice',
    {
      title: 'Finalize a Stripe invoice',
      description:
        'Finalizes a draft invoice: it gets its invoice number and a hosted payment page (hosted_invoice_url) to share with the customer, ' +
        'and becomes open and payable; an invoice with nothing due is marked paid. Use this after create_invoice once its lines are right: a finalized invoice can no longer be edited, only voided.',
      inputSchema: { invoice_id: stripeId('invoice', 'in').describe('The draft invoice to finalize (in_…).') },
      outputSchema: invoiceShape,
      annotations: { title: 'Finalize a Stripe invoice', ...WRITE },
    },
    ({ invoice_id }, extra) =>
      guarded(`finalize invoice ${invoice_id}`, async () => {
        const inv = toInvoice(await stripe.invoices.finalizeInvoice(invoice_id, {}, writeOptions(extra)));
        return ok(
          inv,
          `Finalized ${inv.id} as ${inv.number ?? '(no number)'}: ` +
            `${inv.status}, ${formatMoney(inv.amount_due, inv.currency)} due${inv.hosted_invoice_url ? `, pay at ${inv.hosted_invoice_url}` : ''}${replayNote(inv.idempotent_replayed)}`,
        );
      }),
  );

  server.registerTool(
    'create_refund',
    {
      title: 'Refund a Stripe charge',
      description:
        "Refunds a charge, fully or partly, sending money back to the customer's card; this cannot be undone. Use retrieve_charge first to check " +
        'amount_refundable. Without amount, refunds everything not yet refunded; an amount above what is left is rejected by Stripe. Give charge_id or payment_intent_id, not both.',
      inputSchema: {
        charge_id: stripeId('charge', 'ch').optional().describe('The charge to refund (ch_…).'),
        payment_intent_id: stripeId('payment intent', 'pi')
          .optional()
          .describe('Alternatively, the PaymentIntent (pi_…) whose charge to refund.'),
        amount: z
          .number()
          .int()
          .positive()
          .optional()
          .describe(
            'How much to refund, in the smallest currency unit (cents for USD: 1000 = $10.00). Omit to refund all that remains.',
          ),
        reason: z
          .enum(['duplicate', 'fraudulent', 'requested_by_customer'])
          .optional()
          .describe('Why, as recorded by Stripe: duplicate, fraudulent or requested_by_customer.'),
        metadata: metadataInput,
      },
      outputSchema: refundShape,
      annotations: { title: 'Refund a Stripe charge', ...WRITE, destructiveHint: true },
    },
    ({ charge_id, payment_intent_id, amount, reason, metadata }, extra) => {
      if (!charge_id === !payment_intent_id) return invalidArguments('Give exactly one of charge_id or payment_intent_id.');
      const target = charge_id ?? payment_intent_id ?? '';
      return guarded(`refund ${target}`, async () => {
        const params: Stripe.RefundCreateParams = charge_id ? { charge: charge_id } : { payment_intent: payment_intent_id };
        if (amount !== undefined) params.amount = amount;
        if (reason) params.reason = reason;
        if (metadata && Object.keys(metadata).length) params.metadata = metadata;
        const r = toRefund(await stripe.refunds.create(params, writeOptions(extra)));
        return ok(
          r,
          `Refunded ${formatMoney(r.amount, r.currency)} of ${r.charge ?? target} as ${r.id} (${r.status ?? 'unknown status'})${replayNote(r.idempotent_replayed)}`,
        );
      });
    },
  );
}
