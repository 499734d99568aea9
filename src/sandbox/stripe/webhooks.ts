/**
 * The sandbox's webhooks: what it does (a refund, a dispute opened through the side door) becomes
 * a Stripe event, POSTed as JSON to every endpoint with a real `Stripe-Signature` header made by
 * the `stripe` SDK, and sent again on a failure the way Stripe does (here a few times, seconds
 * apart, instead of over three days). A resend, like the dashboard's, delivers an event once more.
 */
import Stripe from 'stripe';
import type { ControlAnswer } from './control.ts';
import { randomId, type StripeStore } from './store.ts';

export interface WebhookEndpoint {
  url: string;
  /** `whsec_…`: the endpoint's signing secret */
  secret: string;
}

export interface SandboxEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: string;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: unknown };
}

export interface WebhookDelivery {
  event: string;
  url: string;
  attempt: number;
  /** the HTTP status, or the network error */
  status: number | string;
  at: number;
}

export interface SandboxDispute {
  id: string;
  object: 'dispute';
  amount: number;
  charge: string;
  currency: string;
  created: number;
  livemode: false;
  reason: string;
  status: 'needs_response';
  metadata: Record<string, string>;
}

export interface WebhookOptions {
  endpoints?: WebhookEndpoint[];
  /** waits before each retry after a failed delivery; default 0.5 s, 2 s, 5 s */
  retryDelaysMs?: number[];
}

const API_VERSION = '2024-06-20';
const DEFAULT_RETRIES = [500, 2000, 5000];

export class WebhookSender {
  readonly endpoints: WebhookEndpoint[];
  readonly events: SandboxEvent[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  readonly disputes = new Map<string, SandboxDispute>();
  private readonly retries: number[];
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;

  constructor(opts: WebhookOptions = {}) {
    this.endpoints = [...(opts.endpoints ?? [])];
    this.retries = opts.retryDelaysMs ?? DEFAULT_RETRIES;
  }

  /** A new event, sent to every endpoint in the background (retried on failure). */
  emit(type: string, object: unknown): SandboxEvent {
    const event: SandboxEvent = {
      id: randomId('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: Math.floor(Date.now() / 1000),
      type,
      livemode: false,
      pending_webhooks: this.endpoints.length,
      request: { id: null, idempotency_key: null },
      data: { object },
    };
    this.events.push(event);
    for (const ep of this.endpoints) this.track(this.deliver(event, ep, this.retries.length + 1));
    return event;
  }

  /** The same event once more to every endpoint (a new signature, the same id); answers when sent. */
  async resend(id: string): Promise<WebhookDelivery[] | undefined> {
    const event = this.events.find((e) => e.id === id);
    if (!event) return undefined;
    const before = this.deliveries.length;
    await Promise.all(this.endpoints.map((ep) => this.deliver(event, ep, 1)));
    return this.deliveries.slice(before);
  }

  openDispute(store: StripeStore, input: { charge: string; amount?: number; reason?: string }): SandboxDispute {
    const charge = store.charge(input.charge, 'charge');
    const dispute: SandboxDispute = {
      id: randomId('dp'),
      object: 'dispute',
      amount: input.amount ?? charge.amount,
      charge: charge.id,
      currency: charge.currency,
      created: store.now(),
      livemode: false,
      reason: input.reason ?? 'fraudulent',
      status: 'needs_response',
      metadata: {},
    };
    this.disputes.set(dispute.id, dispute);
    charge.disputed = true;
    this.emit('charge.dispute.created', structuredClone(dispute));
    return dispute;
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async deliver(event: SandboxEvent, ep: WebhookEndpoint, attempts: number): Promise<void> {
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, this.retries[attempt - 2] ?? 1000));
      if (this.closed) return;
      const payload = JSON.stringify(event, null, 2);
      const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: ep.secret });
      let status: number | string;
      try {
        const res = await fetch(ep.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'stripe-signature': signature,
            'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          },
          body: payload,
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        await res.body?.cancel();
      } catch (err) {
        status = err instanceof Error ? err.message : String(err);
      }
      this.deliveries.push({ event: event.id, url: ep.url, attempt, status, at: Date.now() });
      if (typeof status === 'number' && status >= 200 && status < 300) return;
    }
  }

  /** Waits for deliveries under way (and their retries). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  close(): void {
    this.closed = true;
  }
}

const json = (status: number, value: unknown): ControlAnswer => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(value, null, 2),
});

const bad = (message: string): ControlAnswer => json(400, { error: { type: 'invalid_request_error', message } });

function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const v = body.trim() ? (JSON.parse(body) as unknown) : {};
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The side door's webhook routes:
 *   POST /_sandbox/webhook_endpoints {url, secret?}  add an endpoint (a secret is made when none is given)
 *   GET  /_sandbox/events                           events and every delivery attempt
 *   POST /_sandbox/events/{id}/resend               deliver an event again
 *   POST /_sandbox/disputes {charge, amount?, reason?}  open a dispute: `charge.dispute.created`
 */
export async function handleWebhookControl(
  method: string,
  pathname: string,
  body: string,
  ctx: { store: StripeStore; webhooks: WebhookSender },
): Promise<ControlAnswer | undefined> {
  const { webhooks } = ctx;
  if (method === 'POST' && pathname === '/_sandbox/webhook_endpoints') {
    const b = parseObject(body);
    if (!b || typeof b.url !== 'string' || !/^https?:\/\//.test(b.url))
      return bad('give {"url": "http://…", "secret"?: "whsec_…"}');
    if (b.secret !== undefined && typeof b.secret !== 'string') return bad('secret must be a string');
    const ep = { url: b.url, secret: typeof b.secret === 'string' ? b.secret : randomId('whsec', 32) };
    webhooks.endpoints.push(ep);
    return json(200, { object: 'webhook_endpoint', ...ep });
  }
  if (method === 'GET' && pathname === '/_sandbox/events')
    return json(200, { events: webhooks.events, deliveries: webhooks.deliveries });
  const resend = /^\/_sandbox\/events\/([A-Za-z0-9_]+)\/resend$/.exec(pathname);
  if (method === 'POST' && resend) {
    const sent = await webhooks.resend(resend[1] ?? '');
    return sent
      ? json(200, { deliveries: sent })
      : json(404, { error: { type: 'invalid_request_error', message: `No such event: '${resend[1]}'` } });
  }
  if (method === 'POST' && pathname === '/_sandbox/disputes') {
    const b = parseObject(body);
    if (!b || typeof b.charge !== 'string') return bad('give {"charge": "ch_…", "amount"?: 1000, "reason"?: "fraudulent"}');
    if (b.amount !== undefined && (typeof b.amount !== 'number' || !Number.isInteger(b.amount) || b.amount < 1))
      return bad('amount must be a positive integer (minor units)');
    if (b.reason !== undefined && typeof b.reason !== 'string') return bad('reason must be a string');
    try {
      const dispute = webhooks.openDispute(ctx.store, {
        charge: b.charge,
        ...(typeof b.amount === 'number' ? { amount: b.amount } : {}),
        ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
      });
      return json(200, dispute);
    } catch (err) {
      return json(404, { error: { type: 'invalid_request_error', message: err instanceof Error ? err.message : String(err) } });
    }
  }
  return undefined;
}
