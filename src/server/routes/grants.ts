import { Hono } from 'hono';
import { describeGrant, isActive } from '../../grants/grant.ts';
import type { ScopedGrant } from '../../grants/grant.ts';
import { hasScope, requireScope } from '../auth.ts';
import type { ServerEnv } from '../request.ts';
import type { ServerServices } from '../services.ts';

/** A grant as the API shows it: the record, whether it can still be used, and what it covers in words. */
export function grantView(g: ScopedGrant, now = Date.now()): ScopedGrant & { active: boolean; words: string } {
  return { ...g, active: isActive(g, now), words: describeGrant(g, now) };
}

/**
 * Remembered decisions: listing needs `read`; revoking needs `confirm` or `admin` (it only ever
 * narrows what goes through without a person, so anyone who may approve may take one back).
 */
export function grantRoutes(svc: Pick<ServerServices, 'grants' | 'commands'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();

  r.get('/grants', async (c) => {
    requireScope(c.get('principal'), 'read');
    const session = c.req.query('session');
    const all = c.req.query('all') === 'true';
    const grants = await svc.grants.list({ all, ...(session ? { session } : {}) });
    const now = Date.now();
    return c.json({ grants: grants.map((g) => grantView(g, now)) });
  });

  r.get('/grants/:id', async (c) => {
    requireScope(c.get('principal'), 'read');
    const g = await svc.grants.require(c.req.param('id'));
    return c.json({ ...grantView(g), usedBy: await svc.grants.uses(g) });
  });

  r.delete('/grants/:id', async (c) => {
    const p = c.get('principal');
    if (!hasScope(p, 'admin')) requireScope(p, 'confirm');
    const g = await svc.commands.revokeGrant(c.req.param('id'), p?.name ?? 'unknown');
    return c.json(grantView(g));
  });

  return r;
}
