/**
 * The state a fresh or reset sandbox starts from. Ids are fixed so tests, demos and the shipped
 * workflows can name them; the customers' `metadata.slack_channel` values are the Slack sandbox's
 * seeded customer channels, so "refund, then tell the customer" works across both sandboxes.
 */
import type { StripeStore } from './store.ts';

/** 2025-01-01T00:00:00Z: seed objects are older than anything created while the sandbox runs. */
export const SEED_EPOCH = 1_735_689_600;

export const SEED = {
  customers: {
    ada: { id: 'cus_seed_ada', email: 'ada@example.com', name: 'Ada Lovelace', slackChannel: 'C0CUST001' },
    grace: { id: 'cus_seed_grace', email: 'grace@example.com', name: 'Grace Hopper', slackChannel: 'C0CUST002' },
    /** a customer with no Slack channel, for workflows that must cope with one missing */
    edsger: { id: 'cus_seed_edsger', email: 'edsger@example.com', name: 'Edsger Dijkstra', slackChannel: null },
  },
  charges: {
    /** ada, $50.00, nothing refunded */
    one: 'ch_seed_1',
    /** grace, $120.00, nothing refunded */
    two: 'ch_seed_2',
    /** ada, $25.00, already fully refunded (by re_seed_3) */
    refunded: 'ch_seed_3',
  },
  /** ch_seed_100 … ch_seed_399: $10.00 each, even numbers ada, odd grace */
  batch: { first: 100, count: 300, amount: 1000 },
} as const;

export function seedStore(store: StripeStore): void {
  let t = SEED_EPOCH;
  const tick = (): number => (t += 60);
  for (const c of Object.values(SEED.customers)) {
    store.createCustomer({
      id: c.id,
      created: tick(),
      email: c.email,
      name: c.name,
      metadata: c.slackChannel ? { slack_channel: c.slackChannel } : {},
    });
  }
  const ada = SEED.customers.ada.id;
  const grace = SEED.customers.grace.id;
  store.createCharge({
    id: 'ch_seed_1',
    created: tick(),
    amount: 5000,
    currency: 'usd',
    customer: ada,
    description: 'Order #1001 — Analytical Engine manual',
    receipt_email: 'ada@example.com',
  });
  store.createCharge({
    id: 'ch_seed_2',
    created: tick(),
    amount: 12000,
    currency: 'usd',
    customer: grace,
    description: 'Order #1002 — COBOL compiler licence',
    receipt_email: 'grace@example.com',
  });
  store.createCharge({
    id: 'ch_seed_3',
    created: tick(),
    amount: 2500,
    currency: 'usd',
    customer: ada,
    description: 'Order #1003 — punched cards',
    receipt_email: 'ada@example.com',
  });
  store.createRefund({ id: 're_seed_3', created: tick(), charge: 'ch_seed_3', reason: 'requested_by_customer' });
  const { first, count, amount } = SEED.batch;
  for (let n = first; n < first + count; n++) {
    const even = n % 2 === 0;
    store.createCharge({
      id: `ch_seed_${n}`,
      created: tick(),
      amount,
      currency: 'usd',
      customer: even ? ada : grace,
      description: `Subscription renewal #${n}`,
      receipt_email: even ? 'ada@example.com' : 'grace@example.com',
    });
  }
}
