import { Hono } from 'hono';
import { InterlockError } from '../../errors.ts';
import type { WorkflowDef } from '../../workflows/types.ts';
import { requireScope } from '../auth.ts';
import { type ServerEnv, optionalString, pageParams, paginate, readJsonObject } from '../request.ts';
import type { ServerServices } from '../services.ts';

/** What a caller needs to start a workflow; source positions stay internal. */
export function workflowJson(wf: WorkflowDef): Record<string, unknown> {
  return {
    name: wf.name,
    description: wf.description,
    version: wf.version,
    expose: wf.expose,
    inputs: wf.inputs,
    steps: wf.steps.map((s) => ({
      id: s.id,
      call: `${s.connector}.${s.tool}`,
      confirm: s.confirm,
      ...(s.if ? { if: s.if } : {}),
    })),
  };
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export function workflowRoutes(svc: Pick<ServerServices, 'commands' | 'config'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();

  r.get('/workflows', (c) => {
    requireScope(c.get('principal'), 'read');
    const all = Object.values(svc.config().workflows).map(workflowJson);
    const { items, nextCursor } = paginate(all, pageParams(c));
    return c.json({ workflows: items, ...(nextCursor ? { nextCursor } : {}) });
  });

  r.post('/workflows/:name/runs', async (c) => {
    const p = requireScope(c.get('principal'), 'trigger');
    const name = c.req.param('name');
    // An unknown workflow is a 404 whatever the body says.
    svc.commands.workflow(name);
    const body = await readJsonObject(c, ['inputs', 'session']);
    const inputs = body.inputs ?? {};
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
      throw new InterlockError('INPUT_INVALID', `'inputs' must be a JSON object`, {
        issues: [{ field: 'inputs', message: 'must be an object' }],
      });
    }
    const session = optionalString(body, 'session');
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new InterlockError('BAD_REQUEST', 'Idempotency-Key must be 1–200 visible ASCII characters');
    }
    // A session this principal got back from an earlier trigger joins it; any other text is a label.
    const { run, created } = await svc.commands.trigger(name, inputs, {
      principal: p.name,
      ...(session ? { session } : {}),
      ...(key ? { idempotencyKey: key } : {}),
    });
    c.header('Location', `/api/v1/runs/${run.id}`);
    if (!created) c.header('Idempotent-Replayed', 'true');
    return c.json(run, created ? 202 : 200);
  });

  return r;
}
