import { Hono } from 'hono';
import { InterlockError } from '../../errors.ts';
import { requireScope } from '../auth.ts';
import type { TriggerControl } from '../services.ts';
import { MAX_JSON_DEPTH, type ServerEnv, jsonDepth, readJsonObject } from '../request.ts';

/**
 * GET  /triggers               schedules and webhooks, paused or not, next tick, last outcome (read)
 * POST /triggers/{id}/pause    a paused schedule holds no timer; a paused webhook answers 503 (admin)
 * POST /triggers/{id}/resume   (admin)
 */
export function triggerRoutes(triggers: Pick<TriggerControl, 'list' | 'pause' | 'resume'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.get('/triggers', async (c) => {
    requireScope(c.get('principal'), 'read');
    return c.json({ triggers: await triggers.list() });
  });
  r.post('/triggers/:id/pause', async (c) => {
    const p = requireScope(c.get('principal'), 'admin');
    await readJsonObject(c, []);
    return c.json(await triggers.pause(c.req.param('id'), p.name));
  });
  r.post('/triggers/:id/resume', async (c) => {
    requireScope(c.get('principal'), 'admin');
    await readJsonObject(c, []);
    return c.json(await triggers.resume(c.req.param('id')));
  });
  return r;
}

/**
 * POST /hooks/{hook}: a webhook. No token: the signature is the sender's proof, checked on the raw
 * body before anything is parsed. 202 with the runs it started (or had started: a retry of the
 * same event names the same runs), 200 when the event concerns none of the hook's triggers (so the
 * sender stops retrying), 400 SIGNATURE_INVALID with nothing started, 503 while a trigger is paused.
 */
export function hookRoutes(triggers: Pick<TriggerControl, 'deliver'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.post('/:hook', async (c) => {
    const body = await c.req.text();
    if (jsonDepth(body) > MAX_JSON_DEPTH)
      throw new InterlockError('BAD_REQUEST', `The webhook body nests deeper than ${MAX_JSON_DEPTH} levels`);
    const result = await triggers.deliver(c.req.param('hook'), body, (name) => c.req.header(name));
    return c.json(result, result.runs.length ? 202 : 200);
  });
  return r;
}
