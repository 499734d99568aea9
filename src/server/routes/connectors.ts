import { Hono } from 'hono';
import type { CatalogEntry } from '../../connectors/catalog.ts';
import type { AccountSummary } from '../../connectors/oauth/credentials.ts';
import type { ConnectorStatus } from '../../connectors/types.ts';
import { InterlockError } from '../../errors.ts';
import { own } from '../../lookup.ts';
import type { ConnectorConfig } from '../../workflows/types.ts';
import { requireScope } from '../auth.ts';
import { type ServerEnv, pageParams, paginate, readJsonObject } from '../request.ts';
import type { ServerServices } from '../services.ts';

/**
 * Where a connector points, without anything that could carry a secret: URLs lose their
 * userinfo and query, stdio connectors show the command only (arguments and env may hold keys).
 */
export function connectorJson(
  c: ConnectorConfig,
  status: ConnectorStatus | undefined,
  account?: AccountSummary,
): Record<string, unknown> {
  const t = c.transport;
  const target = t.type === 'stdio' ? { command: t.command } : { url: safeUrl(t.url) };
  return {
    id: c.id,
    transport: t.type,
    ...target,
    auth: c.auth.type,
    tools: c.tools,
    timeoutMs: c.timeoutMs,
    concurrency: c.concurrency,
    // undefined tool / by are left out of the JSON
    ...(c.rateLimits
      ? { rateLimits: c.rateLimits.map((r) => ({ max: r.max, durationMs: r.durationMs, tool: r.tool, by: r.by })) }
      : {}),
    state: status?.state ?? 'idle',
    ...(status?.lastError ? { lastError: status.lastError } : {}),
    ...(status?.toolCount !== undefined ? { toolCount: status.toolCount } : {}),
    ...(c.auth.type === 'oauth'
      ? { oauth: { grant: c.auth.grant, ...(account ?? { status: 'login_required', reason: 'nobody has logged in yet' }) } }
      : {}),
  };
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export function connectorRoutes(svc: Pick<ServerServices, 'catalog' | 'config' | 'oauth'>): Hono<ServerEnv> {
  const { pool, toggles, pins } = svc.catalog;
  const r = new Hono<ServerEnv>();
  const config = (id: string): ConnectorConfig => {
    const c = own(svc.config().connectors, id);
    if (!c) throw new InterlockError('CONNECTOR_NOT_FOUND', `No connector named '${id}'`, { connector: id });
    return c;
  };
  const toolsJson = async (id: string, entries: CatalogEntry[]) => {
    const off = await toggles.disabledTools();
    const changed = new Set(await pins.changedKeys());
    return entries.map((e) => {
      const pinChanged = changed.has(`${id}.${e.tool.name}`);
      const toggledOff = off.has(`${id}.${e.tool.name}`) || pinChanged;
      const reason =
        e.disabledReason ??
        (pinChanged
          ? 'changed since it was pinned: review GET /api/v1/connectors/{id}/tools/{tool}/pin, then POST .../approve'
          : toggledOff
            ? 'turned off with PATCH /api/v1/connectors/{id}/tools/{tool}'
            : undefined);
      return {
        ...e.tool,
        enabled: e.enabled && !toggledOff,
        ...(reason && !(e.enabled && !toggledOff) ? { disabledReason: reason } : {}),
      };
    });
  };

  r.get('/connectors', async (c) => {
    requireScope(c.get('principal'), 'read');
    const status = new Map(pool.status().map((s) => [s.id, s]));
    const accounts = await svc.oauth.accounts();
    const all = Object.values(svc.config().connectors).map((k) => connectorJson(k, status.get(k.id), accounts.get(k.id)));
    const { items, nextCursor } = paginate(all, pageParams(c));
    return c.json({ connectors: items, ...(nextCursor ? { nextCursor } : {}) });
  });

  r.get('/connectors/:id/tools', async (c) => {
    requireScope(c.get('principal'), 'read');
    const id = config(c.req.param('id')).id;
    const page = pageParams(c);
    const tools = await toolsJson(id, await pool.listAllTools(id));
    const { items, nextCursor } = paginate(tools, page);
    return c.json({ tools: items, ...(nextCursor ? { nextCursor } : {}) });
  });

  // Starts a login: the answer's authorizationUrl is for a person's browser, which the
  // authorization server sends back to GET /oauth/callback. A client-credentials connector
  // gets its token at once.
  r.post('/connectors/:id/login', async (c) => {
    requireScope(c.get('principal'), 'admin');
    const k = config(c.req.param('id'));
    await readJsonObject(c, []);
    const start = await svc.oauth.login(k, c.get('principal')?.name ?? 'login');
    if (!start)
      throw new InterlockError('BAD_REQUEST', `Connector '${k.id}' does not use OAuth (auth: ${k.auth.type})`, {
        connector: k.id,
      });
    if (start.kind === 'connected') return c.json({ connector: k.id, oauth: start.account });
    return c.json({ connector: k.id, authorizationUrl: start.url, expiresAt: start.expiresAt, callback: start.callback });
  });

  r.post('/connectors/:id/refresh', async (c) => {
    requireScope(c.get('principal'), 'admin');
    const id = config(c.req.param('id')).id;
    await readJsonObject(c, []);
    await pool.refresh(id);
    const tools = await toolsJson(id, await pool.listAllTools(id));
    return c.json({ connector: id, tools });
  });

  r.patch('/connectors/:id/tools/:tool', async (c) => {
    requireScope(c.get('principal'), 'admin');
    const id = config(c.req.param('id')).id;
    const tool = c.req.param('tool');
    const body = await readJsonObject(c, ['enabled']);
    if (typeof body.enabled !== 'boolean')
      throw new InterlockError('BAD_REQUEST', `'enabled' (true or false) is required`, { field: 'enabled' });
    // Turning a tool off must work while its server is down, so only a reachable server that
    // does not list the tool makes this a 404.
    const listed = await pool.listAllTools(id).catch((err: unknown) => {
      if (err instanceof InterlockError && err.code === 'CONNECTOR_UNAVAILABLE') return undefined;
      throw err;
    });
    if (listed && !listed.some((e) => e.tool.name === tool)) {
      throw new InterlockError('TOOL_NOT_FOUND', `Connector '${id}' lists no tool named '${tool}'`, { connector: id, tool });
    }
    await toggles.setToolEnabled(id, tool, body.enabled);
    return c.json({ connector: id, tool, enabled: body.enabled });
  });

  return r;
}
