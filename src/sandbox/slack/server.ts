/**
 * A local emulator of the Slack Web API: `new WebClient(token, {slackApiUrl: sandbox.url})` talks to it unchanged.
 * Answers follow Slack's conventions (HTTP 200 with `{ok:false, error}`, 429 with Retry-After), and a few
 * `/_sandbox/*` routes let tests and demos inspect state and inject faults.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { METHODS, type Params } from './methods.ts';
import { type Click, ClickError, type ClickResult, sendClick } from './interactions.ts';
import { type Interactivity, SlackStore, type SlackState } from './state.ts';
import { listen } from '../../listen.ts';

export interface SlackSandboxOptions {
  /** 0 or unset: a free port */
  port?: number;
  host?: string;
  /** where button clicks go, signed with this secret (also settable later: `/_sandbox/interactivity`) */
  interactivity?: Interactivity;
}

export interface SlackSandbox {
  /** base URL for WebClient's `slackApiUrl`; ends with `/api/` */
  url: string;
  port: number;
  close(): Promise<void>;
  state(): SlackState;
  reset(): void;
  injectRateLimit(method: string, count: number, retryAfterSec: number): void;
  /** the next call of `method` is carried out, then its connection is dropped before any answer */
  failNext(method: string): void;
  setInteractivity(target: Interactivity | undefined): void;
  /** a person clicks a button on a message: the signed interaction goes to the interactivity URL */
  click(click: Click): Promise<ClickResult>;
}

const MAX_BODY_BYTES = 1024 * 1024;

class BodyError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyError(413, 'request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Query string and body merged, as Slack reads parameters from either. */
async function readParams(req: IncomingMessage, url: URL): Promise<Params> {
  const params: Params = Object.fromEntries(url.searchParams);
  if (req.method !== 'POST') return params;
  const raw = await readBody(req);
  if (raw === '') return params;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new BodyError(200, 'invalid_json');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BodyError(200, 'invalid_json');
    return { ...params, ...(parsed as Params) };
  }
  if (type === 'application/x-www-form-urlencoded' || type === '') {
    return { ...params, ...Object.fromEntries(new URLSearchParams(raw)) };
  }
  throw new BodyError(200, 'invalid_form_data');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function tokenOf(req: IncomingMessage, params: Params): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    return m ? m[1] : '';
  }
  return typeof params.token === 'string' ? params.token : undefined;
}

export async function startSlackSandbox(options: SlackSandboxOptions = {}): Promise<SlackSandbox> {
  const store = new SlackStore();
  store.interactivity = options.interactivity;
  const host = options.host ?? '127.0.0.1';

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    let params: Params;
    try {
      params = await readParams(req, url);
    } catch (err) {
      if (err instanceof BodyError) {
        store.record({ method, status: err.status, ok: false, error: err.message });
        return send(res, err.status, { ok: false, error: err.message });
      }
      throw err;
    }
    const handler = METHODS[method];
    if (!handler) {
      store.record({ method, status: 200, ok: false, error: 'unknown_method' });
      return send(res, 200, { ok: false, error: 'unknown_method' });
    }
    const token = tokenOf(req, params);
    const authError = token === undefined ? 'not_authed' : token.startsWith('xoxb-') ? undefined : 'invalid_auth';
    if (authError && method !== 'api.test') {
      store.record({ method, status: 200, ok: false, error: authError });
      return send(res, 200, { ok: false, error: authError });
    }
    const retryAfter = store.takeRateLimit(method);
    if (retryAfter !== undefined) {
      store.record({ method, status: 429, ok: false, error: 'ratelimited' });
      return send(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
    }
    const { token: _token, ...args } = params;
    const answer = handler(store, args);
    if (store.takeFailure(method)) {
      // The work is committed; only the answer is lost, as when a connection dies mid-response.
      store.record({ method, status: 0, ok: answer.ok, ...(answer.ok ? {} : { error: answer.error }) });
      req.socket.destroy();
      return;
    }
    store.record({ method, status: 200, ok: answer.ok, ...(answer.ok ? {} : { error: answer.error }) });
    send(res, 200, answer);
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, action: string, url: URL): Promise<void> {
    if (action === 'state' && req.method === 'GET') return send(res, 200, store.snapshot());
    if (req.method !== 'POST') return send(res, 405, { ok: false, error: 'method_not_allowed' });
    let body: Params;
    try {
      body = await readParams(req, url);
    } catch (err) {
      if (err instanceof BodyError) return send(res, err.status === 200 ? 400 : err.status, { ok: false, error: err.message });
      throw err;
    }
    const method = typeof body.method === 'string' ? body.method : '';
    switch (action) {
      case 'reset':
        store.reset();
        return send(res, 200, { ok: true });
      case 'rate-limit': {
        const count = Number(body.count ?? 1);
        const retryAfter = Number(body.retry_after ?? 1);
        if (!method || !Number.isInteger(count) || count < 0 || !Number.isInteger(retryAfter) || retryAfter < 0) {
          return send(res, 400, { ok: false, error: 'expected {method, count, retry_after} with non-negative integers' });
        }
        injectRateLimit(method, count, retryAfter);
        return send(res, 200, { ok: true });
      }
      case 'interactivity': {
        const url = typeof body.url === 'string' ? body.url : '';
        const secret = typeof body.signing_secret === 'string' ? body.signing_secret : '';
        if (!/^https?:\/\//.test(url) || secret === '')
          return send(res, 400, { ok: false, error: 'expected {url: "http(s)://…", signing_secret}' });
        store.interactivity = { url, signingSecret: secret };
        return send(res, 200, { ok: true });
      }
      case 'click': {
        const click = body as unknown as Click;
        for (const k of ['channel', 'ts', 'user', 'action_id'] as const)
          if (typeof click[k] !== 'string') return send(res, 400, { ok: false, error: `expected ${k}` });
        try {
          const result = await sendClick(store, click);
          return send(res, 200, { ok: true, status: result.status, body: result.body });
        } catch (err) {
          if (err instanceof ClickError) return send(res, 400, { ok: false, error: err.message });
          throw err;
        }
      }
      case 'fail-next':
        if (!method) return send(res, 400, { ok: false, error: 'expected {method}' });
        store.failures.add(method);
        return send(res, 200, { ok: true });
      default:
        return send(res, 404, { ok: false, error: 'not_found' });
    }
  }

  function injectRateLimit(method: string, count: number, retryAfterSec: number): void {
    if (count <= 0) store.rateLimits.delete(method);
    else store.rateLimits.set(method, { count, retryAfterSec });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const api = /^\/api\/([A-Za-z0-9._]+)$/.exec(url.pathname);
    const control = /^\/_sandbox\/([a-z-]+)$/.exec(url.pathname);
    const work = api
      ? handleApi(req, res, api[1], url)
      : control
        ? handleControl(req, res, control[1], url)
        : Promise.resolve(send(res, 404, { ok: false, error: 'not_found' }));
    work.catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 500, { ok: false, error: 'internal_error', detail: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });

  const { port, origin } = await listen(server, options.port ?? 0, host);

  return {
    url: `${origin}/api/`,
    port,
    state: () => store.snapshot(),
    reset: () => store.reset(),
    injectRateLimit,
    failNext: (method) => void store.failures.add(method),
    setInteractivity: (target) => {
      store.interactivity = target;
    },
    click: (click) => sendClick(store, click),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
