import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import type { WorkerProcess } from '../helpers/processes.ts';
import { refundRigTest, rigYaml, seededCharges } from './refund-rig.ts';

/*
 * One run whose foreach refunds 200 charges, 8 at a time, while the worker processes are SIGKILLed
 * mid-loop. The refunds run unconfirmed (policy allow_unconfirmed + confirm: never) so every kill
 * lands on a loop that is really calling Stripe. The sandbox is the witness: each charge refunded
 * exactly once, none missing.
 */
const yaml = rigYaml(`
  refund-all:
    description: refund 100 cents of every charge given
    inputs: { type: object, required: [charges], properties: { charges: { type: array, items: { type: string } } } }
    steps:
      - id: refunds
        foreach: \${{ inputs.charges }}
        as: charge
        concurrency: 8
        call: stripe.create_refund
        confirm: never
        retry: { attempts: 5, backoff: 200ms }
        with: { charge_id: "\${{ charge }}", amount: 100, reason: requested_by_customer }`);

const ITEMS = 200;
const charges = seededCharges(ITEMS);

// Refunds take a while on the way in and out, so a kill lands between a refund's send and its record.
const it = refundRigTest({ yaml, workers: 2, maxDelayMs: 300 });

describe('faults: a foreach of 200 refunds while its workers are SIGKILLed', () => {
  async function waitFor(
    app: App,
    workers: WorkerProcess[],
    runId: string,
    ok: (r: RunRecord) => boolean,
    what: string,
  ): Promise<RunRecord> {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const run = await app.store.requireRun(runId);
      if (ok(run)) return run;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}: run ${run.status}; workers:\n${workers.map((w) => w.output).join('\n---\n')}`,
        );
      await sleep(50);
    }
  }
  const ended = (r: RunRecord) => Object.values(r.steps.refunds.items ?? {}).filter((i) => i.status !== 'running').length;
  const calling = (r: RunRecord) => Object.values(r.steps.refunds.items ?? {}).filter((i) => i.status === 'running').length;

  it('ends every item exactly once: each charge refunded once, none lost', async ({ app, workers, stripe }) => {
    const { run } = await app.engine.trigger('refund-all', { charges });
    let kills = 0;
    const inFlight: number[] = [];
    for (const at of [30, 110]) {
      // The kill must land while calls are in flight (on a busy machine a poll can fall between two).
      const before = await waitFor(
        app,
        workers,
        run.id,
        (r) => (ended(r) >= at && calling(r) > 0) || !['queued', 'running'].includes(r.status),
        `${at} items ended, more in flight`,
      );
      inFlight.push(Object.values(before.steps.refunds.items ?? {}).filter((i) => i.status === 'running').length);
      // Whichever process holds the loop's job dies with its calls in flight; the other takes over.
      await Promise.all(workers.map((w) => w.kill()));
      kills += workers.length;
      await Promise.all(workers.map((w) => w.start()));
    }
    const done = await waitFor(app, workers, run.id, (r) => !['queued', 'running'].includes(r.status), 'the run to end');
    const items = Object.values(done.steps.refunds.items ?? {});
    const refunds = Object.values(stripe.state().refunds).filter((r) => charges.includes(String(r.charge)));
    const perCharge = new Map<string, number>();
    for (const r of refunds) perCharge.set(String(r.charge), (perCharge.get(String(r.charge)) ?? 0) + 1);
    const resent = items.filter((i) => i.attempts > 1).length;
    console.log(
      [
        'test:faults — foreach of 200 refunds under worker SIGKILLs',
        `  worker SIGKILLs:         ${kills}`,
        `  items in flight at kills: ${inFlight.join(', ')}`,
        `  run:                     ${done.status}`,
        `  items succeeded:         ${items.filter((i) => i.status === 'succeeded').length}`,
        `  items sent again:        ${resent} (same idempotency key)`,
        `  refunds in the sandbox:  ${refunds.length}`,
        `  charges refunded twice:  ${[...perCharge.values()].filter((n) => n > 1).length}`,
      ].join('\n'),
    );
    expect(done.status).toBe('succeeded');
    expect(items).toHaveLength(ITEMS);
    expect(items.every((i) => i.status === 'succeeded')).toBe(true);
    expect(refunds).toHaveLength(ITEMS);
    for (const c of charges) expect(perCharge.get(c), c).toBe(1);
    expect((done.steps.refunds.output as unknown[]).length).toBe(ITEMS);
    // Otherwise no kill landed mid-call and the test proved less than it claims.
    expect(resent, 'items picked up again after a kill').toBeGreaterThan(0);
  }, 600_000);
});
