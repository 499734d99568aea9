/**
 * The rig of the refund fault suites: `interlock worker` children refunding through the Stripe
 * sandbox behind a proxy that slows refunds down, and an app (without workers of its own) that
 * triggers and watches. A SIGKILLed child has either not reached Stripe yet or reached it and lost
 * the answer: the two cases a crash mid-write can leave.
 */
import type { App } from '../../src/app.ts';
import { type WorkerProcesses, openApp, test, workerProcesses } from '../helpers/fixtures.ts';
import type { WorkerProcess } from '../helpers/processes.ts';
import { builtinConnectorYaml, configYaml } from '../helpers/workflows.ts';
import { startSlowProxy } from './slow-proxy.ts';

export type SlowProxy = Awaited<ReturnType<typeof startSlowProxy>>;

export interface RefundRigOptions {
  /** workflows.yaml text whose `stripe` connector is `interlock connector stripe` */
  yaml: string;
  /** how many worker processes */
  workers: number;
  /** the longest a refund request (and its answer) is held */
  maxDelayMs: number;
}

export function refundRigTest(opts: RefundRigOptions) {
  return test.extend<{ proxy: SlowProxy; app: App; processes: WorkerProcesses; workers: WorkerProcess[] }>({
    proxy: [
      async ({ stripe }, use) => {
        const proxy = await startSlowProxy(stripe.url, {
          match: (m, p) => m === 'POST' && p.startsWith('/v1/refunds'),
          maxDelayMs: opts.maxDelayMs,
        });
        await use(proxy);
        await proxy.close();
      },
      { scope: 'file' },
    ],
    app: [async ({ redis }, use) => openApp(redis, { yaml: opts.yaml, workers: false }, use), { scope: 'file' }],
    processes: workerProcesses,
    workers: [
      async ({ processes, proxy }, use) =>
        use(await processes.start(opts.workers, { env: { INTERLOCK_STRIPE_API_URL: proxy.url } })),
      { scope: 'file' },
    ],
  });
}

/** A rig's config: the built-in Stripe connector 8 calls wide, its refunds allowed unconfirmed, and `workflow`. */
export function rigYaml(workflow: string): string {
  return configYaml({
    connectors: builtinConnectorYaml('stripe', '30s', '\n    concurrency: 8'),
    extra: 'policy:\n  allow_unconfirmed: [stripe.create_refund]',
    workflows: [workflow],
  });
}

/** `n` charges the Stripe sandbox seeds, from ch_seed_100 on. */
export function seededCharges(n: number, from = 100): string[] {
  return Array.from({ length: n }, (_, i) => `ch_seed_${from + i}`);
}
