/**
 * Which Stripe the connector talks to. With STRIPE_SECRET_KEY: that account (live keys only with
 * INTERLOCK_ALLOW_LIVE_STRIPE=1, because a demo or a test run should never be able to move real
 * money by accident). Without: the local sandbox, so everything works with no Stripe account.
 */
import Stripe from 'stripe';
import { InterlockError } from '../../errors.ts';
import { STRIPE_CONNECTOR_NAME, STRIPE_CONNECTOR_VERSION } from './server.ts';

export const SANDBOX_STRIPE_KEY = 'sk_test_interlock_sandbox';
export const DEFAULT_STRIPE_API_URL = 'http://127.0.0.1:12111';
/** The SDK retries network failures and 5xx with the same idempotency key, so retries never double a write. */
const MAX_NETWORK_RETRIES = 2;

export interface StripeTarget {
  stripe: Stripe;
  /** `stripe`: STRIPE_SECRET_KEY's account; `sandbox`: the local emulator */
  target: 'stripe' | 'sandbox';
  /** where requests go, without credentials */
  apiUrl: string;
  live: boolean;
}

function parseApiUrl(raw: string): { host: string; port: number; protocol: 'http' | 'https' } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InterlockError('CONFIG_INVALID', `INTERLOCK_STRIPE_API_URL is not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InterlockError('CONFIG_INVALID', `INTERLOCK_STRIPE_API_URL must be http or https, not ${url.protocol}`);
  }
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80;
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, protocol };
}

export function createStripeClientFromEnv(env: NodeJS.ProcessEnv = process.env): StripeTarget {
  const key = env.STRIPE_SECRET_KEY?.trim() || undefined;
  const live = !!key && /^(sk|rk)_live_/.test(key);
  if (live && env.INTERLOCK_ALLOW_LIVE_STRIPE !== '1') {
    throw new InterlockError(
      'CONFIG_INVALID',
      'STRIPE_SECRET_KEY is a live-mode key; Interlock refuses to move real money unless INTERLOCK_ALLOW_LIVE_STRIPE=1 is set. ' +
        'Use a test-mode key (sk_test_…), or unset STRIPE_SECRET_KEY to use the local Stripe sandbox.',
    );
  }
  const explicitUrl = env.INTERLOCK_STRIPE_API_URL?.trim() || undefined;
  const config: Stripe.StripeConfig = {
    maxNetworkRetries: MAX_NETWORK_RETRIES,
    appInfo: { name: STRIPE_CONNECTOR_NAME, version: STRIPE_CONNECTOR_VERSION },
  };
  // An explicit URL wins even with a key, so a test-mode key can be pointed at stripe-mock or the sandbox.
  const apiUrl = explicitUrl ?? (key ? 'https://api.stripe.com' : DEFAULT_STRIPE_API_URL);
  if (explicitUrl || !key) Object.assign(config, parseApiUrl(apiUrl));
  return { stripe: new Stripe(key ?? SANDBOX_STRIPE_KEY, config), target: key ? 'stripe' : 'sandbox', apiUrl, live };
}
