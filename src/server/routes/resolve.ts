import { Hono } from 'hono';
import { InterlockError } from '../../errors.ts';
import type { StepResolution } from '../../runs/store.ts';
import { type Principal, hasScope, requireScope } from '../auth.ts';
import { type ServerEnv, optionalString, readJsonObject } from '../request.ts';
import type { ServerServices } from '../services.ts';

const ACTIONS = ['retry', 'done', 'fail'] as const;

/** Deciding what happened to a write is a confirmation-grade decision: `confirm` or `admin`. */
function requireResolver(p: Principal | undefined): Principal {
  if (hasScope(p, 'admin')) return p as Principal;
  return requireScope(p, 'confirm');
}

/**
 * POST /runs/{id}/steps/{stepId}/resolve  {action: retry | done | fail, output?, reason?}
 * `output` is required with `done` (what the write answered, as the operator found it) and
 * refused otherwise, so a mistyped action cannot carry an output into a retry.
 */
export function resolveRoutes(svc: Pick<ServerServices, 'commands'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.post('/runs/:id/steps/:stepId/resolve', async (c) => {
    const p = requireResolver(c.get('principal'));
    const body = await readJsonObject(c, ['action', 'output', 'reason']);
    const action = body.action;
    if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
      throw new InterlockError('BAD_REQUEST', `'action' must be one of ${ACTIONS.join(', ')}`, { field: 'action' });
    }
    const reason = optionalString(body, 'reason', { max: 2000 });
    const extra = { by: p.name, ...(reason ? { reason } : {}) };
    let resolution: StepResolution;
    if (action === 'done') {
      if (!('output' in body))
        throw new InterlockError(
          'BAD_REQUEST',
          `'output' is required with action 'done': the step's output as the tool would have answered`,
          { field: 'output' },
        );
      resolution = { action, output: body.output, ...extra };
    } else {
      if ('output' in body) throw new InterlockError('BAD_REQUEST', `'output' goes only with action 'done'`, { field: 'output' });
      resolution = { action: action as 'retry' | 'fail', ...extra };
    }
    return c.json(await svc.commands.resolve(c.req.param('id'), c.req.param('stepId'), resolution));
  });
  return r;
}
