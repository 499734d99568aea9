import { Hono } from 'hono';
import type { RunStatus } from '../../runs/records.ts';
import { requireScope } from '../auth.ts';
import { type ServerEnv, encodeCursor, oneOf, pageParams, readJsonObject } from '../request.ts';
import type { ServerServices } from '../services.ts';
import type { RunEventStreams } from '../sse.ts';

export const RUN_STATUSES: readonly RunStatus[] = [
  'queued',
  'running',
  'awaiting_confirmation',
  'needs_attention',
  'succeeded',
  'failed',
  'denied',
  'cancelled',
];

export function runRoutes(svc: Pick<ServerServices, 'commands' | 'queries'>, events: RunEventStreams): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();

  r.get('/runs', async (c) => {
    requireScope(c.get('principal'), 'read');
    const page = pageParams(c);
    const status = oneOf(c, 'status', RUN_STATUSES);
    const workflow = c.req.query('workflow') || undefined;
    const res = await svc.queries.listRuns({
      limit: page.limit,
      cursor: page.offset,
      ...(status ? { status } : {}),
      ...(workflow ? { workflow } : {}),
    });
    const more = res.nextCursor !== undefined && res.runs.length === page.limit;
    return c.json({ runs: res.runs, ...(more ? { nextCursor: encodeCursor(res.nextCursor ?? 0) } : {}) });
  });

  r.get('/runs/:id', async (c) => {
    requireScope(c.get('principal'), 'read');
    return c.json(await svc.queries.requireRun(c.req.param('id')));
  });

  r.get('/runs/:id/events', async (c) => {
    requireScope(c.get('principal'), 'read');
    return events.handle(c, c.req.param('id'));
  });

  r.post('/runs/:id/cancel', async (c) => {
    const p = requireScope(c.get('principal'), 'trigger');
    await readJsonObject(c, []);
    return c.json(await svc.commands.cancel(c.req.param('id'), p.name));
  });

  return r;
}
