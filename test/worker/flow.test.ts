import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { ConfirmationRecord, RunRecord } from '../../src/runs/records.ts';
import { messages, refunds, sandboxAppTest, shippedWith } from '../grants/sandbox-app.ts';
import { waitForStatus } from '../helpers/app.ts';
import { REFUND_ONE_WORKFLOW, napWorkflow, parentWorkflow, postStep } from '../helpers/workflows.ts';

// The shipped workflows.yaml (its connectors and refund-disputed) plus workflows for these tests.
const EXTRA = `
  lookup-both:
    description: Look up a customer and a charge side by side, then post one message with both.
    inputs: {type: object, required: [email, charge], properties: {email: {type: string}, charge: {type: string}}}
    steps:
      - id: lookup
        parallel:
          customer:
            - id: find
              call: stripe.search_customers
              with: {email: "\${{ inputs.email }}"}
          charge:
            - id: get
              call: stripe.retrieve_charge
              with: {charge_id: "\${{ inputs.charge }}"}
${postStep(
  'tell',
  '#billing',
  "${{ steps.customer.find.output.customers[0].name & ' paid ' & $string(steps.charge.get.output.amount) & ' in ' & steps.charge.get.output.id }}",
)}

  branch-fails:
    description: One branch fails; continue_on_error says whether the join fails.
    inputs: {type: object, required: [go_on], properties: {go_on: {type: boolean}}}
    steps:
      - id: gate
        if: \${{ inputs.go_on = false }}
        parallel:
          good: [{id: get, call: stripe.retrieve_charge, with: {charge_id: ch_seed_2}}]
          bad: [{id: get, call: stripe.retrieve_charge, with: {charge_id: ch_nope}}]
      - id: tolerant
        if: \${{ inputs.go_on }}
        parallel:
          good: [{id: get, call: stripe.retrieve_charge, with: {charge_id: ch_seed_2}}]
          bad: [{id: get, call: stripe.retrieve_charge, with: {charge_id: ch_nope}}]
        continue_on_error: true
      - id: after
        call: stripe.get_balance

`;

async function pending(app: App, runId: string): Promise<ConfirmationRecord[]> {
  const { confirmations } = await app.store.listConfirmations({ status: 'pending' });
  return confirmations.filter((c) => c.runId === runId);
}

// The shipped workflows.yaml plus the ones above, on the sandboxes.
const it = sandboxAppTest(
  shippedWith([
    EXTRA,
    REFUND_ONE_WORKFLOW,
    parentWorkflow(`
      - id: look
        call: stripe.retrieve_charge
        with: {charge_id: "\${{ steps.child.output.steps.refund.charge }}"}`),
    napWorkflow('3s'),
  ]),
);

describe('control-flow steps on the Stripe and Slack sandboxes', () => {
  it('refunds 30 disputed charges once each with one batch approval, then posts one summary', async ({ app, sandboxes }) => {
    // list_charges reads the newest 100 charges: the last 30 seeded ones are among them.
    const disputed = Array.from({ length: 30 }, (_, i) => `ch_seed_${370 + i}`);
    for (const id of disputed) {
      const res = await fetch(`${sandboxes.stripe.url}/_sandbox/charges/${id}/dispute`, { method: 'POST' });
      expect(res.status).toBe(200);
    }
    const { run } = await app.engine.trigger('refund-disputed', { channel: 'C0CUST001' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed']);
    expect(paused.status).toBe('awaiting_confirmation');
    const [batch, ...others] = await pending(app, run.id);
    expect(others).toEqual([]);
    expect(batch.batch).toEqual({ items: 30 });
    const items = (batch.arguments as { items: Array<{ key: string; arguments: { charge_id: string }; argumentsHash: string }> })
      .items;
    expect(items.map((i) => i.arguments.charge_id).sort()).toEqual([...disputed].sort());
    expect(items.every((i) => /^[0-9a-f]{64}$/.test(i.argumentsHash))).toBe(true);
    // Nothing was refunded before the approval.
    expect(refunds(sandboxes).filter((r) => disputed.includes(r.charge))).toEqual([]);
    await app.engine.approve(batch.id, batch.argumentsHash, { by: 'test' });

    const atSummary = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed', 'succeeded']);
    const [post, ...more] = await pending(app, run.id);
    expect(atSummary.steps.summary.status).toBe('awaiting_confirmation');
    expect(more).toEqual([]);
    expect(post.tool).toBe('post_message');
    await app.engine.approve(post.id, post.argumentsHash, { by: 'test' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');

    const sent = refunds(sandboxes).filter((r) => disputed.includes(r.charge));
    expect(sent).toHaveLength(30);
    expect(new Set(sent.map((r) => r.charge)).size).toBe(30);
    expect((done.steps.refunds.output as unknown[]).length).toBe(30);
    expect(Object.values(done.steps.refunds.items ?? {}).every((i) => i.status === 'succeeded')).toBe(true);
    const summaries = messages(sandboxes).filter((m) => m.text.startsWith('Refunded 30 disputed charge(s), 300.00 in total'));
    expect(summaries).toHaveLength(1);
    expect(summaries[0].channel).toBe('C0CUST001');
  });

  it('joins a parallel lookup of customer and charge into one message', async ({ app }) => {
    const { run } = await app.engine.trigger('lookup-both', { email: 'grace@example.com', charge: 'ch_seed_2' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed']);
    expect(paused.steps.lookup.status).toBe('succeeded');
    expect(Object.keys(paused.steps.lookup.items ?? {}).sort()).toEqual(['charge.get', 'customer.find']);
    const [post] = await pending(app, run.id);
    expect(post.arguments).toEqual({ channel: '#billing', text: 'Grace Hopper paid 12000 in ch_seed_2' });
    await app.engine.approve(post.id, post.argumentsHash, { by: 'test' });
    expect((await waitForStatus(app, run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
  });

  it('fails the join when a branch fails, unless continue_on_error', async ({ app }) => {
    const strict = (await app.engine.trigger('branch-fails', { go_on: false })).run;
    const failed = await waitForStatus(app, strict.id, ['succeeded', 'failed']);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('FLOW_FAILED');
    expect(failed.steps.gate.items?.['good.get']?.status).toBe('succeeded');
    expect(failed.steps.gate.items?.['bad.get']?.status).toBe('failed');
    expect(failed.steps.after.status).toBe('pending');

    const lenient = (await app.engine.trigger('branch-fails', { go_on: true })).run;
    const done = await waitForStatus(app, lenient.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.gate.status).toBe('skipped');
    expect(done.steps.tolerant.items?.['bad.get']?.status).toBe('failed');
    expect(done.steps.after.status).toBe('succeeded');
  });

  it("gates a child workflow's write and links the child run to its parent", async ({ app, sandboxes }) => {
    const { run } = await app.engine.trigger('parent', { charge: 'ch_seed_250' });
    let parent: RunRecord = run;
    for (;;) {
      parent = await app.store.requireRun(run.id);
      if (parent.steps.child.child) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const childId = parent.steps.child.child as string;
    const child = await waitForStatus(app, childId, ['awaiting_confirmation', 'failed']);
    expect(child.parent).toEqual({ runId: run.id, stepId: 'child' });
    expect(child.session).toBe(parent.session);
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_250')).toEqual([]);
    // The parent waits with no job in active or waiting while the child is paused.
    expect((await app.store.requireRun(run.id)).steps.child.status).toBe('running');
    // The parent's own job ends just after it records the child; give it a moment under load.
    const flowQ = app.queues.get('flow');
    const liveOf = async () =>
      (await flowQ.getJobs(['active', 'waiting', 'prioritized'])).filter((job) => job.data.runId === run.id);
    const until = Date.now() + 2000;
    while (Date.now() < until && (await liveOf()).length > 0) await new Promise((r) => setTimeout(r, 10));
    expect(await liveOf()).toEqual([]);
    const [conf] = await pending(app, childId);
    expect(conf.tool).toBe('create_refund');
    await app.engine.approve(conf.id, conf.argumentsHash, { by: 'test' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect((done.steps.look.output as { refunded: boolean }).refunded).toBe(true);
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_250')).toHaveLength(1);
    // The child's end woke the parent; its fallback poll job is gone with it.
    const delayed = await app.queues.get('flow').getJobs(['delayed']);
    expect(delayed.filter((job) => job.data.runId === run.id)).toEqual([]);
  });

  it('a sleeping run holds no job in active or waiting, only a delayed one, and wakes', async ({ app }) => {
    const { run } = await app.engine.trigger('nap', {});
    let sleeping: RunRecord = run;
    for (;;) {
      sleeping = await app.store.requireRun(run.id);
      if (sleeping.steps.wait.wakeAt !== undefined || sleeping.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(sleeping.steps.wait.status).toBe('running');
    const q = app.queues.get('flow');
    // The step records its wake time before the job that recorded it ends; under load that job can
    // still read active for a moment, so wait for it to finish (it is removed on completion).
    const first = `${run.id}.wait.0`;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && (await q.getJobState(first)) === 'active') await new Promise((r) => setTimeout(r, 10));
    const live = await q.getJobs(['active', 'waiting', 'prioritized']);
    const delayed = await q.getJobs(['delayed']);
    expect(live.filter((job) => job.data.runId === run.id)).toEqual([]);
    expect(delayed.filter((job) => job.data.runId === run.id)).toHaveLength(1);
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.after.status).toBe('succeeded');
  });
});
