import { Hono } from 'hono';
import { formatDiff } from '../../runs/tool-pins.ts';
import { own } from '../../lookup.ts';
import { requireScope } from '../auth.ts';
import { type ServerEnv, readJsonObject, requiredString } from '../request.ts';
import type { ServerServices } from '../services.ts';

/**
 * Review and re-approval of tools whose definition changed since it was pinned:
 *   GET  /connectors/{id}/tools/{tool}/pin       the pin, the pending change and the diff (read)
 *   POST /connectors/{id}/tools/{tool}/approve   {hash} accepts the change reviewed (admin)
 */
export function pinRoutes(svc: Pick<ServerServices, 'catalog' | 'config'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.get('/connectors/:id/tools/:tool/pin', async (c) => {
    requireScope(c.get('principal'), 'read');
    const id = c.req.param('id');
    if (!own(svc.config().connectors, id))
      return c.json({ error: { code: 'CONNECTOR_NOT_FOUND', message: `No connector named "${id}"` } }, 404);
    const review = await svc.catalog.pins.review(id, c.req.param('tool'));
    return c.json({ ...review, changed: !!review.pending, diff: formatDiff(review.changes) });
  });
  r.post('/connectors/:id/tools/:tool/approve', async (c) => {
    const p = requireScope(c.get('principal'), 'admin');
    const body = await readJsonObject(c, ['hash']);
    const hash = requiredString(body, 'hash', { max: 64 });
    return c.json(await svc.catalog.approveTool(c.req.param('id'), c.req.param('tool'), hash, p.name));
  });
  return r;
}
