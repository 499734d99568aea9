import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import type { WorkerProcess } from '../helpers/processes.ts';
import { refundRigTest, rigYaml, seededCharges } from './refund-rig.ts';
import { CHARGE_INPUTS, refundWorkflow } from '../helpers/workflows.ts';

/*
 * The refund step runs without a confirmation here (policy allow_unconfirmed + confirm: never), so
 * the 200 runs never pause and every crash lands on a step that is really calling Stripe.
 */
const yaml = rigYaml(
  refundWorkflow('refund', 'look the charge up, then refund 100 cents of it', '', {
    inputs: CHARGE_INPUTS,
    cents: 100,
    settings: ['confirm: never', 'retry: { attempts: 5, backoff: 200ms }'],
    more: 'reason: requested_by_customer',
  }),
);

const RUNS = 200;
const charges = seededCharges(RUNS);
const TERMINAL = new Set(['succeeded', 'failed', 'denied', 'cancelled', 'needs_attention']);

// Refund requests take a while on the way in and on the way out, so a kill lands mid-write.
const it = refundRigTest({ yaml, workers: 3, maxDelayMs: 400 });

describe('faults: 200 refunds while workers are SIGKILLed and Redis restarts', () => {
  async function statuses(app: App, ids: string[]): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (const id of ids) {
      const r = await app.store.getRun(id);
      if (r) out.push(r);
    }
    return out;
  }

  async function waitUntil(
    { app, workers }: { app: App; workers: WorkerProcess[] },
    ids: string[],
    done: (runs: RunRecord[]) => boolean,
    what: string,
    timeoutMs = 240_000,
  ): Promise<RunRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Right after Redis restarts, this process's request connection answers REDIS_UNAVAILABLE until it has reconnected.
      const runs = await statuses(app, ids).catch(() => [] as RunRecord[]);
      if (done(runs)) return runs;
      if (Date.now() > deadline) {
        const by = countBy(runs.map((r) => r.status));
        throw new Error(
          `timed out waiting for ${what}: ${JSON.stringify(by)}; workers:\n${workers.map((w) => w.output).join('\n---\n')}`,
        );
      }
      await sleep(100);
    }
  }

  it('ends every run succeeded or in doubt, refunds each charge at most once, and loses no run', async ({
    app,
    redis,
    stripe: sandbox,
    workers,
  }) => {
    const fx = { app, workers };
    const ids: string[] = [];
    for (const charge of charges) ids.push((await app.engine.trigger('refund', { charge })).run.id);
    const finished = (n: number) => (runs: RunRecord[]) => runs.filter((r) => TERMINAL.has(r.status)).length >= n;

    // Crash a worker at several points of the batch and start a replacement each time.
    let workerKills = 0;
    for (const [i, at] of [10, 40, 70].entries()) {
      await waitUntil(fx, ids, finished(at), `${at} finished runs`);
      const w = workers[i % workers.length];
      await w.kill();
      workerKills++;
      await w.start();
    }

    // Redis crashes mid-batch (SIGKILL, so only what AOF with fsync always had on disk survives).
    await waitUntil(fx, ids, finished(100), '100 finished runs');
    await redis.kill();
    await sleep(500);
    await redis.start();
    const redisKills = 1;

    await waitUntil(fx, ids, finished(130), '130 finished runs');
    await workers[0].kill();
    workerKills++;
    await workers[0].start();

    const runs = await waitUntil(fx, ids, finished(RUNS), 'every run to finish');
    const byStatus = countBy(runs.map((r) => r.status));
    const inDoubt = runs.filter((r) => r.status === 'needs_attention');
    const state = sandbox.state();
    const refunds = Object.values(state.refunds).filter((r) => charges.includes(String(r.charge)));
    const perCharge = countBy(refunds.map((r) => String(r.charge)));
    const duplicates = Object.values(perCharge).filter((n) => n > 1).length;
    const succeeded = byStatus.succeeded ?? 0;
    // A step with more than one attempt was picked up again after a crash (or retried after an error).
    const resent = runs.filter((r) => (r.steps.refund?.attempts ?? 0) > 1).length;

    console.log(
      [
        'test:faults — refunds under crashes',
        `  runs triggered:            ${RUNS}`,
        `  runs found after restarts: ${runs.length}`,
        `  worker SIGKILLs:           ${workerKills}`,
        `  redis SIGKILLs:            ${redisKills}`,
        `  runs by status:            ${JSON.stringify(byStatus)}`,
        `  refund steps sent again:   ${resent} (same idempotency key)`,
        `  refunds in the sandbox:    ${refunds.length}`,
        `  charges refunded twice:    ${duplicates}`,
      ].join('\n'),
    );

    expect(runs.length).toBe(RUNS);
    expect(succeeded + inDoubt.length).toBe(RUNS);
    for (const r of inDoubt) expect(Object.values(r.steps).some((s) => s.status === 'in_doubt')).toBe(true);
    for (const r of runs.filter((x) => x.status === 'succeeded')) {
      expect(perCharge[r.inputs.charge as string]).toBe(1);
    }
    expect(refunds.length).toBe(succeeded);
    // Otherwise no kill landed mid-write and the test proved less than it claims.
    expect(resent, 'refund steps picked up again after a crash').toBeGreaterThan(0);
    expect(duplicates).toBe(0);
  }, 600_000);
});

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
