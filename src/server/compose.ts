import type { App } from '../app.ts';
import type { AccountSummary } from '../connectors/oauth/credentials.ts';
import type { CallbackDeps } from './routes/oauth.ts';
import { approvePlan, currentPlan } from '../engine/plans.ts';
import { diagnose } from '../worker/doctor.ts';
import { READY_GRACE_MS, reconcileEveryMs } from '../worker/reconciler.ts';
import type { ServerServices } from './services.ts';

/**
 * The slices of one App that the server hands its routes, pages and facade. Built once per
 * App: every slice reads the App's current state (config, workers) when called.
 */
export function servicesOf(app: App): ServerServices {
  const getTool = (connector: string, tool: string) => app.pool.getTool(connector, tool);
  return {
    config: () => app.config,
    source: app.source,
    commands: app.engine,
    queries: app.store,
    decideLinks: app.store.decideLinks,
    audit: app.store.audit,
    grants: app.store.grants,
    oauth: {
      accounts: async () => {
        const out = new Map<string, AccountSummary>();
        for (const c of Object.values(app.config.connectors)) {
          const account = await app.oauth.for(c)?.store.account();
          if (account) out.set(c.id, account);
        }
        return out;
      },
      login: async (k, by) => {
        const oauth = app.oauth.for(k);
        if (!oauth) return undefined;
        const start = await oauth.beginLogin();
        if (start.kind === 'connected') {
          await app.engine.resumeAfterLogin(k.id, by);
          return { kind: 'connected', account: await oauth.store.account() };
        }
        return { kind: 'started', url: start.url, expiresAt: start.expiresAt, callback: app.oauth.redirectUrl };
      },
      callback: oauthCallbackOf(app),
    },
    plans: {
      current: (runId) => currentPlan(app.engine, getTool, runId),
      approve: (runId, planHash, opts) => approvePlan(app.engine, getTool, runId, planHash, opts),
    },
    catalog: {
      pool: app.pool,
      toggles: app.store,
      pins: app.store.pins,
      approveTool: app.engine.approveTool.bind(app.engine),
    },
    sessions: app.store,
    events: {
      client: app.redis.client,
      duplicate: () => app.redis.duplicate(),
      streamKey: (runId) => app.store.keys.events(runId),
    },
    queues: app.queues,
    health: { redis: app.redis.client, workersRunning: () => app.workers !== undefined },
    doctor: ({ repair }) =>
      diagnose(app.store, app.queues, {
        ...(repair ? { repair } : {}),
        boundMs: app.workers?.reconciler.boundMs ?? reconcileEveryMs() + READY_GRACE_MS,
      }),
    triggers: app.triggers,
    logger: app.logger,
  };
}

/** What GET /oauth/callback and `interlock connectors login` complete a login with. */
export function oauthCallbackOf(app: App): CallbackDeps {
  return {
    takeLogin: (state) => app.store.oauth.takeLogin(state),
    completeLogin: (state, code) => app.oauth.completeLogin(app.config.connectors, state, code),
  };
}
