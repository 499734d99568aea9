import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { BatchItem } from '../../src/worker/flow/batch.ts';
import { foreachWorkflow, refundSteps, refundWorkflow } from '../helpers/workflows.ts';
import { messages, newCharge, pending, refunds, sandboxAppTest, settled, shippedWith } from '../grants/sandbox-app.ts';

/**
 * The items of a loop go through the same gate as a step: the shipped policy.rules (a refund up to
 * 50.00 USD approves itself, one above what its charge has left is denied), a scoped grant, and the
 * shipped Slack rate limit (one post per second per channel), on the Stripe and Slack sandboxes.
 * The shipped workflows.yaml, plus loops for these tests.
 */
const EXTRA = [
  foreachWorkflow('refund-each', 'look each charge up and refund the amount asked for it', {
    input: 'refunds',
    id: 'refunds',
    as: 'r',
    concurrency: 3,
    body: `
        steps:${refundSteps({ indent: 10, charge: 'r.charge', amount: 'r.amount' })}`,
  }),
  refundWorkflow('refund-one', 'look a charge up and refund part of it'),
  foreachWorkflow('tell-each', 'post each text to one channel', {
    input: 'texts',
    id: 'posts',
    as: 't',
    concurrency: 5,
    body: `
        call: slack.post_message
        with: { channel: C0CUST001, text: "\${{ t }}" }`,
  }),
];

const it = sandboxAppTest(shippedWith(EXTRA));

async function auditOf(app: App, runId: string) {
  return (await app.store.audit.list({ run: runId })).entries;
}

describe('a loop item is gated as a step is', () => {
  it('policy rules decide per item: small refunds go alone, one above its charge is never sent, the rest ask in one batch', async ({
    app,
    sandboxes,
  }) => {
    const [a, b, c, d] = [
      await newCharge(sandboxes, 10000),
      await newCharge(sandboxes, 10000),
      await newCharge(sandboxes, 10000),
      await newCharge(sandboxes, 10000),
    ];
    const list = [
      { charge: a, amount: 2000 },
      { charge: b, amount: 3000 },
      { charge: c, amount: 20000 },
      { charge: d, amount: 7000 },
    ];
    const { run } = await app.engine.trigger('refund-each', { refunds: list });
    const paused = await settled(app, run.id);
    expect(paused.status).toBe('awaiting_confirmation');
    const sent = (id: string) => refunds(sandboxes).filter((r) => r.charge === id);

    // 20.00 and 30.00 USD: no person asked; the audit names the rule, the item and its hash.
    expect(sent(a).map((r) => r.amount)).toEqual([2000]);
    expect(sent(b).map((r) => r.amount)).toEqual([3000]);
    const items = paused.steps.refunds.items ?? {};
    const audit = await auditOf(app, run.id);
    for (const key of ['0.refund', '1.refund'])
      expect(audit).toContainEqual(
        expect.objectContaining({
          decision: 'approve',
          source: { kind: 'rule', rule: 'small-refunds' },
          stepId: 'refunds',
          item: key,
          argumentsHash: items[key]?.argumentsHash,
        }),
      );
    // 200.00 USD from a 100.00 USD charge: denied by its rule, never reached Stripe.
    expect(items['2.refund']).toMatchObject({ status: 'denied', error: { code: 'DENIED' } });
    expect(items['2.refund']?.error?.message).toMatch(/refund-above-charge/);
    expect(sent(c)).toEqual([]);
    expect(audit).toContainEqual(
      expect.objectContaining({ decision: 'deny', source: { kind: 'rule', rule: 'refund-above-charge' }, item: '2.refund' }),
    );
    // 70.00 USD: no rule decides, so a person does; the batch lists that item alone, in currency.
    expect(sent(d)).toEqual([]);
    const conf = await pending(app, paused);
    const listed = (conf.arguments as { items: BatchItem[] }).items;
    expect(listed.map((i) => [i.key, i.arguments.amount, i.money?.text])).toEqual([['3.refund', 7000, '70.00 USD']]);
    await app.engine.approve(conf.id, conf.argumentsHash, { by: 'ops' });

    // The denied item denies the loop once every item has ended; the approved one was sent once.
    const done = await settled(app, run.id);
    expect(done.status).toBe('denied');
    expect(done.steps.refunds.items?.['3.refund']?.status).toBe('succeeded');
    expect(sent(d).map((r) => r.amount)).toEqual([7000]);
    expect(sent(c)).toEqual([]);
    expect([...sent(a), ...sent(b)]).toHaveLength(2);
  });

  it('a scoped grant ("amount up to 80.00 USD") covers the items inside it and asks for the one above', async ({
    app,
    sandboxes,
  }) => {
    const session = 'loop-desk';
    // A person approves an 80.00 USD refund and remembers "amount up to 80.00 USD", three uses.
    const first = await settled(
      app,
      (await app.engine.trigger('refund-one', { charge: await newCharge(sandboxes, 10000), amount: 8000 }, { session })).run.id,
    );
    const c0 = await pending(app, first);
    await app.engine.approve(c0.id, c0.argumentsHash, {
      by: 'alice',
      remember: { scope: 'arguments', fields: ['amount'], ttlMs: 600_000, uses: 3 },
    });
    expect((await settled(app, first.id)).status).toBe('succeeded');
    const [grant] = await app.store.grants.list({ session });

    const [a, b, c] = [await newCharge(sandboxes, 10000), await newCharge(sandboxes, 10000), await newCharge(sandboxes, 10000)];
    const { run } = await app.engine.trigger(
      'refund-each',
      {
        refunds: [
          { charge: a, amount: 6000 },
          { charge: b, amount: 8000 },
          { charge: c, amount: 9000 },
        ],
      },
      { session },
    );
    const paused = await settled(app, run.id);
    expect(paused.status).toBe('awaiting_confirmation');
    expect(
      refunds(sandboxes)
        .filter((r) => r.charge === a || r.charge === b)
        .map((r) => r.amount)
        .sort(),
    ).toEqual([6000, 8000]);
    expect(refunds(sandboxes).filter((r) => r.charge === c)).toEqual([]);
    // Each covered item is one use of the grant, and the audit names the grant for that item.
    const uses = await app.store.grants.uses(grant);
    expect(uses.map((u) => [u.runId, u.stepId])).toEqual([
      [run.id, 'refunds'],
      [run.id, 'refunds'],
    ]);
    const audit = await auditOf(app, run.id);
    expect(
      audit
        .filter((e) => e.source.kind === 'grant')
        .map((e) => e.item)
        .sort(),
    ).toEqual(['0.refund', '1.refund']);
    const conf = await pending(app, paused);
    expect((conf.arguments as { items: BatchItem[] }).items.map((i) => i.key)).toEqual(['2.refund']);
    await app.engine.cancel(run.id, 'test');
  });

  it("the connector's rate limit holds inside a foreach: never two posts to one channel within a second", async ({
    app,
    sandboxes,
  }) => {
    const texts = Array.from({ length: 5 }, (_, i) => `rate-${i}`);
    const { run } = await app.engine.trigger('tell-each', { texts });
    const conf = await pending(app, await settled(app, run.id));
    expect(conf.batch).toEqual({ items: 5 });
    await app.engine.approve(conf.id, conf.argumentsHash, { by: 'ops' });
    const done = await settled(app, run.id);
    expect(done.status).toBe('succeeded');
    expect(
      messages(sandboxes)
        .filter((m) => m.text.startsWith('rate-'))
        .map((m) => m.text)
        .sort(),
    ).toEqual(texts);

    // Five items at concurrency 5 would all start at once; the shipped limit (max 1 per 1s, by
    // channel) lets at most one start in any one-second window, counted from the recorded starts.
    const starts = Object.values(done.steps.posts.items ?? {})
      .map((i) => i.startedAt ?? Number.NaN)
      .sort((x, y) => x - y);
    expect(starts.every(Number.isFinite)).toBe(true);
    const mostInAWindow = Math.max(...starts.map((s) => starts.filter((t) => t >= s && t < s + 1000).length));
    expect(mostInAWindow).toBe(1);
  });
});
