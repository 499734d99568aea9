/**
 * Invoice items and invoices. As on the current API, a new invoice leaves the customer's pending
 * items alone unless `pending_invoice_items_behavior=include`; finalizing numbers the invoice and
 * gives it a hosted page (served by the sandbox itself, so links in demos open).
 */
import { invalidRequest, noSuch } from './errors.ts';
import { pageParams, paginate } from './params.ts';
import type { Route } from './router.ts';
import { randomId, type StripeStore } from './store.ts';
import type { SandboxInvoice } from './types.ts';

const DAY = 86_400;

function createInvoice(
  store: StripeStore,
  input: {
    customer: string;
    currency: string | undefined;
    description: string | undefined;
    metadata: Record<string, string>;
    collectionMethod: SandboxInvoice['collection_method'];
    daysUntilDue: number | undefined;
    autoAdvance: boolean | undefined;
    includePending: boolean;
  },
): SandboxInvoice {
  const customer = store.customer(input.customer, 'customer');
  if (input.collectionMethod === 'send_invoice' && input.daysUntilDue === undefined) {
    throw invalidRequest(
      'Invoices with `collection_method=send_invoice` require `days_until_due` or `due_date`.',
      'parameter_missing',
      'days_until_due',
    );
  }
  if (input.collectionMethod === 'charge_automatically' && input.daysUntilDue !== undefined) {
    throw invalidRequest('`days_until_due` can only be set when `collection_method=send_invoice`.', undefined, 'days_until_due');
  }
  const pending = Object.values(store.state.invoiceItems).filter((i) => i.customer === customer.id && i.invoice === null);
  const currency = (
    input.currency ??
    (input.includePending ? pending[0]?.currency : undefined) ??
    customer.currency ??
    'usd'
  ).toLowerCase();
  const id = randomId('in');
  const invoice: SandboxInvoice = {
    id,
    object: 'invoice',
    created: store.now(),
    livemode: false,
    customer: customer.id,
    customer_email: customer.email,
    customer_name: customer.name,
    currency,
    description: input.description ?? null,
    metadata: input.metadata,
    status: 'draft',
    collection_method: input.collectionMethod,
    auto_advance: input.autoAdvance ?? false,
    days_until_due: input.daysUntilDue ?? null,
    due_date: null,
    number: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    subtotal: 0,
    total: 0,
    amount_due: 0,
    amount_paid: 0,
    amount_remaining: 0,
    effective_at: null,
    status_transitions: { finalized_at: null, paid_at: null },
    lines: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/invoices/${id}/lines` },
  };
  store.state.invoices[id] = invoice;
  if (input.includePending) {
    for (const item of pending) if (item.currency === currency) store.attachItem(invoice, item);
  }
  return invoice;
}

function finalizeInvoice(store: StripeStore, invoice: SandboxInvoice): SandboxInvoice {
  if (invoice.status !== 'draft') {
    throw invalidRequest(
      `This invoice is already finalized, you can't re-finalize a non-draft invoice.`,
      'invoice_not_editable',
      'invoice',
    );
  }
  const customer = store.customer(invoice.customer, 'customer');
  const now = store.now();
  invoice.number = `${customer.invoice_prefix}-${String(customer.next_invoice_sequence++).padStart(4, '0')}`;
  invoice.hosted_invoice_url = `${store.baseUrl}/_sandbox/invoices/${invoice.id}`;
  invoice.invoice_pdf = `${store.baseUrl}/_sandbox/invoices/${invoice.id}?format=pdf`;
  invoice.status_transitions.finalized_at = now;
  invoice.effective_at = now;
  if (invoice.days_until_due !== null) invoice.due_date = now + invoice.days_until_due * DAY;
  // Stripe marks an invoice with nothing to pay as paid the moment it is finalized.
  if (invoice.amount_due === 0) {
    invoice.status = 'paid';
    invoice.status_transitions.paid_at = now;
  } else {
    invoice.status = 'open';
  }
  return invoice;
}

export const invoiceRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/v1/invoiceitems',
    handler: ({ store, params }) => {
      const customerId = params.str('customer', { required: true });
      const amount = params.int('amount', { required: true });
      const currencyParam = params.str('currency');
      const description = params.str('description');
      const metadata = params.metadata();
      const invoice = params.str('invoice');
      params.assertNoUnknown();
      const customer = store.customer(customerId, 'customer');
      const currency = (currencyParam ?? customer.currency)?.toLowerCase();
      if (!currency) throw invalidRequest('Missing required param: currency.', 'parameter_missing', 'currency');
      return store.createInvoiceItem({ customer: customer.id, amount, currency, description, metadata: metadata ?? {}, invoice });
    },
  },
  {
    method: 'GET',
    pattern: '/v1/invoiceitems',
    handler: ({ store, params }) => {
      const customer = params.str('customer');
      const invoice = params.str('invoice');
      const pending = params.bool('pending');
      const page = pageParams(params);
      params.assertNoUnknown();
      const items = Object.values(store.state.invoiceItems)
        .filter((i) => (!customer || i.customer === customer) && (!invoice || i.invoice === invoice))
        .filter((i) => pending === undefined || (i.invoice === null) === pending)
        .reverse();
      return paginate(items, page, '/v1/invoiceitems', 'invoiceitem');
    },
  },
  {
    method: 'GET',
    pattern: '/v1/invoiceitems/:id',
    handler: ({ store, params, path }) => {
      params.assertNoUnknown();
      const id = path.id ?? '';
      const item = store.state.invoiceItems[id];
      if (!item) throw noSuch('invoiceitem', id);
      return item;
    },
  },
  {
    method: 'POST',
    pattern: '/v1/invoices',
    handler: ({ store, params }) => {
      const customer = params.str('customer', { required: true });
      const currency = params.str('currency');
      const description = params.str('description');
      const metadata = params.metadata();
      const collectionMethod =
        params.oneOf('collection_method', ['charge_automatically', 'send_invoice'] as const) ?? 'charge_automatically';
      const daysUntilDue = params.int('days_until_due', { min: 0, max: 365 * 5 });
      const autoAdvance = params.bool('auto_advance');
      const behavior = params.oneOf('pending_invoice_items_behavior', ['include', 'exclude'] as const) ?? 'exclude';
      params.assertNoUnknown();
      return createInvoice(store, {
        customer,
        currency,
        description,
        metadata: metadata ?? {},
        collectionMethod,
        daysUntilDue,
        autoAdvance,
        includePending: behavior === 'include',
      });
    },
  },
  {
    method: 'GET',
    pattern: '/v1/invoices',
    handler: ({ store, params }) => {
      const customer = params.str('customer');
      const status = params.str('status');
      const page = pageParams(params);
      params.assertNoUnknown();
      const items = Object.values(store.state.invoices)
        .filter((i) => (!customer || i.customer === customer) && (!status || i.status === status))
        .reverse();
      return paginate(items, page, '/v1/invoices', 'invoice');
    },
  },
  {
    method: 'GET',
    pattern: '/v1/invoices/:id',
    handler: ({ store, params, path }) => {
      params.assertNoUnknown();
      return store.invoice(path.id ?? '');
    },
  },
  {
    method: 'POST',
    pattern: '/v1/invoices/:id/finalize',
    handler: ({ store, params, path }) => {
      const autoAdvance = params.bool('auto_advance');
      params.assertNoUnknown();
      const invoice = store.invoice(path.id ?? '');
      if (autoAdvance !== undefined && invoice.status === 'draft') invoice.auto_advance = autoAdvance;
      return finalizeInvoice(store, invoice);
    },
  },
];
