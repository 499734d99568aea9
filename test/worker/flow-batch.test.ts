import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import type { PolicyVerdict } from '../../src/policy/types.ts';
import type { ItemRecord, RunRecord } from '../../src/runs/records.ts';
import type { CallStep, PolicyConfig, TemplateContext } from '../../src/workflows/types.ts';
import { type Ask, batchOf, batchPayload } from '../../src/worker/flow/batch.ts';
import { evaluateRules } from '../../src/policy/evaluate.ts';
import { type UnitOp, planUnit, readyUnits, unitRuleContext } from '../../src/worker/flow/units.ts';
import { foreachStep, refundStep } from '../helpers/steps.ts';

// What policy.rules make of loop items, without Redis or a server: from verdicts typed in here, the
// same operations planStep gives a step, and a batch never mixes one person's items with a quorum's;
// and what a rule reads about an item (its arguments, its earlier steps, `loop`).
const refund = refundStep();
const tool: ToolInfo = {
  connector: 'stripe',
  name: 'create_refund',
  inputSchema: { type: 'object', properties: { amount: { type: 'integer' } } },
  annotations: {},
  write: true,
  idempotent: true,
};
const policy: PolicyConfig = { allowUnconfirmed: [], confirmationTtlMs: 60_000 };
const base: TemplateContext = { inputs: {}, steps: {}, run: { id: 'r1', workflow: 'wf', session: 's' } };
const run = { id: 'r1', workflow: 'wf', session: 's', inputs: {}, steps: {}, definition: { steps: [] } } as unknown as RunRecord;
const money = (amount: number) => ({ amount, currency: 'usd', text: `${(amount / 100).toFixed(2)} USD` });
const rule = (name: string, effect: 'approve' | 'deny' | 'require', amount: number): PolicyVerdict => ({
  kind: 'rule',
  rule: name,
  effect,
  ...(effect === 'require' ? { require: { approvers: 2, group: 'finance' } } : {}),
  money: money(amount),
});

function plan(key: string, amount: number, verdict: PolicyVerdict): UnitOp {
  const unit = { key, step: refund, ctx: base, loop: { key }, idem: `interlock-r1-refunds-${key}` };
  const facts = { kind: 'tool' as const, args: { amount }, tool, enabled: true, changed: [], grants: [], verdict };
  return planUnit(run, unit, { facts, approvedHash: undefined, rec: undefined }, policy, Date.now());
}
const asks = (ops: UnitOp[]): Ask[] => ops.flatMap((o) => (o.op.kind === 'ask' ? [{ unit: o.unit, op: o.op }] : []));

describe('policy rules on the items of a loop', () => {
  it('approve and deny an item by rule, as they would a step', () => {
    expect(plan('0', 2000, rule('small-refunds', 'approve', 2000)).op).toMatchObject({
      kind: 'call',
      note: { kind: 'rule', verdict: { rule: 'small-refunds' } },
    });
    expect(plan('1', 90000, rule('refund-above-charge', 'deny', 90000)).op).toMatchObject({
      kind: 'deny',
      rule: { rule: 'refund-above-charge' },
    });
  });

  it('ask one person for the default items and the quorum for the others, never in one confirmation', () => {
    const ops = [
      plan('0', 7000, { kind: 'default', money: money(7000) }),
      plan('1', 60000, rule('large-refunds', 'require', 60000)),
      plan('2', 8000, { kind: 'default', money: money(8000) }),
    ];
    const first = batchOf(asks(ops));
    expect(first.map((a) => a.unit.key)).toEqual(['0', '2']);
    const onePerson = batchPayload(first);
    expect(onePerson.policy).toBeUndefined();
    expect((onePerson.arguments as { items: Array<{ money?: { text: string } }> }).items.map((i) => i.money?.text)).toEqual([
      '70.00 USD',
      '80.00 USD',
    ]);
    const quorum = batchOf(asks([ops[1]]));
    expect(batchPayload(quorum).policy).toEqual({
      kind: 'rule',
      rule: 'large-refunds',
      effect: 'require',
      require: { approvers: 2, group: 'finance' },
    });
  });

  it("read the item's own arguments, its earlier steps as run.steps and the item as loop.item", async () => {
    const look: CallStep = { ...refund, id: 'charge', tool: 'retrieve_charge' };
    const loop = foreachStep({ as: 'c', concurrency: 2, steps: [look, refund], single: false });
    const items: Record<string, ItemRecord> = {
      '0.charge': { status: 'succeeded', attempts: 1, output: { amount_refundable: 5000 } },
      '1.charge': { status: 'succeeded', attempts: 1, output: { amount_refundable: 1000 } },
    };
    const units = readyUnits(run, loop, [{ amount: 1500 }, { amount: 9000 }], items, base);
    const set = {
      rules: [
        {
          name: 'above-charge',
          tool: 'stripe.create_refund',
          when: 'args.amount > run.steps.charge.output.amount_refundable',
          effect: 'deny' as const,
        },
        {
          name: 'small-items',
          tool: 'stripe.create_refund',
          when: 'loop.item.amount <= 2000 and loop.index = 0',
          effect: 'approve' as const,
        },
      ],
      money: [],
    };
    const verdicts = await Promise.all(
      units.map((u, i) => evaluateRules(set, unitRuleContext(run, u, tool, { amount: [1500, 2000][i] }))),
    );
    expect(units.map((u) => u.loop)).toEqual([
      { key: '0.refund', item: { amount: 1500 }, index: 0, count: 2 },
      { key: '1.refund', item: { amount: 9000 }, index: 1, count: 2 },
    ]);
    expect(verdicts.map((v) => (v.kind === 'rule' ? v.rule : v.kind))).toEqual(['small-items', 'above-charge']);
  });
});
