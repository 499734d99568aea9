/**
 * The sandbox's objects, shaped like the Stripe API's (a subset of fields: the ones Interlock's
 * connector and workflows read, plus what makes them recognisable). Stored as-is and served as-is,
 * so `GET /_sandbox/state` shows exactly what the API answers.
 */
export type Metadata = Record<string, string>;

export interface SandboxCustomer {
  id: string;
  object: 'customer';
  created: number;
  livemode: false;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Metadata;
  balance: number;
  currency: string | null;
  delinquent: boolean;
  invoice_prefix: string;
  next_invoice_sequence: number;
}

export interface SandboxCharge {
  id: string;
  object: 'charge';
  created: number;
  livemode: false;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  balance_transaction: string | null;
  captured: boolean;
  currency: string;
  customer: string | null;
  description: string | null;
  metadata: Metadata;
  paid: boolean;
  payment_intent: string | null;
  receipt_email: string | null;
  refunded: boolean;
  /** set once a dispute is opened through the sandbox's side door */
  disputed?: boolean;
  status: 'succeeded';
}

export interface SandboxRefund {
  id: string;
  object: 'refund';
  created: number;
  amount: number;
  balance_transaction: string | null;
  charge: string;
  currency: string;
  metadata: Metadata;
  payment_intent: string | null;
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  status: 'succeeded';
}

export interface SandboxBalanceTransaction {
  id: string;
  object: 'balance_transaction';
  created: number;
  available_on: number;
  amount: number;
  currency: string;
  description: string | null;
  fee: number;
  net: number;
  source: string;
  status: 'available' | 'pending';
  type: 'charge' | 'refund';
}

export interface SandboxInvoiceItem {
  id: string;
  object: 'invoiceitem';
  date: number;
  livemode: false;
  amount: number;
  currency: string;
  customer: string;
  description: string | null;
  invoice: string | null;
  metadata: Metadata;
  quantity: number;
  proration: boolean;
  discountable: boolean;
}

export interface SandboxInvoiceLine {
  id: string;
  object: 'line_item';
  amount: number;
  currency: string;
  description: string | null;
  invoice: string;
  livemode: false;
  metadata: Metadata;
  quantity: number;
  parent: { type: 'invoice_item_details'; invoice_item_details: { invoice_item: string } };
}

export interface SandboxInvoice {
  id: string;
  object: 'invoice';
  created: number;
  livemode: false;
  customer: string;
  customer_email: string | null;
  customer_name: string | null;
  currency: string;
  description: string | null;
  metadata: Metadata;
  status: 'draft' | 'open' | 'paid';
  collection_method: 'charge_automatically' | 'send_invoice';
  auto_advance: boolean;
  days_until_due: number | null;
  due_date: number | null;
  number: string | null;
  hosted_invoice_url: string | null;
  invoice_pdf: string | null;
  subtotal: number;
  total: number;
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  effective_at: number | null;
  status_transitions: { finalized_at: number | null; paid_at: number | null };
  lines: { object: 'list'; data: SandboxInvoiceLine[]; has_more: false; total_count: number; url: string };
}

/** Amounts in the currency's smallest unit, keyed by lowercase currency code. */
export interface SandboxBalance {
  available: Record<string, number>;
  pending: Record<string, number>;
}

export interface StripeState {
  customers: Record<string, SandboxCustomer>;
  charges: Record<string, SandboxCharge>;
  refunds: Record<string, SandboxRefund>;
  balanceTransactions: Record<string, SandboxBalanceTransaction>;
  invoiceItems: Record<string, SandboxInvoiceItem>;
  invoices: Record<string, SandboxInvoice>;
  balance: SandboxBalance;
}

/** What `POST /_sandbox/fail-next` queues; see server.ts for when each mode fires. */
export interface FailureRule {
  /** answer with this status and a Stripe error body, without carrying the request out */
  status?: number;
  code?: string;
  message?: string;
  /** close the socket with no answer: `before_commit` does nothing, `after_commit` carries the request out first */
  drop?: 'before_commit' | 'after_commit';
  /** only requests whose path starts with this, e.g. `/v1/refunds` */
  path?: string;
  method?: string;
  /** how many matching requests fail (default 1) */
  count?: number;
}
