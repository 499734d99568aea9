import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import type { InterlockConfig } from '../workflows/types.ts';
import { AwaitingConfirmationAdapter } from './awaiting-queue.ts';
import type { ServerServices } from './services.ts';

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
 * The queues follow the config: a reload that adds a connector shows its queue, one that removes
 * it takes the queue off the board. `close` stops following.
 */
export function dashboardRoutes(
  svc: Pick<ServerServices, 'config' | 'source' | 'queues' | 'queries' | 'triggers'>,
  opts: { uiBase: string },
): { routes: Hono; close(): void } {
  const adapter = new HonoAdapter(serveStatic).setBasePath(DASHBOARD_PATH);
  const awaiting = new AwaitingConfirmationAdapter(svc.queries, opts);
  // The schedules' tick jobs: the next tick of each schedule waits there as a delayed job, and the
  // ticks taken are kept (with what each did) for a week.
  const schedules = new BullMQAdapter(svc.triggers.schedules.queue, {
    readOnlyMode: true,
    allowRetries: false,
    description:
      'Schedule ticks (triggers: cron / every). Each tick starts at most one run, keyed by its job id; pause a schedule with interlock triggers pause.',
  });
  const queuesOf = (config: InterlockConfig) => [
    awaiting,
    ...stepQueueIds(config).map(
      (id) =>
        new BullMQAdapter(svc.queues.get(id), {
          readOnlyMode: true,
          allowRetries: false,
          description: `Step jobs for '${id}'. A step waiting for a person holds no job here: see "awaiting confirmation".`,
        }),
    ),
    schedules,
  ];
  const board = createBullBoard({
    queues: queuesOf(svc.config()),
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: 'Interlock queues',
        miscLinks: [{ text: 'Runs and confirmations', url: opts.uiBase }],
        hideDocsLink: true,
      },
    },
  });
  const close = svc.source.subscribe((next) => board.replaceQueues(queuesOf(next)));
  // The adapter's Hono instance has its own generics; only its fetch is used by the parent.
  return { routes: adapter.registerPlugin() as unknown as Hono, close };
}
