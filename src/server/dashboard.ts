import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import type { App } from '../app.ts';
import type { InterlockConfig } from '../workflows/types.ts';
import { AwaitingConfirmationAdapter } from './awaiting-queue.ts';

export const DASHBOARD_PATH = '/admin/queues';

/** Every step queue the config can fill: one per connector, plus any a step names itself (llm). */
export function stepQueueIds(config: InterlockConfig): string[] {
  const ids = new Set(Object.keys(config.connectors));
  for (const wf of Object.values(config.workflows)) for (const s of wf.steps) ids.add(s.connector);
  return [...ids].sort();
}

/**
 * bull-board over every connector queue, plus the read-only "awaiting confirmation" view
 * (see awaiting-queue.ts) so a step paused at a write shows up as a waiting job instead of
 * as nothing. The connector queues are read-only here as well: retrying a step job by hand
 * could resend a write, and the engine alone decides that (write intents, in_doubt).
 * Authentication (admin scope, cookie or bearer) is applied by the caller in front of this.
 */
export function dashboardRoutes(app: App, opts: { uiBase: string }): Hono {
  const adapter = new HonoAdapter(serveStatic).setBasePath(DASHBOARD_PATH);
  const queues = stepQueueIds(app.config).map(
    (id) =>
      new BullMQAdapter(app.queues.get(id), {
        readOnlyMode: true,
        allowRetries: false,
        description: `Step jobs for '${id}'. A step waiting for a person holds no job here: see "awaiting confirmation".`,
      }),
  );
  // The schedules' tick jobs: the next tick of each schedule waits here as a delayed job, and the
  // ticks taken are kept (with what each did) for a week.
  const schedules = new BullMQAdapter(app.triggers.schedules.queue, {
    readOnlyMode: true,
    allowRetries: false,
    description:
      'Schedule ticks (triggers: cron / every). Each tick starts at most one run, keyed by its job id; pause a schedule with interlock triggers pause.',
  });
  createBullBoard({
    queues: [new AwaitingConfirmationAdapter(app.store, opts), ...queues, schedules],
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: 'Interlock queues',
        miscLinks: [{ text: 'Runs and confirmations', url: opts.uiBase }],
        hideDocsLink: true,
      },
    },
  });
  // The adapter's Hono instance has its own generics; only its fetch is used by the parent.
  return adapter.registerPlugin() as unknown as Hono;
}
