import { Hono } from 'hono';
import type { App } from '../../app.ts';
import { diagnose } from '../../worker/doctor.ts';
import { READY_GRACE_MS, reconcileEveryMs } from '../../worker/reconciler.ts';
import { requireScope } from '../auth.ts';
import { type ServerEnv, readJsonObject } from '../request.ts';

/**
 * GET  /doctor          runs stuck by any rule the doctor knows, each with why (admin)
 * POST /doctor/repair   the same, repairing what can be repaired safely (admin)
 * What `interlock doctor [--repair]` does; see docs/recovery.md.
 */
export function doctorRoutes(app: App): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  const boundMs = () => app.workers?.reconciler.boundMs ?? reconcileEveryMs() + READY_GRACE_MS;
  r.get('/doctor', async (c) => {
    requireScope(c.get('principal'), 'admin');
    return c.json(await diagnose(app.store, app.queues, { boundMs: boundMs() }));
  });
  r.post('/doctor/repair', async (c) => {
    requireScope(c.get('principal'), 'admin');
    await readJsonObject(c, []);
    return c.json(await diagnose(app.store, app.queues, { repair: true, boundMs: boundMs() }));
  });
  return r;
}
