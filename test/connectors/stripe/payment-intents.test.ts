/** PaymentIntents in the Stripe sandbox, through the real `stripe` SDK: what `@stripe/mcp` reads. */
import Stripe from 'stripe';
import { describe, expect } from 'vitest';
import { test } from '../../helpers/fixtures.ts';

/** The SDK on the file's Stripe emulator (named `stripe` in the tests). */
const it = test.extend<{ stripeSdk: Stripe }>({
  stripeSdk: [
    async ({ stripe }, use) =>
      use(new Stripe('sk_test_pi_suite', { host: '127.0.0.1', port: stripe.port, protocol: 'http', maxNetworkRetries: 0 })),
    { scope: 'file' },
  ],
});

describe('payment intents', () => {
  it('retrieves the intent of a charge, with the fields Stripe gives a succeeded card payment', async ({ stripeSdk: stripe }) => {
    const pi = await stripe.paymentIntents.retrieve('pi_seed_1');
    expect(pi).toMatchObject({
      id: 'pi_seed_1',
      object: 'payment_intent',
      amount: 5000,
      amount_received: 5000,
      currency: 'usd',
      customer: 'cus_seed_ada',
      status: 'succeeded',
      latest_charge: 'ch_seed_1',
      capture_method: 'automatic',
      livemode: false,
      payment_method_types: ['card'],
    });
  });

  it('lists newest first, pages with starting_after, filters by customer, and auto-paginates once through', async ({
    stripeSdk: stripe,
  }) => {
    const first = await stripe.paymentIntents.list({ limit: 2 });
    expect(first).toMatchObject({ object: 'list', has_more: true, url: '/v1/payment_intents' });
    expect(first.data.map((p) => p.id)).toEqual(['pi_seed_399', 'pi_seed_398']);
    const next = await stripe.paymentIntents.list({ limit: 1, starting_after: 'pi_seed_398' });
    expect(next.data.map((p) => p.id)).toEqual(['pi_seed_397']);
    const ada = await stripe.paymentIntents.list({ customer: 'cus_seed_ada' });
    expect(ada.data.every((p) => p.customer === 'cus_seed_ada')).toBe(true);
    expect(ada.data.length).toBeGreaterThan(0);
    expect(
      (await stripe.paymentIntents.list({ customer: 'cus_seed_ada', limit: 100 }).autoPagingToArray({ limit: 1000 })).map(
        (p) => p.id,
      ),
    ).toContain('pi_seed_1');
    const all: string[] = [];
    for await (const p of stripe.paymentIntents.list({ limit: 100 })) all.push(p.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe((await stripe.charges.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 })).length);
  });

  it("answers an unknown intent with Stripe's resource_missing error", async ({ stripeSdk: stripe }) => {
    const err = await stripe.paymentIntents.retrieve('pi_nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'intent',
      message: "No such payment_intent: 'pi_nope'",
    });
  });

  it('refuses a parameter Stripe does not take', async ({ stripeSdk: stripe }) => {
    const err = await stripe.paymentIntents.list({ colour: 'red' } as never).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 400, code: 'parameter_unknown' });
  });
});
