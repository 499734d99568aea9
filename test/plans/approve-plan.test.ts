import { describe, expect } from 'vitest';
import { expectedArgs } from '../../src/plans/match.ts';
import { messages, pending, refunds, settled } from '../grants/sandbox-app.ts';
import { planTest as it } from './helpers.ts';

// The shipped workflows, plus one whose Slack post reads a charge looked up again after the refund.
describe('approve the plan once', () => {
  it('refund → notify runs with one approval, and the Slack text is what the plan showed with the refund filled in', async ({
    app,
    sandboxes,
    plans,
  }) => {
    const { run, view } = await plans.shown('refund-and-notify', { charge: 'ch_seed_2', amount: 1200 });
    expect(view.plan.items.map((i) => [i.stepId, i.status])).toEqual([
      ['refund', 'planned'],
      ['notify', 'planned'],
    ]);
    const notify = view.plan.items[1];
    if (notify.status !== 'planned') throw new Error('notify is not planned');
    expect(notify.args.channel).toBe('C0CUST002');
    expect(notify.templated.map((t) => [t.path, t.sources])).toEqual([['text', ['steps.refund.output']]]);
    expect(view.words).toContain('amount: 1200 (12.00 USD)');
    expect(view.words).toContain('text: filled in from steps.refund.output when it has run');

    const r = await plans.approve(run.id, view.plan.planHash);
    expect(r.confirmation).toMatchObject({ status: 'approved', decidedBy: 'alice', planHash: view.plan.planHash });
    const done = await settled(app, run.id);
    expect(done.status).toBe('succeeded');

    const refund = done.steps.refund.output as { id: string };
    expect(
      refunds(sandboxes)
        .filter((x) => x.charge === 'ch_seed_2')
        .map((x) => x.amount),
    ).toEqual([1200]);
    const sent = messages(sandboxes).filter((m) => m.text.includes(refund.id));
    expect(sent).toHaveLength(1);
    expect(sent[0].text).toBe(`Hi Grace Hopper, we refunded 12.00 USD of your charge ch_seed_2. Refund id: ${refund.id}.`);
    expect((await expectedArgs(view.plan, 'notify', done.steps))?.text).toBe(sent[0].text);
    const byPlan = await app.store.requireConfirmation(done.steps.notify.confirmationId!);
    expect(byPlan).toMatchObject({ status: 'approved', channel: 'plan', planHash: view.plan.planHash, decidedBy: 'alice' });
    expect(byPlan.argumentsHash).toBe(done.steps.notify.argumentsHash);
  });

  it('a write that reads a result the plan could not know is not in the plan, and is asked for', async ({
    app,
    sandboxes,
    plans,
  }) => {
    const before = messages(sandboxes).length;
    const { run, view } = await plans.shown('refund-then-recheck', { charge: 'ch_seed_113', amount: 300 });
    const notify = view.plan.items.find((i) => i.stepId === 'notify');
    expect(notify).toMatchObject({ status: 'unplanned' });
    expect(view.words).toContain('not in the plan, asks on its own: text comes from steps.recheck');
    await plans.approve(run.id, view.plan.planHash);
    const paused = await settled(app, run.id);
    expect(paused.status).toBe('awaiting_confirmation');
    expect((await pending(app, paused)).stepId).toBe('notify');
    expect(messages(sandboxes).length).toBe(before);
    const events = await app.store.readEvents(run.id);
    expect(events.find((e) => e.type === 'step.plan_diverged')?.data.reason).toContain('was not planned');
    await app.engine.cancel(run.id, 'test');
  });

  it('a plan that changed since it was shown is refused with the new hash', async ({ app, plans }) => {
    const { run } = await plans.shown('refund-and-notify', { charge: 'ch_seed_115', amount: 100 });
    await expect(plans.approve(run.id, 'not-the-hash')).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    expect((await settled(app, run.id)).status).toBe('awaiting_confirmation');
    await app.engine.cancel(run.id, 'test');
  });
});
