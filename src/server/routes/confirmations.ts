import { Hono } from 'hono';
import type { ConfirmationStatus, DecisionChannel } from '../../runs/records.ts';
import { requireScope } from '../auth.ts';
import {
  type Ctx,
  type ServerEnv,
  encodeCursor,
  oneOf,
  pageParams,
  readJsonObject,
  rememberField,
  requiredString,
} from '../request.ts';
import type { ServerServices } from '../services.ts';

/** A decision made with the browser session cookie came from the pages; any other from the API. */
function channelOf(c: Ctx): DecisionChannel {
  return c.get('authVia') === 'cookie' ? 'ui' : 'api';
}

const STATUSES: readonly ConfirmationStatus[] = ['pending', 'approved', 'denied', 'expired', 'cancelled'];

/**
 * Deciding is the `confirm` scope and nothing else: a token that may trigger runs (a chat
 * client's) cannot approve its own writes. The decision records the token's name as `by`.
 */
export function confirmationRoutes(svc: Pick<ServerServices, 'commands' | 'queries'>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();

  r.get('/confirmations', async (c) => {
    requireScope(c.get('principal'), 'read');
    const page = pageParams(c);
    const status = oneOf(c, 'status', STATUSES);
    const res = await svc.queries.listConfirmations({ limit: page.limit, cursor: page.offset, ...(status ? { status } : {}) });
    return c.json({
      confirmations: res.confirmations,
      ...(res.nextCursor !== undefined ? { nextCursor: encodeCursor(res.nextCursor) } : {}),
    });
  });

  r.get('/confirmations/:id', async (c) => {
    requireScope(c.get('principal'), 'read');
    return c.json(await svc.queries.requireConfirmation(c.req.param('id')));
  });

  r.post('/confirmations/:id/approve', async (c) => {
    const p = requireScope(c.get('principal'), 'confirm');
    const body = await readJsonObject(c, ['argumentsHash', 'remember']);
    const argumentsHash = requiredString(body, 'argumentsHash', { max: 200 });
    const remember = rememberField(body);
    const conf = await svc.commands.approve(c.req.param('id'), argumentsHash, {
      by: p.name,
      channel: channelOf(c),
      ...(remember ? { remember } : {}),
    });
    return c.json(conf);
  });

  r.post('/confirmations/:id/deny', async (c) => {
    const p = requireScope(c.get('principal'), 'confirm');
    const body = await readJsonObject(c, ['remember']);
    const remember = rememberField(body);
    const conf = await svc.commands.deny(c.req.param('id'), {
      by: p.name,
      channel: channelOf(c),
      ...(remember ? { remember } : {}),
    });
    return c.json(conf);
  });

  return r;
}
