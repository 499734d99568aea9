import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { App } from '../app.ts';
import type { SlackApprovals } from '../approvals/slack/index.ts';
import { InterlockError, errorMessage, type ErrorCode } from '../errors.ts';
import { REDIS_RETRY_AFTER_SECONDS, assertRedisReady, redisUnavailable } from '../runs/redis-unavailable.ts';
import { holdsSecret, scrub } from '../secrets.ts';
import { Authenticator, SESSION_COOKIE, requireScope } from './auth.ts';
import { servicesOf } from './compose.ts';
import type { ServerServices } from './services.ts';
import type { BearerAuth, HttpOAuth } from './oauth/resource.ts';
import { DASHBOARD_PATH, dashboardRoutes } from './dashboard.ts';
import type { McpRouteHandle } from './mcp/http.ts';
import { Metrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { isLoopbackHost, originGuard } from './origin.ts';
import { type Ctx, MAX_BODY_BYTES, type ServerEnv } from './request.ts';
import { auditRoutes } from './routes/audit.ts';
import { grantRoutes } from './routes/grants.ts';
import { planRoutes } from './routes/plans.ts';
import { confirmationRoutes } from './routes/confirmations.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { doctorRoutes } from './routes/doctor.ts';
import { healthRoutes } from './routes/health.ts';
import { oauthRoutes } from './routes/oauth.ts';
import { pinRoutes } from './routes/pins.ts';
import { reloadRoutes } from './routes/reload.ts';
import { resolveRoutes } from './routes/resolve.ts';
import { runRoutes } from './routes/runs.ts';
import { slackRoutes } from './routes/slack.ts';
import { hookRoutes, triggerRoutes } from './routes/triggers.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { RunEventStreams } from './sse.ts';
import { LiveFeed } from './ui/live.ts';
import { html } from './ui/html.ts';
import { messagePage } from './ui/layout.ts';
import { UI_PATH, uiRoutes } from './ui/routes.ts';
import { DECIDE_PATH, decideRoutes } from './ui/decide.ts';
import { httpStatus } from './status.ts';

/** The streamable-HTTP MCP facade (src/server/mcp/http.ts), as far as mounting it goes. */
export type McpRoute = Pick<McpRouteHandle, 'handle' | 'close'>;

export interface HttpAppOptions {
  /** the address the server binds to; decides the Host check and whether open mode is allowed */
  bindHost: string;
  /** the URL people reach the server at, for links and the MCP facade */
  publicUrl: string;
  auth?: Authenticator;
  metrics?: Metrics;
  /** Host names accepted besides the loopback defaults (see origin.ts) */
  allowedHosts?: string[];
  mcp?: McpRoute;
  /** `POST /slack/interactions`, when Slack approvals run in this process */
  slack?: Pick<SlackApprovals, 'handle'>;
  logger?: Logger;
  /** OAuth: bearer tokens verified beside the static ones, and the routes it serves (metadata, authorization server) */
  oauth?: HttpOAuth;
}

export interface HttpApp {
  hono: Hono<ServerEnv>;
  fetch: (req: Request, env?: unknown) => Response | Promise<Response>;
  auth: Authenticator;
  metrics: Metrics;
  close(): Promise<void>;
}

const API = '/api/v1';

/**
 * The whole HTTP surface of `interlock serve` as one Hono app: API, SSE, metrics, pages,
 * bull-board and the MCP mount. Listening is serve.ts's job, so tests can also drive this
 * through `fetch`. This is a composition root: it alone (with serve.ts and mcp-stdio.ts) knows the
 * App, and hands each route only the slices it uses (services.ts).
 */
export function createHttpApp(app: App, opts: HttpAppOptions): HttpApp {
  const svc = servicesOf(app);
  const auth = opts.auth ?? Authenticator.fromConfig(app.config.tokens);
  const metrics = opts.metrics ?? new Metrics(svc);
  const events = new RunEventStreams(svc);
  const feed = new LiveFeed(svc.queries, opts.logger ? { logger: opts.logger } : {});
  const hono = new Hono<ServerEnv>();

  hono.onError((err, c) => errorResponse(err, c, opts.logger, opts.oauth?.bearer));
  hono.notFound((c) => c.json(new InterlockError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`).toJSON(), 404));

  for (const r of opts.oauth?.publicRoutes ?? []) hono.route('/', r);
  hono.use('*', originGuard({ bindHost: opts.bindHost, ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}) }));
  hono.use('*', limitBodies);
  hono.use('*', scrubAnswers);
  // Before the built-in authorization server, which owns the rest of /oauth/*: /oauth/callback is
  // where connectors' logins come back to.
  hono.route('/', oauthRoutes(svc));
  for (const r of opts.oauth?.routes ?? []) hono.route('/', r);
  hono.use('*', identify(auth, opts.publicUrl, opts.oauth?.bearer));
  // `/x/*` matches `/x` itself as well.
  hono.use(`${UI_PATH}/*`, exchangeToken(auth));
  hono.use(`${DASHBOARD_PATH}/*`, exchangeToken(auth));

  hono.route('/', healthRoutes(svc, metrics, peerIsLoopback));
  hono.get(`${API}/openapi.json`, (c) => c.json(openApiDocument(opts.publicUrl)));
  // While the connection is down, every API call is answered 503 before it starts anything; one
  // that meets the drop halfway fails on its Redis command and gets the same answer (errorResponse).
  const redisReady: MiddlewareHandler<ServerEnv> = async (_c, next) => {
    assertRedisReady(app.redis.client);
    await next();
  };
  hono.use(`${API}/*`, redisReady);
  hono.use('/hooks/*', redisReady);
  hono.route(API, workflowRoutes(svc));
  hono.route(API, runRoutes(svc, events));
  hono.route(API, resolveRoutes(svc));
  hono.route(API, pinRoutes(svc));
  hono.route(API, confirmationRoutes(svc));
  hono.route(API, auditRoutes(svc));
  hono.route(API, grantRoutes(svc));
  hono.route(API, planRoutes(svc));
  hono.route(API, connectorRoutes(svc));
  hono.route(API, doctorRoutes(svc));
  hono.route(API, reloadRoutes(app.source));
  hono.route(API, triggerRoutes(svc.triggers));
  // A webhook's signature is its authentication (src/triggers/verify.ts); no token is asked for.
  hono.route('/hooks', hookRoutes(svc.triggers));
  hono.route('/', uiRoutes(svc.queries, feed, svc));
  // The link's own token is the authentication on these pages (URL-mode elicitation).
  hono.route(
    '/',
    decideRoutes({ links: svc.decideLinks, confirmations: svc.queries, decisions: svc.commands, plans: svc.plans }),
  );
  if (opts.slack)
    hono.route(
      '/',
      slackRoutes((req) => (opts.slack as Pick<SlackApprovals, 'handle'>).handle(req)),
    );

  const dashboard = dashboardRoutes(svc, { uiBase: UI_PATH });
  const stopFollowingTokens = followTokens(svc, auth, {
    mayOpen: isLoopbackHost(opts.bindHost),
    logger: opts.logger ?? app.logger,
  });
  const adminOnly: MiddlewareHandler<ServerEnv> = async (c, next) => {
    requireScope(c.get('principal'), 'admin');
    await next();
  };
  hono.use(`${DASHBOARD_PATH}/*`, adminOnly);
  hono.route(DASHBOARD_PATH, dashboard.routes);

  // The facade authenticates its own requests (JSON-RPC errors, WWW-Authenticate), so no scope check here.
  hono.all('/mcp', (c) => {
    if (opts.mcp) return opts.mcp.handle(c);
    return c.json(new InterlockError('NOT_FOUND', 'This server was built without the MCP endpoint').toJSON(), 404);
  });

  return {
    hono,
    fetch: (req, env) => hono.fetch(req, env),
    auth,
    metrics,
    async close() {
      stopFollowingTokens();
      dashboard.close();
      feed.close();
      await events.close();
      await opts.mcp?.close();
    },
  };
}

/**
 * A reload that changes `tokens` reaches the API, the pages, bull-board and /mcp at the next
 * request: they share this one Authenticator. A server listening beyond loopback never turns open
 * by a reload that drops every token; it admits nobody instead, and says so.
 */
function followTokens(
  svc: Pick<ServerServices, 'source'>,
  auth: Authenticator,
  opts: { mayOpen: boolean; logger: Logger },
): () => void {
  return svc.source.subscribe((next, diff) => {
    if (!diff.tokens) return;
    const { closedInsteadOfOpen } = auth.update(next.tokens, { mayOpen: opts.mayOpen });
    if (closedInsteadOfOpen)
      opts.logger.error(
        'the reloaded config has no tokens, but this server listens beyond loopback: it now admits nobody; add tokens and reload',
      );
    for (const name of auth.missing) opts.logger.warn({ token: name }, 'token has no value in the environment and admits nobody');
  });
}

/**
 * Bearer header first; otherwise the session cookie. A cookie rides along with any request the
 * browser makes, so a cookie session may change state only from this very origin (see
 * checkCookieWrite); bearer requests are not affected, since no page can make a browser add one.
 */
function identify(auth: Authenticator, publicUrl: string, bearer: BearerAuth | undefined): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (auth.open) {
      // Open mode trusts every local caller, so a browser page on another local port must not ride
      // on it: a change a browser sends (it always adds Origin or Sec-Fetch-Site) gets the cookie
      // rules. /mcp has its own origin policy for browser-based MCP clients.
      const fromBrowser = c.req.header('origin') !== undefined || c.req.header('sec-fetch-site') !== undefined;
      if (fromBrowser && !SAFE_METHODS.has(c.req.method) && c.req.path !== '/mcp') checkCookieWrite(c, publicUrl);
      c.set('principal', auth.authenticate(undefined));
      c.set('authVia', 'open');
    } else if (header !== undefined) {
      c.set('principal', bearer ? await bearer.authenticate(header) : auth.authenticate(header));
      c.set('authVia', 'header');
    } else {
      const p = auth.fromSessionCookie(getCookie(c, SESSION_COOKIE));
      if (p && !SAFE_METHODS.has(c.req.method)) checkCookieWrite(c, publicUrl);
      c.set('principal', p);
      c.set('authVia', p ? 'cookie' : undefined);
    }
    await next();
  };
}

/**
 * Browsers cannot put a bearer header on a link, so /ui and /admin/queues accept `?token=` once,
 * set an HttpOnly SameSite=Strict cookie and redirect to the same URL without the token, which
 * keeps it out of history, bookmarks and Referer headers.
 */
function exchangeToken(auth: Authenticator): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const token = c.req.query('token');
    if (token === undefined) return next();
    const url = new URL(c.req.url);
    url.searchParams.delete('token');
    const clean = `${url.pathname}${url.search}`;
    if (!auth.open) {
      const p = auth.byToken(token);
      if (!p) throw new InterlockError('UNAUTHORIZED', 'That token is not valid here');
      setCookie(c, SESSION_COOKIE, auth.sessionCookie(p), {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        secure: url.protocol === 'https:',
        maxAge: Authenticator.sessionMaxAgeSeconds(),
      });
    }
    c.header('Referrer-Policy', 'no-referrer');
    return c.redirect(clean, 303);
  };
}

/**
 * The last line of "secrets stay out" for HTTP: a JSON or HTML answer holding a registered
 * secret (src/secrets.ts) leaves with it replaced. Records are scrubbed when stored and errors
 * when made, so this only acts on what slipped past both; event streams are left alone, their
 * events come from the scrubbed store. An answer made by `c.json` is checked as it is made, where
 * its text is at hand; any other is read back, which clones its body (a stream tee) and sends it
 * through @hono/node-server's streaming path instead of its direct one.
 */
const scrubAnswers: MiddlewareHandler<ServerEnv> = async (c, next) => {
  const clean = new WeakSet<Response>();
  const json = c.json;
  c.json = ((...args: Parameters<typeof json>) => {
    const res = json(...args);
    if (!holdsSecret(JSON.stringify(args[0]))) clean.add(res);
    return res;
  }) as typeof json;
  await next();
  if (clean.has(c.res)) return;
  const type = c.res.headers.get('content-type') ?? '';
  if (!/json|html/i.test(type) || !c.res.body) return;
  const text = await c.res.clone().text();
  if (!holdsSecret(text)) return;
  const headers = new Headers(c.res.headers);
  headers.delete('content-length');
  c.res = new Response(scrub(text), { status: c.res.status, statusText: c.res.statusText, headers });
};

const TOO_LARGE = `Request bodies are limited to ${MAX_BODY_BYTES} bytes`;

/** hono's bodyLimit, for the bodies whose size only counting tells (chunked, or no Content-Length). */
const countedBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  // The rest of the body is never read, so the connection cannot carry another request.
  onError: (c) => c.json(new InterlockError('PAYLOAD_TOO_LARGE', TOO_LARGE).toJSON(), 413, { connection: 'close' }),
});

/**
 * Bodies are limited to MAX_BODY_BYTES. A body of a declared length is judged by its Content-Length
 * (Node reads no more than that into the request), as hono's bodyLimit judges it, but without
 * asking for the request's web body first: with @hono/node-server that turns each request into a
 * web Request whose body the route then reads through a web stream, where it would otherwise read
 * it straight from the socket. GET and HEAD carry no body there. Anything else is counted.
 */
const limitBodies: MiddlewareHandler<ServerEnv> = async (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
  const length = c.req.header('content-length');
  if (length === undefined || c.req.header('transfer-encoding') !== undefined) return countedBodyLimit(c, next);
  if (Number.parseInt(length, 10) > MAX_BODY_BYTES)
    return c.json(new InterlockError('PAYLOAD_TOO_LARGE', TOO_LARGE).toJSON(), 413, { connection: 'close' });
  return next();
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A state-changing request authenticated by the session cookie must come from this origin:
 * its Origin equals ours exactly (scheme, host and port: a page on localhost:<another port> is
 * same-site, so SameSite=Strict alone lets its cookie through) or the browser says
 * `Sec-Fetch-Site: same-origin`. And it must send JSON: a cross-origin page can send text/plain,
 * a form or an empty body without a preflight, never application/json. The queue dashboard's
 * own client sends bodyless PUTs, and the one-time decision pages post plain forms, so there the
 * origin check alone applies.
 */
function checkCookieWrite(c: Ctx, publicUrl: string): void {
  const origin = c.req.header('origin');
  const own = new Set([new URL(c.req.url).origin]);
  try {
    own.add(new URL(publicUrl).origin);
  } catch {
    // a publicUrl that does not parse adds nothing
  }
  const sameOrigin = c.req.header('sec-fetch-site') === 'same-origin' || (origin !== undefined && own.has(origin.toLowerCase()));
  if (!sameOrigin) {
    throw new InterlockError(
      'FORBIDDEN',
      `A browser session may change state only from this server's own pages (origin ${[...own][0]}); ` +
        `got ${origin ? `origin '${origin}'` : 'no Origin header'}. Scripts send Authorization: Bearer instead.`,
    );
  }
  if (c.req.path === DASHBOARD_PATH || c.req.path.startsWith(`${DASHBOARD_PATH}/`)) return;
  // A one-time decision page posts a plain form; its unguessable link token is what authorizes it.
  if (c.req.path.startsWith(`${DECIDE_PATH}/`)) return;
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
    throw new InterlockError('FORBIDDEN', 'A browser session must send state changes as JSON (Content-Type: application/json)');
  }
}

function peerIsLoopback(c: Ctx): boolean {
  try {
    const addr = getConnInfo(c).remote.address;
    return addr !== undefined && isLoopbackHost(addr);
  } catch {
    // No socket to ask (a request through fetch, not a listener): not known to be local.
    return false;
  }
}

const HTTP_CODES: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
};

const SIGN_IN_HINT = html`<p>Open this page once with <code>?token=&lt;your token&gt;</code> appended to the address.
The server then keeps you signed in with an HttpOnly cookie and removes the token from the address bar.</p>`;

function wantsPage(c: Context): boolean {
  const p = c.req.path;
  const isPage = p === UI_PATH || p.startsWith(`${UI_PATH}/`) || p === DASHBOARD_PATH || p.startsWith(`${DASHBOARD_PATH}/`);
  return isPage && c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html');
}

function errorResponse(err: Error, c: Context, logger: Logger | undefined, bearer?: BearerAuth): Response {
  // Not logged per request: the connection's outage log tells the story once (src/runs/redis.ts).
  const unavailable = redisUnavailable(err);
  if (unavailable) return c.json(unavailable.toJSON(), 503, { 'retry-after': String(REDIS_RETRY_AFTER_SECONDS) });
  if (err instanceof InterlockError && wantsPage(c) && httpStatus(err) < 500) {
    const title = err.code === 'UNAUTHORIZED' ? 'Sign in to Interlock' : err.code === 'FORBIDDEN' ? 'Not allowed' : 'Not found';
    c.header('Cache-Control', 'no-store');
    return c.html(messagePage(title, err.message, err.code === 'UNAUTHORIZED' ? SIGN_IN_HINT : undefined).value, httpStatus(err));
  }
  if (err instanceof InterlockError) {
    const status = httpStatus(err);
    const challenge = status === 401 && bearer?.challenge(c.req.header('authorization') ? { error: 'invalid_token' } : {});
    if (challenge) c.header('WWW-Authenticate', challenge);
    if (status >= 500) logger?.warn({ code: err.code, path: c.req.path }, err.message);
    return c.json(err.toJSON(), status);
  }
  if (err instanceof HTTPException) {
    const code = HTTP_CODES[err.status] ?? (err.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST');
    return c.json(new InterlockError(code, err.message || 'Request failed').toJSON(), err.status);
  }
  // Unexpected errors may hold internals; the caller gets a generic message, the log the detail.
  logger?.error({ err: errorMessage(err), path: c.req.path, method: c.req.method }, 'unhandled error');
  return c.json(new InterlockError('INTERNAL', 'Internal error').toJSON(), 500);
}
