import { describe, expect, it } from 'vitest';
import { createStripeClientFromEnv, DEFAULT_STRIPE_API_URL } from '../../../src/connectors/stripe/client.ts';
import { InterlockError } from '../../../src/errors.ts';

describe('Stripe client from the environment', () => {
  it('uses the local sandbox with the sandbox key when STRIPE_SECRET_KEY is unset', () => {
    const t = createStripeClientFromEnv({});
    expect(t).toMatchObject({ target: 'sandbox', apiUrl: DEFAULT_STRIPE_API_URL, live: false });
    expect(createStripeClientFromEnv({ INTERLOCK_STRIPE_API_URL: 'http://127.0.0.1:4010' }).apiUrl).toBe('http://127.0.0.1:4010');
  });

  it('uses real Stripe with a test key', () => {
    expect(createStripeClientFromEnv({ STRIPE_SECRET_KEY: 'sk_test_abc' })).toMatchObject({
      target: 'stripe',
      apiUrl: 'https://api.stripe.com',
      live: false,
    });
  });

  it('refuses sk_live_ keys unless INTERLOCK_ALLOW_LIVE_STRIPE=1, and never says the key', () => {
    const key = 'sk_live_51SuperSecret';
    let err: unknown;
    try {
      createStripeClientFromEnv({ STRIPE_SECRET_KEY: key });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InterlockError);
    expect((err as InterlockError).code).toBe('CONFIG_INVALID');
    expect((err as InterlockError).message).toContain('INTERLOCK_ALLOW_LIVE_STRIPE=1');
    expect((err as InterlockError).message).not.toContain(key);
    expect(() => createStripeClientFromEnv({ STRIPE_SECRET_KEY: 'rk_live_restricted' })).toThrow(/live-mode key/);
    expect(createStripeClientFromEnv({ STRIPE_SECRET_KEY: key, INTERLOCK_ALLOW_LIVE_STRIPE: '1' })).toMatchObject({
      target: 'stripe',
      live: true,
    });
  });

  it('names a bad INTERLOCK_STRIPE_API_URL', () => {
    expect(() => createStripeClientFromEnv({ INTERLOCK_STRIPE_API_URL: 'not a url' })).toThrow(/INTERLOCK_STRIPE_API_URL/);
    expect(() => createStripeClientFromEnv({ INTERLOCK_STRIPE_API_URL: 'ftp://x' })).toThrow(/http or https/);
  });
});
