import { Hono } from 'hono';
import { requireScope } from '../auth.ts';
import { type ServerEnv, readJsonObject } from '../request.ts';
import type { ServerServices } from '../services.ts';

/**
 * GET  /doctor          runs stuck by any rule the doctor knows, each with why (admin)
 * POST /doctor/repair   the same, repairing what can be repaired safely (admin)
 * What `interlock doctor [--repair]` does; see docs/recovery.md.
 */
export function doctorRoutes(svc: Pick<ServerServices, 'doctor'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.get('/doctor', async (c) => {
    requireScope(c.get('principal'), 'admin');
    return c.json(await svc.doctor({}));
  });
  r.post('/doctor/repair', async (c) => {
    requireScope(c.get('principal'), 'admin');
    await readJsonObject(c, []);
    return c.json(await svc.doctor({ repair: true }));
  });
  return r;
}
