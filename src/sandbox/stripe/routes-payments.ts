/** Balance, balance transactions, charges and refunds. */
import { invalidRequest, noSuch } from './errors.ts';
import { pageParams, paginate } from './params.ts';
import type { Route } from './router.ts';
import type { SandboxCharge } from './types.ts';

const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

/** Stripe's minimum charge is 50 cents in USD; the sandbox applies that floor to every currency. */
const MIN_CHARGE = 50;

export const paymentRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/balance',
    handler: ({ store }) => {
      const { available, pending } = store.state.balance;
      const entries = (m: Record<string, number>) =>
        Object.entries(m).map(([currency, amount]) => ({ amount, currency, source_types: { card: amount } }));
      return { object: 'balance', available: entries(available), pending: entries(pending), livemode: false };
    },
  },
  {
    method: 'GET',
    pattern: '/v1/balance_transactions',
    handler: ({ store, params }) => {
      const source = params.str('source');
      const type = params.str('type');
      const page = pageParams(params);
      params.assertNoUnknown();
      const items = Object.values(store.state.balanceTransactions)
        .filter((t) => (!source || t.source === source) && (!type || t.type === type))
        .reverse();
      return paginate(items, page, '/v1/balance_transactions', 'balance_transaction');
    },
  },
  {
    method: 'GET',
    pattern: '/v1/balance_transactions/:id',
    handler: ({ store, params, path }) => {
      params.assertNoUnknown();
      const id = path.id ?? '';
      const t = store.state.balanceTransactions[id];
      if (!t) throw noSuch('balance transaction', id);
      return t;
    },
  },
  {
    method: 'GET',
    pattern: '/v1/charges',
    handler: ({ store, params }) => {
      const customer = params.str('customer');
      const paymentIntent = params.str('payment_intent');
      const page = pageParams(params);
      params.assertNoUnknown();
      const items = Object.values(store.state.charges)
        .filter((c) => (!customer || c.customer === customer) && (!paymentIntent || c.payment_intent === paymentIntent))
        .reverse();
      return paginate(items, page, '/v1/charges', 'charge');
    },
  },
  {
    method: 'POST',
    pattern: '/v1/charges',
    handler: ({ store, params }) => {
      const amount = params.int('amount', { required: true });
      const currency = params.str('currency', { required: true }).toLowerCase();
      const customer = params.str('customer');
      const description = params.str('description');
      const metadata = params.metadata();
      const receiptEmail = params.str('receipt_email');
      // Any token stands for a card that succeeds: the sandbox has no declines.
      params.str('source');
      params.assertNoUnknown();
      if (amount < MIN_CHARGE) {
        throw invalidRequest(`Amount must be at least 50 cents`, 'amount_too_small', 'amount');
      }
      if (customer) store.customer(customer, 'customer');
      return store.createCharge({
        amount,
        currency,
        customer,
        description,
        metadata: metadata ?? {},
        receipt_email: receiptEmail,
      });
    },
  },
  {
    method: 'GET',
    pattern: '/v1/charges/:id',
    handler: ({ store, params, path }) => {
      params.assertNoUnknown();
      return store.charge(path.id ?? '');
    },
  },
  {
    method: 'POST',
    pattern: '/v1/refunds',
    handler: ({ store, params }) => {
      const chargeId = params.str('charge');
      const paymentIntent = params.str('payment_intent');
      const amount = params.int('amount', { min: 1 });
      const reason = params.oneOf('reason', REFUND_REASONS);
      const metadata = params.metadata();
      params.assertNoUnknown();
      let charge: SandboxCharge;
      if (chargeId && paymentIntent) {
        throw invalidRequest(
          'You may only specify one of these parameters: charge, payment_intent.',
          'parameters_exclusive',
          'charge',
        );
      } else if (chargeId) {
        charge = store.charge(chargeId, 'charge');
      } else if (paymentIntent) {
        const found = Object.values(store.state.charges).find((c) => c.payment_intent === paymentIntent);
        if (!found) throw noSuch('payment_intent', paymentIntent, 'payment_intent');
        charge = found;
      } else {
        throw invalidRequest(
          'One of the following params should be provided for this request: charge or payment_intent.',
          'parameter_missing',
        );
      }
      return store.createRefund({ charge: charge.id, amount, reason: reason ?? null, metadata: metadata ?? {} });
    },
  },
  {
    method: 'GET',
    pattern: '/v1/refunds',
    handler: ({ store, params }) => {
      const charge = params.str('charge');
      const paymentIntent = params.str('payment_intent');
      const page = pageParams(params);
      params.assertNoUnknown();
      const items = Object.values(store.state.refunds)
        .filter((r) => (!charge || r.charge === charge) && (!paymentIntent || r.payment_intent === paymentIntent))
        .reverse();
      return paginate(items, page, '/v1/refunds', 'refund');
    },
  },
  {
    method: 'GET',
    pattern: '/v1/refunds/:id',
    handler: ({ store, params, path }) => {
      params.assertNoUnknown();
      const id = path.id ?? '';
      const r = store.state.refunds[id];
      if (!r) throw noSuch('refund', id);
      return r;
    },
  },
];
