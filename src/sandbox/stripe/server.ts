/**
 * A local emulator of the Stripe REST API that the official `stripe` SDK talks to unchanged:
 * `new Stripe(key, {host: '127.0.0.1', port, protocol: 'http'})`. Plain node:http rather than a
 * framework, because failure injection needs the raw socket (to drop a connection after the work
 * is committed, the way a lost answer looks to a client).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { handleControl } from './control.ts';
import { StripeApiError, typeForStatus } from './errors.ts';
import { parseForm, type FormObject } from './form.ts';
import { fingerprint, IdempotencyStore } from './idempotency.ts';
import { Params } from './params.ts';
import { applyExpand, matchRoute, type Route } from './router.ts';
import { customerRoutes } from './routes-customers.ts';
import { invoiceRoutes } from './routes-invoices.ts';
import { paymentIntentRoutes } from './routes-payment-intents.ts';
import { paymentRoutes } from './routes-payments.ts';
import { seedStore } from './seed.ts';
import { emptyState, StripeStore } from './store.ts';
import type { FailureRule, StripeState } from './types.ts';
import { handleWebhookControl, type WebhookEndpoint, type WebhookOptions, WebhookSender } from './webhooks.ts';
import { listen } from '../../listen.ts';

export interface StripeSandboxOptions {
  /** 0 or unset: a free port */
  port?: number;
  host?: string;
  /**
   * Where the sandbox sends signed events (charge.refunded, charge.dispute.created). Default:
   * INTERLOCK_STRIPE_WEBHOOK_URL (comma-separated) with INTERLOCK_STRIPE_WEBHOOK_SECRET; more can be
   * added at `POST /_sandbox/webhook_endpoints`.
   */
  webhooks?: WebhookOptions;
}

export interface StripeSandbox {
  /** base URL, e.g. `http://127.0.0.1:12111`; give it to the connector as INTERLOCK_STRIPE_API_URL */
  url: string;
  port: number;
  close(): Promise<void>;
  /** a deep copy of the whole state */
  state(): StripeState;
  /** back to the seed; forgets idempotency keys and queued failures */
  reset(): void;
  /** the same as `POST /_sandbox/fail-next` */
  failNext(rule: FailureRule): void;
  /** the events it sent, where, and how each attempt went */
  webhooks: WebhookSender;
}

/** Webhook endpoints from INTERLOCK_STRIPE_WEBHOOK_URL / INTERLOCK_STRIPE_WEBHOOK_SECRET. */
export function webhookEndpointsFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookEndpoint[] {
  const urls = (env.INTERLOCK_STRIPE_WEBHOOK_URL ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  const secret = env.INTERLOCK_STRIPE_WEBHOOK_SECRET;
  if (urls.length && !secret)
    throw new Error('INTERLOCK_STRIPE_WEBHOOK_URL is set without INTERLOCK_STRIPE_WEBHOOK_SECRET (whsec_…)');
  return secret ? urls.map((url) => ({ url, secret })) : [];
}

/** The port the Stripe connector looks at when INTERLOCK_STRIPE_API_URL is unset (stripe-mock's). */
export const DEFAULT_STRIPE_SANDBOX_PORT = 12111;

const ROUTES: readonly Route[] = [...paymentRoutes, ...paymentIntentRoutes, ...customerRoutes, ...invoiceRoutes];
const MAX_BODY_BYTES = 1024 * 1024;

/** Parameter errors are rejected before the endpoint runs, so Stripe saves no idempotent result for them. */
function isValidationError(err: StripeApiError): boolean {
  return err.status === 400 && !!err.code && (err.code.startsWith('parameter_') || err.code === 'parameters_exclusive');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new StripeApiError(413, 'invalid_request_error', 'Request body too large.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Stripe shows a few characters of a rejected key and masks the rest; the sandbox does the same. */
function maskKey(key: string): string {
  return key.length <= 12
    ? '*'.repeat(key.length)
    : `${key.slice(0, 8)}${'*'.repeat(Math.min(key.length - 12, 24))}${key.slice(-4)}`;
}

function authenticate(req: IncomingMessage): void {
  const header = req.headers.authorization ?? '';
  let key = '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (bearer) key = (bearer[1] ?? '').trim();
  else if (basic)
    key =
      Buffer.from(basic[1] ?? '', 'base64')
        .toString('utf8')
        .split(':')[0] ?? '';
  if (!key) {
    throw new StripeApiError(
      401,
      'invalid_request_error',
      'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. ' +
        "'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  if (!/^sk_test_[A-Za-z0-9_]+$/.test(key)) {
    throw new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${maskKey(key)}`, 'api_key_invalid');
  }
}

export async function startStripeSandbox(options: StripeSandboxOptions = {}): Promise<StripeSandbox> {
  const host = options.host ?? '127.0.0.1';
  const store = new StripeStore();
  const idempotency = new IdempotencyStore();
  let failures: FailureRule[] = [];

  const reset = (): void => {
    const baseUrl = store.baseUrl;
    store.state = emptyState();
    store.baseUrl = baseUrl;
    // The seed's refunds are history, not news: no events for them.
    const onEvent = store.onEvent;
    store.onEvent = undefined;
    seedStore(store);
    store.onEvent = onEvent;
    idempotency.clear();
    failures = [];
  };
  const queueFailure = (rule: FailureRule): number => {
    failures.push({ ...rule, count: rule.count ?? 1 });
    return failures.length;
  };
  const takeFailure = (method: string, path: string): FailureRule | undefined => {
    const i = failures.findIndex((f) => (!f.method || f.method === method) && (!f.path || path.startsWith(f.path)));
    const rule = failures[i];
    if (!rule) return undefined;
    rule.count = (rule.count ?? 1) - 1;
    if (rule.count <= 0) failures.splice(i, 1);
    return rule;
  };
  seedStore(store);
  const webhooks = new WebhookSender({ endpoints: webhookEndpointsFromEnv(), ...options.webhooks });
  store.onEvent = (type, object) => void webhooks.emit(type, object);

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string>): void => {
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Request-Id': `req_${randomBytes(7).toString('hex')}`,
      ...headers,
    });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const headers: Record<string, string> = {};
    const version = req.headers['stripe-version'];
    if (typeof version === 'string') headers['Stripe-Version'] = version;
    const idemKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    try {
      const body = await readBody(req);
      if (url.pathname.startsWith('/_sandbox/')) {
        const answer =
          (await handleWebhookControl(method, url.pathname, body, { store, webhooks })) ??
          handleControl(method, url.pathname, body, { store, reset, queueFailure });
        res.writeHead(answer.status, { 'Content-Type': answer.contentType, 'Content-Length': Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }
      authenticate(req);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      if (body && contentType !== 'application/x-www-form-urlencoded') {
        throw new StripeApiError(
          400,
          'invalid_request_error',
          `Invalid request: unsupported Content-Type ${contentType || '(none)'}. Stripe's API takes form-encoded bodies (application/x-www-form-urlencoded).`,
        );
      }
      const raw: FormObject = Object.assign(parseForm(url.search.slice(1)), method === 'POST' ? parseForm(body) : {});
      const failure = takeFailure(method, url.pathname);
      if (failure?.drop === 'before_commit') {
        req.socket.destroy();
        return;
      }
      if (failure?.status !== undefined) {
        throw new StripeApiError(
          failure.status,
          typeForStatus(failure.status),
          failure.message ?? 'An injected failure (Stripe sandbox fail-next).',
          failure.code,
        );
      }
      const saveKey = method === 'POST' ? idemKey : undefined;
      if (saveKey) {
        headers['Idempotency-Key'] = saveKey;
        const prior = idempotency.lookup(saveKey, method, url.pathname, raw);
        if (prior) {
          if (failure?.drop === 'after_commit') {
            req.socket.destroy();
            return;
          }
          send(res, prior.status, prior.body, { ...headers, 'Idempotent-Replayed': 'true' });
          return;
        }
      }
      let status = 200;
      let out: string;
      try {
        const { route, path } = matchRoute(ROUTES, method, url.pathname);
        const params = new Params(raw);
        const result = route.handler({ params, path, store });
        out = JSON.stringify(applyExpand(result, params.expand(), store));
      } catch (err) {
        // Unrecognized URLs and parameter errors never ran an endpoint: answered, but not saved under the key.
        if (!(err instanceof StripeApiError) || isValidationError(err) || (err.status === 404 && err.code === undefined))
          throw err;
        status = err.status;
        out = JSON.stringify(err.toBody());
      }
      if (saveKey) idempotency.save(saveKey, { method, path: url.pathname, fingerprint: fingerprint(raw), status, body: out });
      if (failure?.drop === 'after_commit') {
        req.socket.destroy();
        return;
      }
      send(res, status, out, headers);
    } catch (err) {
      const e =
        err instanceof StripeApiError
          ? err
          : new StripeApiError(
              500,
              'api_error',
              `The Stripe sandbox failed: ${err instanceof Error ? err.message : String(err)}`,
            );
      if (!res.headersSent && !req.socket.destroyed) send(res, e.status, JSON.stringify(e.toBody()), headers);
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  const { port, origin } = await listen(server, options.port ?? 0, host);
  const url = origin;
  store.baseUrl = url;

  return {
    url,
    port,
    state: () => structuredClone(store.state),
    reset,
    failNext: (rule) => {
      queueFailure(rule);
    },
    webhooks,
    close: () =>
      new Promise<void>((resolve, reject) => {
        webhooks.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
