import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PlanRun, type PlannedTool, buildPlan } from '../../src/plans/plan.ts';
import { expectedArgs, matchPlan } from '../../src/plans/match.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { resolveTemplates } from '../../src/workflows/templates.ts';
import type { CallStep, TemplateContext } from '../../src/workflows/types.ts';
import { configYaml, refundWorkflow } from '../helpers/workflows.ts';

// Plans built and matched without Redis or servers: the run is typed in as the worker would hold it.
const def = loadConfigFromString(
  configYaml({
    connectors: `
  stripe: { transport: stdio, command: x }
  slack: { transport: stdio, command: x }`,
    workflows: [
      refundWorkflow(
        'refund-and-notify',
        'd',
        `
      - id: notify
        if: \${{ inputs.notify }}
        call: slack.post_message
        with:
          channel: "\${{ steps.charge.output.channel }}"
          text: "Refunded \${{ steps.refund.output.amount }} of \${{ steps.charge.output.id }}: \${{ steps.refund.output.id }}"`,
        {
          inputs:
            '{ type: object, properties: { charge: { type: string }, amount: { type: integer }, notify: { type: boolean } } }',
        },
      ),
    ],
  }),
  '/tmp/plan-test.yaml',
).workflows['refund-and-notify'];

const TOOLS: Record<string, PlannedTool> = {
  'stripe.retrieve_charge': { write: false, definitionHash: 'r1' },
  'stripe.create_refund': { write: true, definitionHash: 'w1' },
  'slack.post_message': { write: true, definitionHash: 'w2' },
};
const tools = (c: string, t: string) => TOOLS[`${c}.${t}`];
const charge = { id: 'ch_1', channel: 'C1' };

function runAt(inputs: Record<string, unknown>, steps: PlanRun['steps']): PlanRun {
  return { id: 'r1', workflow: 'refund-and-notify', session: 's', inputs, definition: def, steps };
}
const paused = (inputs: Record<string, unknown> = { charge: 'ch_1', amount: 500, notify: true }, read = charge) =>
  runAt(inputs, {
    charge: { status: 'succeeded', output: read },
    refund: { status: 'awaiting_confirmation' },
    notify: { status: 'pending' },
  });

/** What the worker resolves for a step from the run as it stands. */
async function resolvedArgs(run: PlanRun, stepId: string): Promise<Record<string, unknown>> {
  const step = def.steps.find((s) => s.id === stepId) as CallStep;
  const steps: TemplateContext['steps'] = {};
  for (const [id, s] of Object.entries(run.steps)) steps[id] = { output: s.output, status: s.status };
  return (await resolveTemplates(step.with, {
    inputs: run.inputs,
    steps,
    run: { id: run.id, workflow: run.workflow, session: 's' },
  })) as Record<string, unknown>;
}

const afterRefund = (run: PlanRun, refund: unknown): PlanRun => ({
  ...run,
  steps: { ...run.steps, refund: { status: 'succeeded', output: refund } },
});

describe('a plan: every write with what is known', () => {
  it('shows known values, and the template and source of what an earlier write fills in', async () => {
    const plan = await buildPlan(paused(), tools);
    expect(plan.from).toBe('refund');
    expect(plan.items).toEqual([
      {
        stepId: 'refund',
        connector: 'stripe',
        tool: 'create_refund',
        status: 'planned',
        definitionHash: 'w1',
        args: { charge_id: 'ch_1', amount: 500 },
        templated: [],
      },
      {
        stepId: 'notify',
        connector: 'slack',
        tool: 'post_message',
        status: 'planned',
        definitionHash: 'w2',
        args: {
          channel: 'C1',
          text: 'Refunded ${{ steps.refund.output.amount }} of ${{ steps.charge.output.id }}: ${{ steps.refund.output.id }}',
        },
        templated: [
          {
            path: 'text',
            template:
              'Refunded ${{ steps.refund.output.amount }} of ${{ steps.charge.output.id }}: ${{ steps.refund.output.id }}',
            sources: ['steps.refund.output'],
          },
        ],
      },
    ]);
    expect((await buildPlan(paused(), tools)).planHash).toBe(plan.planHash);
  });

  it('a branch known to be false is planned as skipped; a tool that cannot be looked at is unplanned', async () => {
    const plan = await buildPlan(paused({ charge: 'ch_1', amount: 500, notify: false }), tools);
    expect(plan.items[1]).toMatchObject({ stepId: 'notify', status: 'skipped' });
    const noSlack = await buildPlan(paused(), (c, t) => (c === 'slack' ? undefined : tools(c, t)));
    expect(noSlack.items[1]).toMatchObject({ status: 'unplanned' });
  });

  it('inputs, reads and tools are part of the hash', async () => {
    const base = (await buildPlan(paused(), tools)).planHash;
    expect((await buildPlan(paused({ charge: 'ch_1', amount: 501, notify: true }), tools)).planHash).not.toBe(base);
    expect((await buildPlan(paused(undefined, { id: 'ch_1', channel: 'C2' }), tools)).planHash).not.toBe(base);
    const changedTool = (c: string, t: string) =>
      t === 'post_message' ? { write: true, definitionHash: 'w2-changed' } : tools(c, t);
    expect((await buildPlan(paused(), changedTool)).planHash).not.toBe(base);
  });
});

describe('matching a write against the approved plan', () => {
  it('the refund, then the Slack post with the refund filled in, match exactly', async () => {
    const run = paused();
    const plan = await buildPlan(run, tools);
    const w = { connector: 'stripe', tool: 'create_refund', definitionHash: 'w1' };
    expect(await matchPlan(plan, { stepId: 'refund', ...w, args: await resolvedArgs(run, 'refund'), steps: run.steps })).toEqual({
      ok: true,
    });
    const later = afterRefund(run, { id: 're_9', amount: 500 });
    const args = await resolvedArgs(later, 'notify');
    expect(args.text).toBe('Refunded 500 of ch_1: re_9');
    expect(
      await matchPlan(plan, {
        stepId: 'notify',
        connector: 'slack',
        tool: 'post_message',
        definitionHash: 'w2',
        args,
        steps: later.steps,
      }),
    ).toEqual({
      ok: true,
    });
  });

  it('asks again when a read returned something else, the template changed, the tool changed, or the branch differs', async () => {
    const run = paused();
    const plan = await buildPlan(run, tools);
    const post = { stepId: 'notify', connector: 'slack', tool: 'post_message', definitionHash: 'w2' };
    // The charge read now says another channel (and id): the post differs from what the plan gives.
    const reread = afterRefund(paused(undefined, { id: 'ch_1', channel: 'C2' }), { id: 're_9', amount: 500 });
    const m1 = await matchPlan(plan, { ...post, args: await resolvedArgs(reread, 'notify'), steps: reread.steps });
    expect(m1).toEqual({ ok: false, reason: 'the arguments differ from the plan at channel' });
    // The text comes from another template (or another source): differs.
    const later = afterRefund(run, { id: 're_9', amount: 500 });
    const m2 = await matchPlan(plan, {
      ...post,
      args: { channel: 'C1', text: 'Refunded 500 of ch_1: re_9 (and more)' },
      steps: later.steps,
    });
    expect(m2.ok).toBe(false);
    // The tool's definition changed.
    const m3 = await matchPlan(plan, {
      ...post,
      definitionHash: 'w2-changed',
      args: await resolvedArgs(later, 'notify'),
      steps: later.steps,
    });
    expect(m3).toMatchObject({ ok: false, reason: expect.stringContaining('changed since the plan') });
    // The plan had notify skipped; the run reached it anyway.
    const skipping = await buildPlan(paused({ charge: 'ch_1', amount: 500, notify: false }), tools);
    expect((await matchPlan(skipping, { ...post, args: await resolvedArgs(later, 'notify'), steps: later.steps })).ok).toBe(
      false,
    );
    // A step the plan does not name.
    expect((await matchPlan(plan, { ...post, stepId: 'other', args: {}, steps: later.steps })).ok).toBe(false);
  });

  it('property: over generated runs, a write matches the plan exactly when its arguments are what the plan gives', async () => {
    const scalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 10_000 }));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          amount: fc.integer({ min: 1, max: 100_000 }),
          channel: fc.string({ minLength: 1, maxLength: 6 }),
          rereadChannel: fc.option(fc.string({ minLength: 1, maxLength: 6 }), { nil: undefined }),
          refundId: fc.string({ minLength: 1, maxLength: 10 }),
          refundAmount: fc.integer({ min: 1, max: 100_000 }),
          tamper: fc.option(fc.tuple(fc.constantFrom('channel', 'text', 'extra'), scalar), { nil: undefined }),
        }),
        async (g) => {
          const run = paused({ charge: 'ch_1', amount: g.amount, notify: true }, { id: 'ch_1', channel: g.channel });
          const plan = await buildPlan(run, tools);
          const now = afterRefund(
            paused({ charge: 'ch_1', amount: g.amount, notify: true }, { id: 'ch_1', channel: g.rereadChannel ?? g.channel }),
            {
              id: g.refundId,
              amount: g.refundAmount,
            },
          );
          const args = await resolvedArgs(now, 'notify');
          if (g.tamper) args[g.tamper[0]] = g.tamper[1];
          const m = await matchPlan(plan, {
            stepId: 'notify',
            connector: 'slack',
            tool: 'post_message',
            definitionHash: 'w2',
            args,
            steps: now.steps,
          });
          const promised = await expectedArgs(plan, 'notify', now.steps);
          expect(m.ok).toBe(
            JSON.stringify(promised) === JSON.stringify(JSON.parse(JSON.stringify(args, Object.keys(args).sort()))),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});
