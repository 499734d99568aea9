/**
 * What each tool answers with: zod output shapes (advertised as outputSchema, so Interlock's
 * templates and the confirmation page know the fields) and the mapping from the SDK's objects.
 * Only the fields a workflow plausibly reads; the full Stripe objects are large and mostly noise.
 */
import type Stripe from 'stripe';
import { z } from 'zod';

const money = {
  amount: z.number().int().describe('Amount in the smallest currency unit (cents for USD: 1000 = $10.00).'),
  currency: z.string().describe('Three-letter ISO currency code, lowercase (e.g. "usd").'),
};
const metadata = z.record(z.string(), z.string()).describe("Stripe metadata: the account's own key-value notes on the object.");
const replayed = z
  .boolean()
  .describe(
    'True when Stripe answered from its idempotency cache: this call repeated an earlier one and nothing new was created.',
  );

export const balanceShape = {
  available: z.array(z.object(money)).describe('Funds available now, per currency; refunds draw on these.'),
  pending: z.array(z.object(money)).describe('Funds not yet available, per currency.'),
  livemode: z.boolean().describe('False for test mode and the sandbox.'),
};

export const chargeShape = {
  id: z.string().describe('Charge id (ch_…).'),
  amount: money.amount,
  amount_refunded: z.number().int().describe('How much of the charge has been refunded so far, in the smallest currency unit.'),
  amount_refundable: z.number().int().describe('What can still be refunded: amount minus amount_refunded.'),
  currency: money.currency,
  status: z.string().describe('succeeded, pending or failed.'),
  refunded: z.boolean().describe('True when the whole charge has been refunded.'),
  disputed: z.boolean().describe('True when the customer disputed the charge with their bank.'),
  description: z.string().nullable(),
  created: z.number().int().describe('Unix time in seconds.'),
  payment_intent: z.string().nullable().describe('The PaymentIntent (pi_…) this charge belongs to, if any.'),
  customer: z.string().nullable().describe('Customer id (cus_…), or null for a guest charge.'),
  customer_email: z.string().nullable(),
  customer_name: z.string().nullable(),
  customer_slack_channel: z
    .string()
    .nullable()
    .describe("The customer's Slack channel id from their metadata.slack_channel, for notifying them; null if none is recorded."),
  receipt_email: z.string().nullable(),
  metadata,
  livemode: z.boolean(),
};

export const chargeListShape = {
  charges: z.array(z.object(chargeShape)).describe('Newest first.'),
  has_more: z.boolean().describe('True when there are more charges after these.'),
  next_starting_after: z.string().nullable().describe('Pass as starting_after to get the next page; null on the last page.'),
};

export const customerShape = {
  id: z.string().describe('Customer id (cus_…).'),
  email: z.string().nullable(),
  name: z.string().nullable(),
  description: z.string().nullable(),
  slack_channel: z.string().nullable().describe("The customer's Slack channel id (metadata.slack_channel), or null."),
  metadata,
  created: z.number().int().describe('Unix time in seconds.'),
  livemode: z.boolean(),
};

export const customerSearchShape = {
  customers: z.array(z.object(customerShape)).describe('Matching customers, newest first.'),
  has_more: z.boolean(),
};

export const createdCustomerShape = { ...customerShape, idempotent_replayed: replayed };

export const invoiceItemShape = {
  id: z.string().describe('Invoice item id (ii_…).'),
  customer: z.string(),
  ...money,
  description: z.string().nullable(),
  invoice: z.string().nullable().describe('The invoice it is on, or null while it waits for the next invoice.'),
  idempotent_replayed: replayed,
};

export const invoiceShape = {
  id: z.string().describe('Invoice id (in_…).'),
  customer: z.string().nullable(),
  customer_email: z.string().nullable(),
  status: z.string().nullable().describe('draft, open, paid, uncollectible or void.'),
  number: z.string().nullable().describe('Invoice number; assigned when finalized.'),
  currency: money.currency,
  amount_due: z.number().int().describe('What the customer owes, in the smallest currency unit.'),
  total: z.number().int(),
  collection_method: z.string().describe('send_invoice (customer pays via the hosted page) or charge_automatically.'),
  due_date: z.number().int().nullable().describe('Unix time in seconds; set when a send_invoice invoice is finalized.'),
  hosted_invoice_url: z.string().nullable().describe('Payment page to share with the customer; null until finalized.'),
  invoice_pdf: z.string().nullable(),
  lines: z.array(z.object({ id: z.string(), ...money, description: z.string().nullable() })).describe('The invoice lines.'),
  idempotent_replayed: replayed,
};

export const refundShape = {
  id: z.string().describe('Refund id (re_…).'),
  ...money,
  charge: z.string().nullable().describe('The refunded charge (ch_…).'),
  payment_intent: z.string().nullable(),
  status: z.string().nullable().describe('succeeded, pending, requires_action, failed or canceled.'),
  reason: z.string().nullable(),
  created: z.number().int().describe('Unix time in seconds.'),
  idempotent_replayed: replayed,
};

type Out<S extends z.ZodRawShape> = z.infer<z.ZodObject<S>>;

function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v == null) return null;
  return typeof v === 'string' ? v : v.id;
}

function wasReplayed(obj: { lastResponse?: { headers: Record<string, string> } }): boolean {
  return obj.lastResponse?.headers?.['idempotent-replayed'] === 'true';
}

export function toBalance(b: Stripe.Balance): Out<typeof balanceShape> {
  const pick = (xs: { amount: number; currency: string }[]) => xs.map(({ amount, currency }) => ({ amount, currency }));
  return { available: pick(b.available), pending: pick(b.pending), livemode: b.livemode };
}

export function toCharge(c: Stripe.Charge): Out<typeof chargeShape> {
  const cust = c.customer && typeof c.customer === 'object' && !c.customer.deleted ? c.customer : undefined;
  return {
    id: c.id,
    amount: c.amount,
    amount_refunded: c.amount_refunded,
    amount_refundable: Math.max(0, c.amount - c.amount_refunded),
    currency: c.currency,
    status: c.status,
    refunded: c.refunded,
    disputed: c.disputed ?? false,
    description: c.description ?? null,
    created: c.created,
    payment_intent: idOf(c.payment_intent),
    customer: idOf(c.customer),
    customer_email: cust?.email ?? null,
    customer_name: cust?.name ?? null,
    customer_slack_channel: cust?.metadata?.slack_channel ?? null,
    receipt_email: c.receipt_email ?? null,
    metadata: { ...(c.metadata ?? {}) },
    livemode: c.livemode,
  };
}

export function toCustomer(c: Stripe.Customer): Out<typeof customerShape> {
  return {
    id: c.id,
    email: c.email ?? null,
    name: c.name ?? null,
    description: c.description ?? null,
    slack_channel: c.metadata?.slack_channel ?? null,
    metadata: { ...(c.metadata ?? {}) },
    created: c.created,
    livemode: c.livemode,
  };
}

export function toCreatedCustomer(c: Stripe.Response<Stripe.Customer>): Out<typeof createdCustomerShape> {
  return { ...toCustomer(c), idempotent_replayed: wasReplayed(c) };
}

export function toInvoiceItem(i: Stripe.Response<Stripe.InvoiceItem>): Out<typeof invoiceItemShape> {
  return {
    id: i.id,
    customer: idOf(i.customer) ?? '',
    amount: i.amount,
    currency: i.currency,
    description: i.description ?? null,
    invoice: idOf(i.invoice),
    idempotent_replayed: wasReplayed(i),
  };
}

export function toInvoice(inv: Stripe.Response<Stripe.Invoice>): Out<typeof invoiceShape> {
  return {
    id: inv.id ?? '',
    customer: idOf(inv.customer),
    customer_email: inv.customer_email ?? null,
    status: inv.status ?? null,
    number: inv.number ?? null,
    currency: inv.currency,
    amount_due: inv.amount_due,
    total: inv.total,
    collection_method: inv.collection_method,
    due_date: inv.due_date ?? null,
    hosted_invoice_url: inv.hosted_invoice_url ?? null,
    invoice_pdf: inv.invoice_pdf ?? null,
    lines: (inv.lines?.data ?? []).map((l) => ({
      id: l.id,
      amount: l.amount,
      currency: l.currency,
      description: l.description ?? null,
    })),
    idempotent_replayed: wasReplayed(inv),
  };
}

export function toRefund(r: Stripe.Response<Stripe.Refund>): Out<typeof refundShape> {
  return {
    id: r.id,
    amount: r.amount,
    currency: r.currency,
    charge: idOf(r.charge),
    payment_intent: idOf(r.payment_intent),
    status: r.status ?? null,
    reason: r.reason ?? null,
    created: r.created,
    idempotent_replayed: wasReplayed(r),
  };
}

/** `$60.00`, `¥500`: for the short text content next to the structured result. */
export function formatMoney(amount: number, currency: string): string {
  try {
    const fmt = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
    const digits = fmt.resolvedOptions().maximumFractionDigits ?? 2;
    return fmt.format(amount / 10 ** digits);
  } catch {
    return `${amount} ${currency}`;
  }
}
