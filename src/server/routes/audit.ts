import { Hono } from 'hono';
import { InterlockError } from '../../errors.ts';
import { parseSince } from '../../runs/audit.ts';
import { hasScope, requireScope } from '../auth.ts';
import type { ServerEnv } from '../request.ts';
import type { ServerServices } from '../services.ts';

/**
 * The audit as JSON lines, oldest first: for the `admin` scope or the `audit` scope, which reads
 * the audit and nothing else (an auditor need not see or decide runs).
 */
export function auditRoutes(svc: Pick<ServerServices, 'audit'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.get('/audit', async (c) => {
    const p = c.get('principal');
    if (!hasScope(p, 'admin')) requireScope(p, 'audit');
    const limitText = c.req.query('limit');
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 10_000))
      throw new InterlockError('BAD_REQUEST', 'limit must be a whole number from 1 to 10000');
    const since = parseSince(c.req.query('since'));
    const run = c.req.query('run');
    const res = await svc.audit.list({
      ...(since !== undefined ? { since } : {}),
      ...(run ? { run } : {}),
      ...(limit ? { limit } : {}),
    });
    const body = res.entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    if (res.nextSince) c.header('X-Next-Since', res.nextSince);
    return c.body(body, 200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
  });
  return r;
}
