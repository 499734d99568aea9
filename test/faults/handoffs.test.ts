import { describe, expect } from 'vitest';
import type { RunRecord } from '../../src/runs/records.ts';
import { callLogPath, readCalls, testConnectorYaml } from '../helpers/app.ts';
import { CHARGE_INPUTS, builtinConnectorYaml, configYaml, refundWorkflow } from '../helpers/workflows.ts';
import { RUNS, handoffTest, postJson } from './handoff-rig.ts';

/*
 * One test per hand-off. A real `interlock serve` or `worker` process is started with a fail point
 * armed as `<point>@20`: each of 20 runs reaches the point right after the Redis write that hands
 * its step on, stays there, and at the 20th the process SIGKILLs itself, so all 20 are left
 * exactly between the write and the enqueue. The process under test runs its reconciler only at
 * start (INTERLOCK_RECONCILE_EVERY_MS very long), so nothing moves them before the kill. Then a
 * fresh `interlock worker` with the default settings starts, and every run must reach its
 * correct state, each charge refunded once in the Stripe sandbox.
 */
const log = callLogPath();
const yaml = configYaml({
  connectors: `${builtinConnectorYaml('stripe', '30s', '\n    concurrency: 25')}${testConnectorYaml(log, '\n    concurrency: 25')}`,
  extra: `policy:
  confirmation_ttl: 1h
  allow_unconfirmed: [direct.refund, doubt.refund, test.send]`,
  workflows: [
    refundWorkflow('direct', 'look the charge up, then refund 100 cents of it', '', {
      inputs: CHARGE_INPUTS,
      cents: 100,
      settings: ['confirm: never'],
    }),
    refundWorkflow('gated', 'the same, with the refund confirmed by a person', '', { inputs: CHARGE_INPUTS, cents: 100 }),
    `
  doubt:
    description: a message whose answer is lost (the step ends in doubt), then the refund
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: send
        call: test.send
        confirm: never
        timeout: 300ms
        with: { to: "\${{ inputs.charge }}", hangOnce: true, delayMs: 30000 }
      - id: refund
        call: stripe.create_refund
        confirm: never
        with: { charge_id: "\${{ inputs.charge }}", amount: 100 }`,
  ],
});
const it = handoffTest(yaml);

describe("faults: a process killed right after each hand-off's Redis write strands no run", () => {
  it('trigger: a run written but not enqueued runs, and its Idempotency-Key names it (after-create-run)', async ({
    handoff: h,
  }) => {
    const { app, charges } = h;
    const { p, url } = await h.doomed('serve', 'after-create-run');
    const post = (base: string, charge: string, inputs: Record<string, unknown> = { charge }) =>
      postJson(`${base}/api/v1/workflows/direct/runs`, { inputs }, { 'idempotency-key': `key-${charge}` });
    const answers = await Promise.allSettled(charges.map((c) => post(url, c)));
    await h.died(p);
    expect(answers.every((a) => a.status === 'rejected')).toBe(true);
    const { runs: written } = await app.store.listRuns({ workflow: 'direct', limit: 100 });
    expect(written.length).toBe(RUNS);
    expect(written.every((r) => r.status === 'queued')).toBe(true);
    const ids = written.map((r) => r.id);
    await h.recover('trigger', ids, (r) => r.status === 'succeeded');

    // Every key names the run it wrote: a retry answers it (not a 404), and another body is refused.
    const { p: server, url: again } = await h.spawn('serve');
    const byCharge = new Map(written.map((r) => [r.inputs.charge as string, r.id]));
    for (const c of charges) {
      const res = await post(again, c);
      expect(res.status).toBe(200);
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      expect(((await res.json()) as RunRecord).id).toBe(byCharge.get(c));
    }
    const other = await post(again, charges[0], { charge: charges[1] });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await server.terminate();
    for (const c of charges) expect(h.refundsOf(c)).toBe(1);
  }, 180_000);

  it('approve: an approval recorded but not enqueued is carried out once (after-decide)', async ({ handoff: h }) => {
    const { p, url } = await h.doomed('serve', 'after-decide');
    const ids = await h.triggerEach('gated');
    const paused = await h.waitAll(ids, (r) => r.status === 'awaiting_confirmation');
    const confs = await Promise.all(paused.map((r) => h.app.store.requireConfirmation(r.steps.refund.confirmationId ?? '')));
    await Promise.allSettled(
      confs.map((c) => postJson(`${url}/api/v1/confirmations/${c.id}/approve`, { argumentsHash: c.argumentsHash })),
    );
    await h.died(p);
    const left = await h.runs(ids);
    expect(left.every((r) => r.status === 'running' && r.steps.refund.status === 'pending')).toBe(true);
    await h.recover('approve', ids, (r) => r.status === 'succeeded');
  }, 180_000);

  it('commit → next: a step committed before its successor was enqueued is followed (after-commit)', async ({ handoff: h }) => {
    const { p } = await h.doomed('worker', 'after-commit');
    const ids = await h.triggerEach('direct');
    await h.died(p);
    const left = await h.runs(ids);
    expect(left.every((r) => r.steps.charge.status === 'succeeded' && r.steps.refund.status === 'pending')).toBe(true);
    await h.recover('commit → next', ids, (r) => r.status === 'succeeded');
  }, 180_000);

  it('open gate: a run paused by a process that died is listed, pending and approvable (after-open-gate)', async ({
    handoff: h,
  }) => {
    const { p } = await h.doomed('worker', 'after-open-gate');
    const ids = await h.triggerEach('gated');
    await h.died(p);
    const paused = await h.runs(ids);
    expect(paused.every((r) => r.status === 'awaiting_confirmation')).toBe(true);
    const { confirmations } = await h.app.store.listConfirmations({ status: 'pending', limit: 100 });
    const listed = new Set(confirmations.map((c) => c.runId));
    expect(ids.filter((id) => !listed.has(id))).toEqual([]);
    await h.recover(
      'open gate',
      ids,
      (r) => r.status === 'succeeded',
      async () => {
        for (const c of confirmations) await h.app.engine.approve(c.id, c.argumentsHash, { by: 'test' });
      },
    );
  }, 180_000);

  it('resolve: a step resolved by an operator moves on once, and the doubtful write is not sent again (after-resolve)', async ({
    handoff: h,
  }) => {
    const { p, url } = await h.doomed('serve', 'after-resolve');
    const ids = await h.triggerEach('doubt');
    const doubtful = await h.waitAll(ids, (r) => r.status === 'needs_attention');
    expect(doubtful.every((r) => r.steps.send.status === 'in_doubt')).toBe(true);
    await Promise.allSettled(
      ids.map((id) =>
        postJson(`${url}/api/v1/runs/${id}/steps/send/resolve`, {
          action: 'done',
          output: { sent: 1 },
          reason: 'seen in the mail log',
        }),
      ),
    );
    await h.died(p);
    const left = await h.runs(ids);
    expect(
      left.every((r) => r.status === 'running' && r.steps.send.status === 'succeeded' && r.steps.refund.status === 'pending'),
    ).toBe(true);
    await h.recover('resolve', ids, (r) => r.status === 'succeeded');
    const sends = readCalls(log).filter((c) => c.tool === 'send');
    for (const c of h.charges) expect(sends.filter((s) => s.args.to === c).length, c).toBe(1);
  }, 180_000);

  it('unblock: runs paused at a changed tool continue once it is approved (after-unblock)', async ({ handoff: h }) => {
    // The refund tool was first seen with another definition: the real one is a change to review.
    await h.app.store.pins.observe({
      connector: 'stripe',
      name: 'create_refund',
      description: 'Refunds a charge (as first pinned)',
      inputSchema: { type: 'object' },
      annotations: { idempotentHint: true },
    });
    const { p, url } = await h.doomed('serve', 'after-unblock');
    const ids = await h.triggerEach('direct');
    const blocked = await h.waitAll(ids, (r) => r.status === 'needs_attention');
    expect(blocked.every((r) => r.error?.code === 'TOOL_CHANGED')).toBe(true);
    const pin = (await (await fetch(`${url}/api/v1/connectors/stripe/tools/create_refund/pin`)).json()) as {
      pending: { hash: string };
    };
    await postJson(`${url}/api/v1/connectors/stripe/tools/create_refund/approve`, { hash: pin.pending.hash }).catch(
      () => undefined,
    );
    await h.died(p);
    const left = await h.runs(ids);
    expect(left.every((r) => r.status === 'running' && r.steps.refund.status === 'pending')).toBe(true);
    await h.recover('unblock', ids, (r) => r.status === 'succeeded');
  }, 180_000);
});
