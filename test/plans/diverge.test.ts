import { readFileSync, writeFileSync } from 'node:fs';
import Stripe from 'stripe';
import { describe, expect } from 'vitest';
import { expectedArgs } from '../../src/plans/match.ts';
import { planGateLines } from '../../src/plans/words.ts';
import { messages, pending, refunds, settled } from '../grants/sandbox-app.ts';
import { PLAN_YAML, planTest as it } from './helpers.ts';

// End to end on the Stripe and Slack sandboxes: a plan approved once, then the world changes before
// a write runs. The sandboxes' state is the witness of what was sent.

describe('a plan approved once, then something changes before a write runs', () => {
  it('a read after the plan returns what the sandbox says now: the post that shows it is asked again, and nothing is sent unless a person says so', async ({
    app,
    sandboxes,
    plans,
  }) => {
    const { run, view } = await plans.shown('refund-then-recheck', { charge: 'ch_seed_231', amount: 300 });
    expect(view.plan.items.map((i) => [i.stepId, i.status])).toEqual([
      ['refund', 'planned'],
      ['notify', 'unplanned'],
    ]);

    // Between the plan and the run, someone refunds part of the same charge outside Interlock.
    const stripe = new Stripe('sk_test_outside', {
      host: '127.0.0.1',
      port: sandboxes.stripe.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    await stripe.refunds.create({ charge: 'ch_seed_231', amount: 200 });
    const sentBefore = messages(sandboxes).length;

    const approved = await plans.approve(run.id, view.plan.planHash);
    expect(approved.confirmation).toMatchObject({ stepId: 'refund', status: 'approved', channel: 'api' });
    const paused = await settled(app, run.id);
    expect(paused.status).toBe('awaiting_confirmation');
    const conf = await pending(app, paused);
    expect(conf.stepId).toBe('notify');
    // 1000 − 200 (outside) − 300 (the planned refund): the read's new result, shown to the person.
    expect(conf.arguments.text).toBe('Refunded; 500 cents are left to refund.');
    expect(messages(sandboxes).length).toBe(sentBefore);

    // Every front end says why it asks again, in the same words.
    const now = await plans.current(run.id);
    expect(now.diverged).toEqual({ stepId: 'notify', reason: expect.stringContaining('step notify was not planned') });
    expect(planGateLines(now, { runId: run.id })[0]).toMatch(
      /^The plan alice approved \([0-9a-f]{12}…\) does not cover step notify, so a person is asked again: step notify was not planned: text comes from steps\.recheck/,
    );

    await app.engine.deny(conf.id, { by: 'alice', channel: 'api' });
    expect((await settled(app, run.id)).status).toBe('denied');
    expect(messages(sandboxes).length).toBe(sentBefore);
    expect(
      refunds(sandboxes)
        .filter((r) => r.charge === 'ch_seed_231')
        .map((r) => r.amount)
        .sort(),
    ).toEqual([200, 300]);
  });

  it('a template edited in workflows.yaml after the plan was shown never reaches the run: the post sends exactly what the plan showed', async ({
    app,
    sandboxes,
    configFile,
    plans,
  }) => {
    const { run, view } = await plans.shown('refund-and-notify', { charge: 'ch_seed_233', amount: 400 });
    expect(view.words).toContain('text: filled in from steps.refund.output when it has run');

    // The Slack template changes in the file and the config reloads before the plan is approved.
    const edited = PLAN_YAML.replace(
      '". Refund id: " & steps.refund.output.id & "."',
      '". CHANGED TEMPLATE " & steps.refund.output.id',
    );
    expect(edited).not.toBe(PLAN_YAML);
    writeFileSync(configFile, edited);
    await app.source.reload();

    // The run pinned its definition: the plan the person saw is still the run's plan.
    await plans.approve(run.id, view.plan.planHash);
    const done = await settled(app, run.id);
    expect(done.status).toBe('succeeded');
    const refund = done.steps.refund.output as { id: string };
    const sent = messages(sandboxes).filter((m) => m.text.includes(refund.id));
    expect(sent.map((m) => m.text)).toEqual([(await expectedArgs(view.plan, 'notify', done.steps))?.text]);
    expect(sent[0].text).not.toContain('CHANGED TEMPLATE');
    expect((await app.store.requireConfirmation(done.steps.notify.confirmationId!)).channel).toBe('plan');

    // A run started now has the new template, and its plan says so before anything is sent.
    const next = await plans.shown('refund-and-notify', { charge: 'ch_seed_235', amount: 100 });
    const words = next.view.words;
    expect(words).toContain('CHANGED TEMPLATE');
    expect(words).not.toBe(view.words);
    await app.engine.cancel(next.run.id, 'test');
    expect(messages(sandboxes).filter((m) => m.text.includes('CHANGED TEMPLATE'))).toEqual([]);
  });

  it('a tool whose definition changes after the plan was shown changes the plan: approving what was shown is refused, and nothing is sent', async ({
    app,
    sandboxes,
    configFile,
    plans,
  }) => {
    const { run, view } = await plans.shown('refund-and-notify', { charge: 'ch_seed_237', amount: 200 });
    const sentBefore = messages(sandboxes).length;

    // The config now marks slack.post_message destructive: the tool a person would approve is another one.
    const text = readFileSync(configFile, 'utf8');
    const edited = text.replace(
      '    concurrency: 5\n',
      '    concurrency: 5\n    tools:\n      overrides:\n        post_message: { annotations: { destructiveHint: true } }\n',
    );
    expect(edited).not.toBe(text);
    writeFileSync(configFile, edited);
    await app.source.reload();

    await expect(plans.approve(run.id, view.plan.planHash)).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    const now = await plans.current(run.id);
    const hashOf = (v: typeof view) => v.plan.items.find((i) => i.stepId === 'notify');
    expect(hashOf(now)).toMatchObject({ status: 'planned' });
    expect(hashOf(now)).not.toEqual(hashOf(view));
    const still = await settled(app, run.id);
    expect(still.status).toBe('awaiting_confirmation');
    expect((await pending(app, still)).stepId).toBe('refund');
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_237')).toEqual([]);
    expect(messages(sandboxes).length).toBe(sentBefore);
    await app.engine.cancel(run.id, 'test');
  });
});
