/**
 * PaymentIntents, read-only. Every sandbox charge is the charge of one PaymentIntent (`pi_…` beside
 * `ch_…`, see store.createCharge), so an intent is derived from its charge: what Stripe answers for
 * an automatic-capture card payment that succeeded. Third-party servers (`@stripe/mcp`) list them.
 */
import { noSuch } from './errors.ts';
import { pageParams, paginate } from './params.ts';
import type { Route } from './router.ts';
import type { SandboxCharge } from './types.ts';

export interface SandboxPaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  canceled_at: null;
  cancellation_reason: null;
  capture_method: 'automatic';
  client_secret: string;
  confirmation_method: 'automatic';
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  latest_charge: string;
  livemode: false;
  metadata: Record<string, string>;
  payment_method: null;
  payment_method_types: ['card'];
  receipt_email: string | null;
  status: 'succeeded';
}

function intentOf(c: SandboxCharge & { payment_intent: string }): SandboxPaymentIntent {
  return {
    id: c.payment_intent,
    object: 'payment_intent',
    amount: c.amount,
    amount_capturable: 0,
    amount_received: c.amount_captured,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: `${c.payment_intent}_secret_sandbox`,
    confirmation_method: 'automatic',
    created: c.created,
    currency: c.currency,
    customer: c.customer,
    description: c.description,
    latest_charge: c.id,
    livemode: false,
    metadata: { ...c.metadata },
    payment_method: null,
    payment_method_types: ['card'],
    receipt_email: c.receipt_email,
    status: 'succeeded',
  };
}

function intents(charges: Record<string, SandboxCharge>): SandboxPaymentIntent[] {
  return Object.values(charges)
    .filter((c): c is SandboxCharge & { payment_intent: string } => c.payment_intent !== null)
    .map(intentOf);
}

export const paymentIntentRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/payment_intents',
    handler: ({ store, params }) => {
      const customer = params.str('customer');
      const page = pageParams(params);
      params.assertNoUnknown();
      const items = intents(store.state.charges)
        .filter((pi) => !customer || pi.customer === customer)
        .reverse();
      return paginate(items, page, '/v1/payment_intents', 'payment_intent');
    },
  },
  {
    method: 'GET',
    pattern: '/v1/payment_intents/:id',
    handler: ({ store, params, path }) => {
      // Publishable-key callers pass client_secret; a secret-key caller may too.
      params.str('client_secret');
      params.assertNoUnknown();
      const id = path.id ?? '';
      const pi = intents(store.state.charges).find((p) => p.id === id);
      if (!pi) throw noSuch('payment_intent', id, 'intent');
      return pi;
    },
  },
];
