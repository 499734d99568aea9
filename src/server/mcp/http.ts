import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import type { Context } from 'hono';
import { errorMessage } from '../../errors.ts';
import { parseJsonText } from '../request.ts';
import type { ServerServices } from '../services.ts';
import { createHostGuard } from './guard.ts';
import { listenCapped } from './listen-slots.ts';
import { createModernHandler } from './modern.ts';
import type { RequestStates } from './request-state.ts';
import { Facade, type FacadeDeps, type FacadeServices } from './server.ts';

/** Who made a request; the shape of src/server/auth.ts's Principal, declared here so /mcp depends on no more than it uses. */
export interface McpPrincipal {
  name: string;
  scopes: string[];
}

export interface McpAuthenticator {
  authenticate(authorization: string | undefined): McpPrincipal | undefined | Promise<McpPrincipal | undefined>;
}

/** What a 401 or 403 tells an OAuth client (src/server/oauth/resource.ts); absent: a plain Bearer challenge. */
export interface McpChallenger {
  challenge(opts: {
    error?: 'invalid_token' | 'insufficient_scope';
    description?: string;
    scope?: readonly string[];
  }): string | undefined;
}

export interface McpRouteDeps {
  /** what every session's facade uses, and the config source whose changes refresh their tool lists */
  services: FacadeServices & Pick<ServerServices, 'source'>;
  auth: McpAuthenticator;
  /** with OAuth: challenges that point clients at the protected resource metadata */
  challenger?: McpChallenger;
  /** the URL people reach `interlock serve` at; approval links point there */
  publicUrl: string;
  allowedHosts?: string[];
  allowedOrigins?: string[];
  /** an MCP session idle this long (no request, no call in flight) ends; default 1 h */
  idleMs?: number;
  /** open MCP sessions at most; more get 503 until some end; default 1000 */
  maxSessions?: number;
  /**
   * open MCP sessions one principal (token or OAuth subject) may hold; more get 429 until some
   * end. Default 100, well under maxSessions, so no one token can lock the others out.
   */
  maxSessionsPerPrincipal?: number;
  /** passed to each session's facade (wait times, elicitation) */
  facade?: Partial<Pick<FacadeDeps, 'canElicit' | 'waitMs' | 'progressWaitMs' | 'elicitTimeoutMs'>>;
  /** signs the requestState of 2026-07-28 calls; none: /mcp serves the 2025 revisions only */
  states?: RequestStates;
}

export interface McpRouteHandle {
  handle(c: Context): Promise<Response>;
  /** Sessions whose tool list changed hear tools/list_changed; runs by itself after every config change. */
  reload(): Promise<void>;
  /** MCP sessions currently open */
  readonly sessions: number;
  close(): Promise<void>;
}

interface Entry {
  transport: WebStandardStreamableHTTPServerTransport;
  facade: Facade;
  /** the token name that opened the session; another token cannot use its id */
  principal: string;
  lastSeen: number;
}

export const DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 100;

/** Scopes that may open a session at all: listing and reading need `read`, running needs `trigger`. */
const CONNECT_SCOPES = ['read', 'trigger', 'admin'];

function rpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * `/mcp`: the facade over streamable HTTP. One transport and one facade per MCP session
 * (Mcp-Session-Id); the run session of everything started in it is `mcp-<session id>`, so
 * "remember for this conversation" ends exactly when the client DELETEs the session, when it
 * idles out, or when the server stops.
 */
export function createMcpRoute(deps: McpRouteDeps): McpRouteHandle {
  const sessions = new Map<string, Entry>();
  const guard = createHostGuard({
    publicUrl: deps.publicUrl,
    ...(deps.allowedHosts ? { allowedHosts: deps.allowedHosts } : {}),
    ...(deps.allowedOrigins ? { allowedOrigins: deps.allowedOrigins } : {}),
  });
  const idleMs = deps.idleMs ?? 3_600_000;
  const maxSessions = deps.maxSessions ?? 1000;
  const maxPerPrincipal = deps.maxSessionsPerPrincipal ?? DEFAULT_MAX_SESSIONS_PER_PRINCIPAL;
  // Opens in flight count too, so a burst of initializes cannot slip past the cap.
  const opening = new Map<string, number>();
  const held = (principal: string): number => {
    let n = opening.get(principal) ?? 0;
    for (const e of sessions.values()) if (e.principal === principal) n++;
    return n;
  };
  const log = deps.services.logger.child({ component: 'mcp-http' });
  // 2026-07-28 requests carry their protocol version in each request and open no session.
  const modern = deps.states
    ? createModernHandler({
        services: deps.services,
        states: deps.states,
        links: { publicUrl: deps.publicUrl },
        maxSubscriptions: maxSessions,
        ...(deps.facade?.waitMs !== undefined ? { waitMs: deps.facade.waitMs } : {}),
      })
    : undefined;
  // One token may hold no more listen streams than sessions, for the same reason.
  const modernRequest = modern
    ? listenCapped(modern, maxPerPrincipal, (message) => rpcError(429, -32000, message, { 'retry-after': '30' }))
    : undefined;

  const end = async (sid: string): Promise<void> => {
    const e = sessions.get(sid);
    if (!e) return;
    sessions.delete(sid);
    await e.facade.end();
    await e.transport
      .close()
      .catch((err: unknown) => log.debug({ session: sid, err: errorMessage(err) }, 'MCP transport did not close cleanly'));
  };

  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [sid, e] of sessions) if (e.lastSeen < cutoff && !e.facade.busy) void end(sid);
    },
    Math.min(60_000, idleMs),
  );
  sweep.unref();

  async function open(
    body: unknown,
    authInfo: { token: string; clientId: string; scopes: string[] },
    req: Request,
  ): Promise<Response> {
    const mine = held(authInfo.clientId);
    if (mine >= maxPerPrincipal) {
      return rpcError(
        429,
        -32000,
        `Token '${authInfo.clientId}' already holds ${mine} open MCP sessions, the most one token may; end some (DELETE /mcp with their Mcp-Session-Id) or let them idle out, then try again`,
        { 'retry-after': '30' },
      );
    }
    if (sessions.size >= maxSessions) return rpcError(503, -32000, 'Too many open MCP sessions; try again later');
    opening.set(authInfo.clientId, (opening.get(authInfo.clientId) ?? 0) + 1);
    try {
      return await openSession(body, authInfo, req);
    } finally {
      const left = (opening.get(authInfo.clientId) ?? 1) - 1;
      if (left > 0) opening.set(authInfo.clientId, left);
      else opening.delete(authInfo.clientId);
    }
  }

  async function openSession(
    body: unknown,
    authInfo: { token: string; clientId: string; scopes: string[] },
    req: Request,
  ): Promise<Response> {
    const sid = randomUUID();
    const facade = new Facade({
      services: deps.services,
      session: `mcp-${sid}`,
      publicUrl: deps.publicUrl,
      ...deps.facade,
    });
    const entry: Entry = {
      transport: new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => sid,
        onsessioninitialized: () => {
          sessions.set(sid, entry);
        },
        // DELETE from the client: the conversation is over, and so are its grants.
        onsessionclosed: () => end(sid),
      }),
      facade,
      principal: authInfo.clientId,
      lastSeen: Date.now(),
    };
    await facade.server.connect(entry.transport);
    const res = await entry.transport.handleRequest(req, { parsedBody: body, authInfo });
    if (!sessions.has(sid)) await facade.end();
    return res;
  }

  async function handle(c: Context): Promise<Response> {
    const verdict = guard(c.req.header('host'), c.req.header('origin'));
    if (!verdict.ok) return rpcError(403, -32000, verdict.message);

    const header = c.req.header('authorization');
    let principal: McpPrincipal | undefined;
    try {
      principal = await deps.auth.authenticate(header);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'authenticator failed');
    }
    if (!principal) {
      const challenge =
        deps.challenger?.challenge(header ? { error: 'invalid_token' } : {}) ??
        (header ? 'Bearer realm="interlock", error="invalid_token"' : 'Bearer realm="interlock"');
      return rpcError(
        401,
        -32000,
        'Authentication required: send Authorization: Bearer <token> with a token that has the read (and, to run workflows, trigger) scope',
        { 'www-authenticate': challenge },
      );
    }
    if (!principal.scopes.some((s) => CONNECT_SCOPES.includes(s))) {
      const challenge = deps.challenger?.challenge({ error: 'insufficient_scope', scope: ['read', 'trigger'] });
      return rpcError(
        403,
        -32000,
        `Token '${principal.name}' has neither the read nor the trigger scope`,
        challenge ? { 'www-authenticate': challenge } : {},
      );
    }
    // The token value never goes further than here: handlers see the token's name and scopes only.
    const authInfo = { token: '', clientId: principal.name, scopes: [...principal.scopes] };

    const sid = c.req.header('mcp-session-id');
    if (sid !== undefined) {
      const e = sessions.get(sid);
      // Another token using a session id is answered as if the session did not exist: ids are not to be probed.
      if (!e || e.principal !== principal.name) {
        return rpcError(
          404,
          -32001,
          'Session not found: it ended or never existed. Start a new session with initialize (without Mcp-Session-Id).',
        );
      }
      e.lastSeen = Date.now();
      if (c.req.method !== 'POST') return e.transport.handleRequest(c.req.raw, { authInfo });
      // Parsed here so the depth limit holds for tool arguments too, not just for initialize.
      let parsedBody: unknown;
      try {
        parsedBody = parseJsonText(await c.req.raw.text());
      } catch (err) {
        return rpcError(400, -32700, `Parse error: ${errorMessage(err)}`);
      }
      return e.transport.handleRequest(c.req.raw, { authInfo, parsedBody });
    }

    if (c.req.method !== 'POST') return rpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    let body: unknown;
    try {
      body = parseJsonText(await c.req.raw.text());
    } catch (err) {
      return rpcError(400, -32700, `Parse error: ${errorMessage(err)}`);
    }
    if (modernRequest && !(await isLegacyRequest(c.req.raw, body))) return modernRequest(c.req.raw, body, authInfo);
    const init = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (!init)
      return rpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required (send initialize first to open a session)');
    return open(body, authInfo, c.req.raw);
  }

  async function reload(): Promise<void> {
    await Promise.all([...sessions.values()].map((e) => e.facade.refreshTools()));
    // 2026-07-28 clients hear it on their subscriptions/listen streams, if they opened one.
    modern?.notify.toolsChanged();
  }
  const unsubscribe = deps.services.source.subscribe(() => reload());

  return {
    handle,
    get sessions() {
      return sessions.size;
    },
    reload,
    async close() {
      unsubscribe();
      clearInterval(sweep);
      await modern?.close();
      await Promise.all([...sessions.keys()].map((sid) => end(sid)));
    },
  };
}
