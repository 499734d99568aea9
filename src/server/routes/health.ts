import { Hono, type MiddlewareHandler } from 'hono';
import type { RedisClient } from '../../runs/redis.ts';
import { requireScope } from '../auth.ts';
import type { Metrics } from '../metrics.ts';
import type { Ctx, ServerEnv } from '../request.ts';
import type { ServerServices } from '../services.ts';

/** PING with a deadline: the shared client queues commands while Redis is away, forever. */
async function redisReachable(client: RedisClient, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
  if (client.status !== 'ready') return { ok: false, error: `connection is ${client.status}` };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ ok: boolean; error: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `no answer to PING within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([client.ping().then(() => ({ ok: true })), timeout]);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Probes and metrics. They answer without a token to callers on this machine (probes and a local
 * Prometheus agent rarely carry one); from anywhere else they need the `read` scope, because
 * connector states and run counts say something about the business.
 */
export function healthRoutes(
  svc: Pick<ServerServices, 'health' | 'catalog'>,
  metrics: Metrics,
  peerIsLoopback: (c: Ctx) => boolean,
): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  // Per route, not r.use('*'): a sub-app's wildcard middleware would cover the whole server once mounted at '/'.
  const guard: MiddlewareHandler<ServerEnv> = async (c, next) => {
    if (!peerIsLoopback(c)) requireScope(c.get('principal'), 'read');
    await next();
  };

  r.get('/healthz', guard, (c) => c.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));

  r.get('/readyz', guard, async (c) => {
    const redis = await redisReachable(svc.health.redis, 1000);
    const connectors = svc.catalog.pool
      .status()
      .map((s) => ({ id: s.id, state: s.state, ...(s.lastError ? { lastError: s.lastError } : {}) }));
    const body = {
      status: redis.ok ? 'ready' : 'unavailable',
      redis,
      workers: svc.health.workersRunning() ? 'running' : 'not started in this process',
      connectors,
    };
    return c.json(body, redis.ok ? 200 : 503);
  });

  r.get('/metrics', guard, async (c) => {
    const text = await metrics.scrape();
    return c.body(text, 200, { 'content-type': metrics.contentType });
  });

  return r;
}
