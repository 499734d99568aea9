/**
 * The sandbox's one source of truth and every mutation of it. Charges, refunds, balance
 * transactions and the balance change together in one synchronous step, so the state can never
 * be seen half-updated, and the seed is built through the same functions the API uses.
 */
import { randomBytes } from 'node:crypto';
import { formatMoney, invalidRequest, noSuch } from './errors.ts';
import type {
  Metadata,
  SandboxCharge,
  SandboxCustomer,
  SandboxInvoice,
  SandboxInvoiceItem,
  SandboxRefund,
  StripeState,
} from './types.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return `${prefix}_${out}`;
}

export function emptyState(): StripeState {
  return {
    customers: {},
    charges: {},
    refunds: {},
    balanceTransactions: {},
    invoiceItems: {},
    invoices: {},
    balance: { available: {}, pending: {} },
  };
}

export interface NewCustomer {
  id?: string;
  created?: number;
  email?: string | null;
  name?: string | null;
  description?: string | null;
  phone?: string | null;
  metadata?: Metadata;
}

export interface NewCharge {
  id?: string;
  created?: number;
  amount: number;
  currency: string;
  customer?: string | null;
  description?: string | null;
  metadata?: Metadata;
  receipt_email?: string | null;
  disputed?: boolean;
}

export interface NewRefund {
  id?: string;
  created?: number;
  charge: string;
  amount?: number;
  reason?: SandboxRefund['reason'];
  metadata?: Metadata;
}

export class StripeStore {
  state: StripeState = emptyState();
  /** base URL of the running sandbox, for hosted invoice links */
  baseUrl = '';
  /** told of what happened, as Stripe's events name it (the webhook sender listens; the seed is built before it does) */
  onEvent: ((type: string, object: unknown) => void) | undefined;

  now(): number {
    return Math.floor(Date.now() / 1000);
  }

  customer(id: string, param = 'id'): SandboxCustomer {
    const c = this.state.customers[id];
    if (!c) throw noSuch('customer', id, param);
    return c;
  }

  charge(id: string, param = 'id'): SandboxCharge {
    const c = this.state.charges[id];
    if (!c) throw noSuch('charge', id, param);
    return c;
  }

  createCustomer(input: NewCustomer): SandboxCustomer {
    const id = input.id ?? randomId('cus', 14);
    const customer: SandboxCustomer = {
      id,
      object: 'customer',
      created: input.created ?? this.now(),
      livemode: false,
      email: input.email ?? null,
      name: input.name ?? null,
      description: input.description ?? null,
      phone: input.phone ?? null,
      metadata: input.metadata ?? {},
      balance: 0,
      currency: null,
      delinquent: false,
      invoice_prefix: invoicePrefix(id),
      next_invoice_sequence: 1,
    };
    this.state.customers[id] = customer;
    return customer;
  }

  createCharge(input: NewCharge): SandboxCharge {
    const id = input.id ?? randomId('ch');
    const created = input.created ?? this.now();
    const currency = input.currency.toLowerCase();
    const txn = this.addBalanceTransaction(id, 'charge', input.amount, currency, created, input.description ?? null);
    const charge: SandboxCharge = {
      id,
      object: 'charge',
      created,
      livemode: false,
      amount: input.amount,
      amount_captured: input.amount,
      amount_refunded: 0,
      balance_transaction: txn,
      captured: true,
      currency,
      customer: input.customer ?? null,
      description: input.description ?? null,
      metadata: input.metadata ?? {},
      paid: true,
      payment_intent: id.replace(/^ch_/, 'pi_'),
      receipt_email: input.receipt_email ?? null,
      refunded: false,
      disputed: input.disputed ?? false,
      status: 'succeeded',
    };
    this.state.charges[id] = charge;
    return charge;
  }

  /** The refund rules Stripe enforces: nothing on a fully refunded charge, never more than what is left. */
  createRefund(input: NewRefund): SandboxRefund {
    const charge = this.charge(input.charge, 'charge');
    const remaining = charge.amount - charge.amount_refunded;
    if (remaining <= 0) {
      throw invalidRequest(`Charge ${charge.id} has already been refunded.`, 'charge_already_refunded', 'charge');
    }
    const amount = input.amount ?? remaining;
    if (amount > remaining) {
      throw invalidRequest(
        `Refund amount (${formatMoney(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatMoney(remaining, charge.currency)})`,
        'amount_too_large',
        'amount',
      );
    }
    const id = input.id ?? randomId('re');
    const created = input.created ?? this.now();
    const txn = this.addBalanceTransaction(id, 'refund', -amount, charge.currency, created, 'REFUND FOR CHARGE');
    const refund: SandboxRefund = {
      id,
      object: 'refund',
      created,
      amount,
      balance_transaction: txn,
      charge: charge.id,
      currency: charge.currency,
      metadata: input.metadata ?? {},
      payment_intent: charge.payment_intent,
      reason: input.reason ?? null,
      status: 'succeeded',
    };
    this.state.refunds[id] = refund;
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    this.onEvent?.('charge.refunded', structuredClone(charge));
    return refund;
  }

  /** Settles straight to `available`: the sandbox has no payout clock, and refunds draw on `available` as on Stripe. */
  private addBalanceTransaction(
    source: string,
    type: 'charge' | 'refund',
    amount: number,
    currency: string,
    created: number,
    description: string | null,
  ): string {
    const id = /^(ch|re)_seed_/.test(source) ? source.replace(/^(ch|re)_seed_/, 'txn_seed_$1_') : randomId('txn');
    this.state.balanceTransactions[id] = {
      id,
      object: 'balance_transaction',
      created,
      available_on: created,
      amount,
      currency,
      description,
      fee: 0,
      net: amount,
      source,
      status: 'available',
      type,
    };
    const { available, pending } = this.state.balance;
    available[currency] = (available[currency] ?? 0) + amount;
    pending[currency] ??= 0;
    return id;
  }

  createInvoiceItem(input: {
    customer: string;
    amount: number;
    currency: string;
    description?: string | null;
    metadata?: Metadata;
    invoice?: string;
  }): SandboxInvoiceItem {
    const customer = this.customer(input.customer, 'customer');
    const invoice = input.invoice ? this.invoice(input.invoice, 'invoice') : undefined;
    if (invoice) {
      if (invoice.status !== 'draft') {
        throw invalidRequest(
          `You can only add invoice items to draft invoices. Invoice ${invoice.id} is ${invoice.status}.`,
          'invoice_not_editable',
          'invoice',
        );
      }
      if (invoice.customer !== customer.id) {
        throw invalidRequest(`Invoice ${invoice.id} belongs to another customer.`, undefined, 'invoice');
      }
      if (invoice.currency !== input.currency) {
        throw invalidRequest(
          `The currency of the invoice item (${input.currency}) must match the invoice's currency (${invoice.currency}).`,
          undefined,
          'currency',
        );
      }
    }
    const item: SandboxInvoiceItem = {
      id: randomId('ii'),
      object: 'invoiceitem',
      date: this.now(),
      livemode: false,
      amount: input.amount,
      currency: input.currency,
      customer: customer.id,
      description: input.description ?? null,
      invoice: null,
      metadata: input.metadata ?? {},
      quantity: 1,
      proration: false,
      discountable: true,
    };
    this.state.invoiceItems[item.id] = item;
    if (invoice) this.attachItem(invoice, item);
    return item;
  }

  invoice(id: string, param = 'id'): SandboxInvoice {
    const inv = this.state.invoices[id];
    if (!inv) throw noSuch('invoice', id, param);
    return inv;
  }

  attachItem(invoice: SandboxInvoice, item: SandboxInvoiceItem): void {
    item.invoice = invoice.id;
    invoice.lines.data.push({
      id: randomId('il'),
      object: 'line_item',
      amount: item.amount,
      currency: item.currency,
      description: item.description,
      invoice: invoice.id,
      livemode: false,
      metadata: item.metadata,
      quantity: item.quantity,
      parent: { type: 'invoice_item_details', invoice_item_details: { invoice_item: item.id } },
    });
    invoice.lines.total_count = invoice.lines.data.length;
    const total = invoice.lines.data.reduce((sum, l) => sum + l.amount, 0);
    invoice.subtotal = total;
    invoice.total = total;
    invoice.amount_due = Math.max(0, total);
    invoice.amount_remaining = invoice.amount_due - invoice.amount_paid;
  }
}

/** Stripe derives an 8-character uppercase prefix per customer; invoice numbers are `PREFIX-0001`. */
function invoicePrefix(id: string): string {
  const letters = id
    .replace(/^cus_/, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .toUpperCase();
  return `${letters}XXXXXXXX`.slice(0, 8);
}
