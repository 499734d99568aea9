import { Hono } from 'hono';
import type { ConfigSource } from '../../config/source.ts';
import { requireScope } from '../auth.ts';
import { type ServerEnv, readJsonObject } from '../request.ts';

/**
 * POST /reload   read the config file again (admin): answers what changed, or CONFIG_INVALID with
 * every problem at file:line:col, in which case nothing changed. What SIGHUP does.
 */
export function reloadRoutes(source: ConfigSource): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.post('/reload', async (c) => {
    requireScope(c.get('principal'), 'admin');
    await readJsonObject(c, []);
    const changes = await source.reload();
    return c.json({ file: source.current.file, changes });
  });
  return r;
}
