import { Hono } from 'hono';
import { requireScope } from '../auth.ts';
import { type Ctx, type ServerEnv, readJsonObject, requiredString } from '../request.ts';
import type { ServerServices } from '../services.ts';

function channelOf(c: Ctx): 'ui' | 'api' {
  return c.get('authVia') === 'cookie' ? 'ui' : 'api';
}

/**
 * A run's plan: every write it will reach with what is known now (read scope), and approving it
 * once (confirm scope), bound to the planHash shown: 409 when the plan changed since.
 */
export function planRoutes(svc: Pick<ServerServices, 'plans'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();

  r.get('/runs/:id/plan', async (c) => {
    requireScope(c.get('principal'), 'read');
    return c.json(await svc.plans.current(c.req.param('id')));
  });

  r.post('/runs/:id/plan/approve', async (c) => {
    const p = requireScope(c.get('principal'), 'confirm');
    const body = await readJsonObject(c, ['planHash']);
    const planHash = requiredString(body, 'planHash', { max: 200 });
    const r = await svc.plans.approve(c.req.param('id'), planHash, { by: p.name, channel: channelOf(c) });
    return c.json({ planHash: r.plan.planHash, ...(r.confirmation ? { confirmation: r.confirmation } : {}) });
  });

  return r;
}
