/**
 * How the Stripe tools answer: a structured result plus one line of text, or a Stripe error as an
 * `isError` result that names Stripe's code, so a model or a person reading the run sees why
 * (`charge_already_refunded`) instead of a generic failure. And the one place the idempotency key
 * Interlock sends in `_meta` becomes Stripe's `Idempotency-Key`.
 */
import { createHash } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import Stripe from 'stripe';
import { IDEMPOTENCY_META_KEY } from '../types.ts';

const MAX_STRIPE_KEY_LENGTH = 255;

export function ok(structured: Record<string, unknown>, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

function fail(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** Stripe masks rejected keys only partly; Interlock keeps even the fragments out of answers. */
function scrubKeys(text: string): string {
  return text.replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g, '[redacted key]');
}

/**
 * Request options for a write. Without a key none is invented: each call is then a new request
 * (the SDK still keys its own internal retries of that one call).
 */
export function writeOptions(extra: { _meta?: Record<string, unknown> }): Stripe.RequestOptions | undefined {
  const key = extra._meta?.[IDEMPOTENCY_META_KEY];
  if (typeof key !== 'string' || key === '') return undefined;
  // Stripe caps keys at 255 characters; a digest keeps a longer key deterministic across retries.
  const idempotencyKey =
    key.length <= MAX_STRIPE_KEY_LENGTH ? key : `interlock-sha256-${createHash('sha256').update(key).digest('hex')}`;
  return { idempotencyKey };
}

export function stripeErrorResult(err: unknown, action: string): CallToolResult {
  if (err instanceof Stripe.errors.StripeConnectionError) {
    return fail(
      `Could not ${action}: the connection to Stripe failed (${scrubKeys(err.message)}). ` +
        'Stripe may or may not have carried the request out; calling again with the same idempotency key is safe and returns the original result if it did.',
    );
  }
  if (err instanceof Stripe.errors.StripeAuthenticationError) {
    return fail(`Could not ${action}: Stripe rejected the API key (check STRIPE_SECRET_KEY). ${scrubKeys(err.message)}`);
  }
  if (err instanceof Stripe.errors.StripeError) {
    const details = [
      err.code ? `code: ${err.code}` : undefined,
      err.param ? `param: ${err.param}` : undefined,
      err.rawType ? `type: ${err.rawType}` : undefined,
      err.statusCode ? `HTTP ${err.statusCode}` : undefined,
    ].filter(Boolean);
    return fail(`Could not ${action}: ${scrubKeys(err.message)}${details.length ? ` (${details.join(', ')})` : ''}`);
  }
  throw err;
}

export async function guarded(action: string, run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (err) {
    return stripeErrorResult(err, action);
  }
}

export function invalidArguments(text: string): CallToolResult {
  return fail(text);
}
