/**
 * Checking who sent a webhook, on the raw body exactly as it arrived (a body parsed and printed
 * again is not the body that was signed). Stripe's scheme is checked by the `stripe` SDK itself;
 * the generic scheme is an HMAC over the body (or `<timestamp>.<body>`) compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import Stripe from 'stripe';
import { InterlockError } from '../errors.ts';
import type { WebhookVerify } from '../workflows/types.ts';

/** A verified event: its parsed body, the id that names it, and its type when it has one. */
export interface VerifiedEvent {
  id: string;
  type?: string;
  body: unknown;
}

export type HeaderReader = (name: string) => string | undefined;

function badSignature(why: string): InterlockError {
  // The reason helps whoever set the hook up; it never repeats the header or the secret.
  return new InterlockError('SIGNATURE_INVALID', `The webhook's signature does not verify: ${why}; nothing was started`);
}

export function webhookSecret(verify: WebhookVerify, env: NodeJS.ProcessEnv = process.env): string {
  const secret = env[verify.secretEnv];
  if (!secret)
    throw new InterlockError(
      'TRIGGER_NOT_READY',
      `The webhook's secret is not set (environment variable ${verify.secretEnv}); nothing was started, so the sender will retry`,
      { variable: verify.secretEnv },
    );
  return secret;
}

export async function verifyWebhook(
  verify: WebhookVerify,
  body: string,
  header: HeaderReader,
  env: NodeJS.ProcessEnv = process.env,
  now: number = Date.now(),
): Promise<VerifiedEvent> {
  const secret = webhookSecret(verify, env);
  if (verify.type === 'stripe') return verifyStripe(body, header('stripe-signature'), secret, verify.toleranceS, now);
  verifyHmac(verify, body, header, secret, now);
  const parsed = parseBody(body);
  const id =
    (verify.idHeader ? header(verify.idHeader) : undefined) ??
    (isRecord(parsed) && typeof parsed.id === 'string' && parsed.id ? parsed.id : undefined) ??
    `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const type = isRecord(parsed) && typeof parsed.type === 'string' ? parsed.type : undefined;
  return { id, ...(type !== undefined ? { type } : {}), body: parsed };
}

async function verifyStripe(
  body: string,
  signature: string | undefined,
  secret: string,
  toleranceS: number,
  now: number,
): Promise<VerifiedEvent> {
  if (!signature) throw badSignature('no Stripe-Signature header');
  let event: Stripe.Event;
  try {
    event = await Stripe.webhooks.constructEventAsync(body, signature, secret, toleranceS, undefined, now);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) throw badSignature(firstSentence(err.message));
    throw new InterlockError('BAD_REQUEST', 'The webhook body is not a Stripe event (JSON with an id)');
  }
  if (typeof event?.id !== 'string') throw new InterlockError('BAD_REQUEST', 'The Stripe event has no id');
  return { id: event.id, type: event.type, body: event };
}

function verifyHmac(
  verify: Extract<WebhookVerify, { type: 'hmac' }>,
  body: string,
  header: HeaderReader,
  secret: string,
  now: number,
): void {
  const given = header(verify.header);
  if (!given) throw badSignature(`no ${verify.header} header`);
  let signed = body;
  if (verify.timestampHeader) {
    const ts = Number(header(verify.timestampHeader));
    if (!Number.isFinite(ts) || ts <= 0) throw badSignature(`no Unix time in the ${verify.timestampHeader} header`);
    if (Math.abs(now / 1000 - ts) > verify.toleranceS) throw badSignature('its timestamp is outside the tolerance window');
    signed = `${ts}.${body}`;
  }
  const want = createHmac(verify.algorithm, secret).update(signed).digest();
  const text = given.startsWith(verify.prefix) ? given.slice(verify.prefix.length).trim() : '';
  const got = Buffer.from(text, verify.encoding);
  // Equal lengths first: timingSafeEqual throws on a mismatch, and a digest's length is no secret.
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw badSignature(`${verify.header} does not match the body`);
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new InterlockError('BAD_REQUEST', 'The webhook body is not JSON');
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function firstSentence(s: string): string {
  return (s.split(/\.\s/)[0] ?? s).replace(/\.$/, '');
}
