/**
 * The Stripe sandbox through the real `stripe` SDK (and raw HTTP where the SDK would hide the
 * wire): encoding, auth, Stripe's error shape, idempotency, refund rules and the invoice flow.
 */
import Stripe from 'stripe';
import { describe, expect } from 'vitest';
import { test } from '../../helpers/fixtures.ts';
import { SEED, type StripeSandbox } from '../../../src/sandbox/stripe/index.ts';

/**
 * `sandbox`: the file's Stripe emulator, back at its seed for each test; `client(key, retries)`: the
 * SDK on it; `stripeSdk` (named `stripe` in the tests): that SDK with the suite's test key.
 */
const it = test.extend<{
  sandbox: StripeSandbox;
  client: (key?: string, maxNetworkRetries?: number) => Stripe;
  stripeSdk: Stripe;
}>({
  sandbox: async ({ stripe }, use) => {
    stripe.reset();
    await use(stripe);
  },
  client: async ({ sandbox }, use) =>
    use(
      (key = 'sk_test_sandbox_suite', maxNetworkRetries = 0) =>
        new Stripe(key, { host: '127.0.0.1', port: sandbox.port, protocol: 'http', maxNetworkRetries }),
    ),
  stripeSdk: async ({ client }, use) => use(client()),
});

async function rejection(p: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) return err;
    throw err;
  }
  throw new Error('expected a Stripe error');
}

describe('seed and reads', () => {
  it('serves the seeded customers, charges and a balance that adds up', async ({ stripeSdk: stripe }) => {
    const ada = await stripe.customers.retrieve(SEED.customers.ada.id);
    expect(ada).toMatchObject({
      object: 'customer',
      email: 'ada@example.com',
      livemode: false,
      metadata: { slack_channel: 'C0CUST001' },
    });
    const grace = await stripe.customers.retrieve('cus_seed_grace');
    expect(grace).toMatchObject({ email: 'grace@example.com', metadata: { slack_channel: 'C0CUST002' } });

    const c1 = await stripe.charges.retrieve('ch_seed_1');
    expect(c1).toMatchObject({
      object: 'charge',
      amount: 5000,
      currency: 'usd',
      customer: 'cus_seed_ada',
      amount_refunded: 0,
      refunded: false,
      livemode: false,
    });
    expect(await stripe.charges.retrieve('ch_seed_2')).toMatchObject({ amount: 12000, customer: 'cus_seed_grace' });
    expect(await stripe.charges.retrieve('ch_seed_3')).toMatchObject({ amount: 2500, amount_refunded: 2500, refunded: true });
    expect(await stripe.charges.retrieve('ch_seed_399')).toMatchObject({ amount: 1000, customer: 'cus_seed_grace' });

    const balance = await stripe.balance.retrieve();
    expect(balance.object).toBe('balance');
    // 5000 + 12000 + (2500 − 2500) + 300 × 1000
    expect(balance.available).toEqual([expect.objectContaining({ currency: 'usd', amount: 317_000 })]);
    expect(balance.pending).toEqual([expect.objectContaining({ currency: 'usd', amount: 0 })]);
  });

  it('lists newest first with limit, starting_after and the customer filter, so auto-pagination sees every charge once', async ({
    stripeSdk: stripe,
  }) => {
    const first = await stripe.charges.list({ limit: 3 });
    expect(first).toMatchObject({ object: 'list', has_more: true, url: '/v1/charges' });
    expect(first.data.map((c) => c.id)).toEqual(['ch_seed_399', 'ch_seed_398', 'ch_seed_397']);
    const next = await stripe.charges.list({ limit: 2, starting_after: 'ch_seed_397' });
    expect(next.data.map((c) => c.id)).toEqual(['ch_seed_396', 'ch_seed_395']);

    const seen = new Set<string>();
    for await (const c of stripe.charges.list({ customer: 'cus_seed_ada', limit: 100 })) {
      expect(c.customer).toBe('cus_seed_ada');
      seen.add(c.id);
    }
    expect(seen.size).toBe(152); // ch_seed_1, ch_seed_3 and the 150 even batch charges
    const all = await stripe.charges.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(all).toHaveLength(303);
  });

  it('expands ids into objects on request (expand[0]=customer, data.customer)', async ({ stripeSdk: stripe }) => {
    const c = await stripe.charges.retrieve('ch_seed_2', { expand: ['customer', 'refunds'] });
    expect(typeof c.customer === 'object' && c.customer?.id).toBe('cus_seed_grace');
    const page = await stripe.charges.list({ limit: 1, expand: ['data.customer'] });
    expect(page.data[0]?.customer).toMatchObject({ object: 'customer', id: 'cus_seed_grace' });
    const err = await rejection(stripe.charges.retrieve('ch_seed_1', { expand: ['description'] }));
    expect(err.message).toContain('cannot be expanded');
  });

  it("searches customers with email:'…' and name:'…' queries", async ({ stripeSdk: stripe }) => {
    const byEmail = await stripe.customers.search({ query: "email:'ada@example.com'" });
    expect(byEmail).toMatchObject({ object: 'search_result', has_more: false });
    expect(byEmail.data.map((c) => c.id)).toEqual(['cus_seed_ada']);
    expect((await stripe.customers.search({ query: 'name:"Grace Hopper"' })).data.map((c) => c.id)).toEqual(['cus_seed_grace']);
    expect((await stripe.customers.search({ query: "metadata['slack_channel']:'C0CUST002'" })).data.map((c) => c.id)).toEqual([
      'cus_seed_grace',
    ]);
    expect((await stripe.customers.search({ query: "email:'nobody@example.com'" })).data).toEqual([]);
    const bad = await rejection(stripe.customers.search({ query: 'email=ada' }));
    expect(bad).toMatchObject({ type: 'StripeInvalidRequestError', param: 'query' });
  });
});

describe('wire protocol', () => {
  it('decodes nested form fields (metadata[k]=v) and rejects unknown parameters the way Stripe does', async ({
    sandbox,
    stripeSdk: stripe,
  }) => {
    const c = await stripe.customers.create({
      email: 'new@example.com',
      name: 'New Person',
      metadata: { slack_channel: 'C0NEW', tier: 'gold' },
    });
    expect(c.id).toMatch(/^cus_[A-Za-z0-9]{14}$/);
    expect(c).toMatchObject({ object: 'customer', livemode: false, metadata: { slack_channel: 'C0NEW', tier: 'gold' } });
    expect(sandbox.state().customers[c.id]?.metadata.tier).toBe('gold');

    const raw = await fetch(`${sandbox.url}/v1/customers`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=a%40b.c&favourite_colour=blue',
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({
      error: expect.objectContaining({
        type: 'invalid_request_error',
        code: 'parameter_unknown',
        param: 'favourite_colour',
        message: 'Received unknown parameter: favourite_colour',
      }),
    });
  });

  it('answers 401 in Stripe error shape without a key or with anything but an sk_test_ key', async ({ sandbox, client }) => {
    const none = await fetch(`${sandbox.url}/v1/balance`);
    expect(none.status).toBe(401);
    const body = (await none.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('You did not provide an API key');

    const live = await rejection(client('sk_live_51Habcdefghijklmnop').balance.retrieve());
    expect(live).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(live.statusCode).toBe(401);
    expect(live.message).not.toContain('sk_live_51Habcdefghijklmnop');
    expect(await client('sk_test_anything_goes').balance.retrieve()).toMatchObject({ object: 'balance' });
  });

  it('404s with resource_missing for unknown objects and unrecognized URLs', async ({ sandbox, stripeSdk: stripe }) => {
    const err = await rejection(stripe.charges.retrieve('ch_x'));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such charge: 'ch_x'" });
    expect(err.doc_url).toContain('resource-missing');
    const url = await fetch(`${sandbox.url}/v1/nope`, { headers: { authorization: 'Bearer sk_test_x' } });
    expect(url.status).toBe(404);
  });
});

describe('idempotency', () => {
  it('replays the same key and body with Idempotent-Replayed: true and does the work once', async ({
    sandbox,
    stripeSdk: stripe,
  }) => {
    const first = await stripe.refunds.create({ charge: 'ch_seed_2', amount: 1000 }, { idempotencyKey: 'refund-once' });
    const again = await stripe.refunds.create({ charge: 'ch_seed_2', amount: 1000 }, { idempotencyKey: 'refund-once' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    const state = sandbox.state();
    expect(Object.values(state.refunds).filter((r) => r.charge === 'ch_seed_2')).toHaveLength(1);
    expect(state.charges.ch_seed_2?.amount_refunded).toBe(1000);
  });

  it('rejects the same key with another body as an idempotency_error', async ({ sandbox, stripeSdk: stripe }) => {
    await stripe.refunds.create({ charge: 'ch_seed_2', amount: 1000 }, { idempotencyKey: 'k-reused' });
    const err = await rejection(stripe.refunds.create({ charge: 'ch_seed_2', amount: 2000 }, { idempotencyKey: 'k-reused' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    expect(sandbox.state().charges.ch_seed_2?.amount_refunded).toBe(1000);
  });

  it('replays stored errors too: a key that failed keeps failing the same way', async ({ stripeSdk: stripe }) => {
    const a = await rejection(stripe.refunds.create({ charge: 'ch_seed_3' }, { idempotencyKey: 'k-err' }));
    const b = await rejection(stripe.refunds.create({ charge: 'ch_seed_3' }, { idempotencyKey: 'k-err' }));
    expect(a.code).toBe('charge_already_refunded');
    expect(b.code).toBe('charge_already_refunded');
    expect(b.headers?.['idempotent-replayed']).toBe('true');
  });

  it('a dropped answer after commit is recovered by the SDK retry with the same key: one refund', async ({ sandbox, client }) => {
    sandbox.failNext({ drop: 'after_commit', path: '/v1/refunds' });
    const r = await client('sk_test_retrying', 2).refunds.create({ charge: 'ch_seed_1', amount: 700 });
    expect(r.lastResponse.headers['idempotent-replayed']).toBe('true');
    const refunds = Object.values(sandbox.state().refunds).filter((x) => x.charge === 'ch_seed_1');
    expect(refunds.map((x) => x.id)).toEqual([r.id]);
  });

  it('an injected 500 is not committed and not stored under the key', async ({ sandbox, stripeSdk: stripe }) => {
    const res = await fetch(`${sandbox.url}/_sandbox/fail-next`, { method: 'POST', body: JSON.stringify({ status: 500 }) });
    expect(res.status).toBe(200);
    const err = await rejection(stripe.refunds.create({ charge: 'ch_seed_1' }, { idempotencyKey: 'k-500' }));
    expect(err).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    expect(Object.values(sandbox.state().refunds).filter((x) => x.charge === 'ch_seed_1')).toHaveLength(0);
    const r = await stripe.refunds.create({ charge: 'ch_seed_1' }, { idempotencyKey: 'k-500' });
    expect(r.amount).toBe(5000);
    expect(r.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('refunds', () => {
  it('refunds the remainder by default, never more than what is left, and keeps charge and balance in step', async ({
    stripeSdk: stripe,
  }) => {
    const part = await stripe.refunds.create({
      charge: 'ch_seed_2',
      amount: 2000,
      reason: 'requested_by_customer',
      metadata: { ticket: 'T-1' },
    });
    expect(part).toMatchObject({
      object: 'refund',
      amount: 2000,
      currency: 'usd',
      charge: 'ch_seed_2',
      status: 'succeeded',
      metadata: { ticket: 'T-1' },
    });
    expect(part.id).toMatch(/^re_/);
    expect(part.balance_transaction).toMatch(/^txn_/);

    const tooMuch = await rejection(stripe.refunds.create({ charge: 'ch_seed_2', amount: 10_001 }));
    expect(tooMuch).toMatchObject({
      statusCode: 400,
      rawType: 'invalid_request_error',
      code: 'amount_too_large',
      param: 'amount',
    });
    expect(tooMuch.message).toContain('$100.01');
    expect(tooMuch.message).toContain('$100.00');

    const rest = await stripe.refunds.create({ charge: 'ch_seed_2' });
    expect(rest.amount).toBe(10_000);
    const charge = await stripe.charges.retrieve('ch_seed_2');
    expect(charge).toMatchObject({ amount_refunded: 12_000, refunded: true });

    const again = await rejection(stripe.refunds.create({ charge: 'ch_seed_2', amount: 1 }));
    expect(again).toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });

    const balance = await stripe.balance.retrieve();
    expect(balance.available[0]?.amount).toBe(317_000 - 12_000);
    const listed = await stripe.refunds.list({ charge: 'ch_seed_2' });
    expect(listed.data.map((r) => r.id)).toEqual([rest.id, part.id]);
    expect((await stripe.refunds.retrieve(part.id)).amount).toBe(2000);
  });

  it('refunds by payment_intent and names a missing charge', async ({ stripeSdk: stripe }) => {
    const r = await stripe.refunds.create({ payment_intent: 'pi_seed_1', amount: 100 });
    expect(r.charge).toBe('ch_seed_1');
    const missing = await rejection(stripe.refunds.create({ charge: 'ch_missing' }));
    expect(missing).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'charge',
      message: "No such charge: 'ch_missing'",
    });
    const neither = await rejection(stripe.refunds.create({}));
    expect(neither).toMatchObject({ statusCode: 400, code: 'parameter_missing' });
    const zero = await rejection(stripe.refunds.create({ charge: 'ch_seed_1', amount: 0 }));
    expect(zero).toMatchObject({ statusCode: 400, param: 'amount' });
  });
});

describe('invoices', () => {
  it('collects pending items into a draft and finalizes it to open with a number and hosted page', async ({
    sandbox,
    stripeSdk: stripe,
  }) => {
    const i1 = await stripe.invoiceItems.create({
      customer: 'cus_seed_ada',
      amount: 4200,
      currency: 'usd',
      description: 'Consulting, May',
    });
    const i2 = await stripe.invoiceItems.create({
      customer: 'cus_seed_ada',
      amount: 800,
      currency: 'usd',
      description: 'Expenses',
    });
    expect(i1).toMatchObject({ object: 'invoiceitem', invoice: null, livemode: false });
    expect(i1.id).toMatch(/^ii_/);

    const excluded = await stripe.invoices.create({
      customer: 'cus_seed_ada',
      collection_method: 'send_invoice',
      days_until_due: 7,
    });
    expect(excluded.lines.data).toHaveLength(0); // the API's default is to leave pending items alone

    const draft = await stripe.invoices.create({
      customer: 'cus_seed_ada',
      collection_method: 'send_invoice',
      days_until_due: 30,
      pending_invoice_items_behavior: 'include',
    });
    expect(draft).toMatchObject({
      object: 'invoice',
      status: 'draft',
      number: null,
      hosted_invoice_url: null,
      amount_due: 5000,
      customer_email: 'ada@example.com',
    });
    expect(draft.lines.data.map((l) => l.amount)).toEqual([4200, 800]);
    expect((await stripe.invoiceItems.retrieve(i2.id)).invoice).toBe(draft.id);

    const open = await stripe.invoices.finalizeInvoice(draft.id);
    expect(open).toMatchObject({ status: 'open', amount_due: 5000 });
    expect(open.number).toMatch(/^[A-Z0-9]{8}-0001$/);
    expect(open.hosted_invoice_url).toBe(`${sandbox.url}/_sandbox/invoices/${draft.id}`);
    expect(open.due_date).toBeGreaterThan(open.created);
    const page = await fetch(open.hosted_invoice_url ?? '');
    expect(await page.text()).toContain(open.number ?? '?');

    const twice = await rejection(stripe.invoices.finalizeInvoice(draft.id));
    expect(twice).toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });
    expect((await stripe.invoices.list({ customer: 'cus_seed_ada' })).data.map((i) => i.id)).toEqual([draft.id, excluded.id]);
  });

  it('adds an item straight onto a draft and refuses unknown customers', async ({ stripeSdk: stripe }) => {
    const draft = await stripe.invoices.create({
      customer: 'cus_seed_grace',
      collection_method: 'send_invoice',
      days_until_due: 14,
    });
    const item = await stripe.invoiceItems.create({
      customer: 'cus_seed_grace',
      amount: 999,
      currency: 'usd',
      invoice: draft.id,
    });
    expect(item.invoice).toBe(draft.id);
    expect((await stripe.invoices.retrieve(draft.id)).amount_due).toBe(999);
    const err = await rejection(stripe.invoiceItems.create({ customer: 'cus_nobody', amount: 1, currency: 'usd' }));
    expect(err).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'customer' });
  });
});

describe('sandbox control', () => {
  it('GET /_sandbox/state shows everything and POST /_sandbox/reset returns to the seed', async ({
    sandbox,
    stripeSdk: stripe,
  }) => {
    await stripe.refunds.create({ charge: 'ch_seed_1' });
    const before = (await (await fetch(`${sandbox.url}/_sandbox/state`)).json()) as {
      refunds: Record<string, unknown>;
      charges: Record<string, { refunded: boolean }>;
    };
    expect(Object.keys(before.refunds)).toHaveLength(2);
    expect(before.charges.ch_seed_1?.refunded).toBe(true);
    expect((await fetch(`${sandbox.url}/_sandbox/reset`, { method: 'POST' })).status).toBe(200);
    const after = sandbox.state();
    expect(Object.keys(after.refunds)).toEqual(['re_seed_3']);
    expect(after.charges.ch_seed_1?.refunded).toBe(false);
    expect(Object.keys(after.charges)).toHaveLength(303);
  });

  it('rejects a malformed fail-next rule', async ({ sandbox }) => {
    const res = await fetch(`${sandbox.url}/_sandbox/fail-next`, { method: 'POST', body: JSON.stringify({ drop: 'sometimes' }) });
    expect(res.status).toBe(400);
  });
});
