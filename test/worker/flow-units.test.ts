import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import type { ItemRecord, RunRecord } from '../../src/runs/records.ts';
import { canonicalJson, sha256Hex } from '../../src/workflows/canonical.ts';
import type { CallStep, ForeachStep, ParallelStep, PolicyConfig, TemplateContext } from '../../src/workflows/types.ts';
import type { ScopedGrant } from '../../src/grants/grant.ts';
import { type Ask, batchPayload } from '../../src/worker/flow/batch.ts';
import { type Unit, type UnitOp, planUnit, readyUnits } from '../../src/worker/flow/units.ts';
import { foreachStep, refundGrant, refundStep } from '../helpers/steps.ts';

// What each call inside a loop or a parallel step does next, and what one batch confirmation
// shows, from facts typed in here: no Redis, no server (the end-to-end tests are in flow.test.ts).
const pos = { line: 1, col: 1 };
const refund = refundStep({ with: { charge_id: '${{ charge }}' }, pos });
const loop = foreachStep({ steps: [refund] });
const policy: PolicyConfig = { allowUnconfirmed: [], confirmationTtlMs: 60_000 };
const tool: ToolInfo = {
  connector: 'stripe',
  name: 'create_refund',
  inputSchema: { type: 'object', properties: { charge_id: { type: 'string' } } },
  annotations: { idempotentHint: true },
  write: true,
  idempotent: true,
};
const base: TemplateContext = { inputs: {}, steps: {}, run: { id: 'r1', workflow: 'wf', session: 's' } };
const run = {
  id: 'r1',
  workflow: 'wf',
  session: 's',
  inputs: {},
  steps: {},
  definition: { steps: [loop] },
} as unknown as RunRecord;
const hash = (args: Record<string, unknown>) => sha256Hex(canonicalJson(args));
const unit = (key: string): Unit => ({ key, step: refund, ctx: base, loop: { key }, idem: `interlock-r1-refunds-${key}` });
interface More {
  tool?: ToolInfo;
  grants?: ScopedGrant[];
  approvedHash?: string;
  rec?: ItemRecord;
}
/** planStep's answer for one unit, from facts typed in here. */
const plan = (key: string, args: Record<string, unknown>, more: More = {}): UnitOp =>
  planUnit(
    run,
    unit(key),
    {
      facts: { kind: 'tool', args, tool: more.tool ?? tool, enabled: true, changed: [], grants: more.grants ?? [] },
      approvedHash: more.approvedHash,
      rec: more.rec,
    },
    policy,
    Date.now(),
  );
const asks = (ops: UnitOp[]): Ask[] => ops.flatMap((o) => (o.op.kind === 'ask' ? [{ unit: o.unit, op: o.op }] : []));

describe('the calls of a loop', () => {
  it('are one per item, with the item in the template context and an idempotency key from run, step and item', () => {
    const units = readyUnits(run, loop, ['ch_1', 'ch_2'], {}, base);
    expect(units.map((u) => [u.key, (u.ctx as unknown as { charge: string }).charge, u.idem])).toEqual([
      ['0', 'ch_1', 'interlock-r1-refunds-0'],
      ['1', 'ch_2', 'interlock-r1-refunds-1'],
    ]);
    expect((units[1].ctx as unknown as { loop: unknown }).loop).toEqual({ index: 1, count: 2 });
  });

  it('skip the items that ended and keep the one a crash left running', () => {
    const items: Record<string, ItemRecord> = {
      '0': { status: 'succeeded', attempts: 1 },
      '1': { status: 'running', attempts: 1, intentAttempt: 1 },
      '2': { status: 'failed', attempts: 1 },
    };
    expect(readyUnits(run, loop, ['a', 'b', 'c', 'd'], items, base).map((u) => u.key)).toEqual(['1', '3']);
  });

  it('run a group item by item: the second step only after the first, reading it as steps.<id>', () => {
    const look: CallStep = { ...refund, id: 'look' };
    const group: ForeachStep = { ...loop, single: false, steps: [look, refund] };
    const items: Record<string, ItemRecord> = { '0.look': { status: 'succeeded', attempts: 1, output: { id: 'x' } } };
    const units = readyUnits(run, group, ['a', 'b'], items, base);
    expect(units.map((u) => u.key)).toEqual(['0.refund', '1.look']);
    expect(units[0].ctx.steps.look).toEqual({ output: { id: 'x' }, status: 'succeeded' });
  });

  it('run every branch of a parallel step at once', () => {
    const par: ParallelStep = { ...loop, kind: 'parallel', tool: 'parallel', branches: { a: [refund], b: [refund] } };
    expect(readyUnits(run, par, undefined, {}, base).map((u) => u.key)).toEqual(['a.refund', 'b.refund']);
  });
});

describe('a loop of writes asks once for the batch', () => {
  const args = [{ charge_id: 'ch_1' }, { charge_id: 'ch_2' }];

  it('lists every item with its exact arguments and hash, under a batch hash over all of them', () => {
    const plans = args.map((a, i) => plan(String(i), a));
    expect(plans.map((p) => p.op.kind)).toEqual(['ask', 'ask']);
    const payload = batchPayload(asks(plans));
    const items = args.map((a, i) => ({
      key: String(i),
      connector: 'stripe',
      tool: 'create_refund',
      arguments: a,
      argumentsHash: hash(a),
    }));
    expect(payload).toMatchObject({ connector: 'stripe', tool: 'create_refund', batch: { items: 2 }, reason: 'write' });
    expect(payload.arguments).toEqual({ items });
    expect(payload.argumentsHash).toBe(hash({ items }));
  });

  it('lets each approved item through, and an item whose arguments differ from what was approved asks alone', () => {
    const approved = hash({ charge_id: 'ch_1' });
    expect(plan('0', args[0], { approvedHash: approved }).op.kind).toBe('call');
    const changed = plan('0', { charge_id: 'ch_9' }, { approvedHash: approved });
    expect(changed.op.kind).toBe('ask');
    const alone = batchPayload(asks([changed]));
    expect(alone.arguments).toEqual({ items: [expect.objectContaining({ key: '0', arguments: { charge_id: 'ch_9' } })] });
  });

  it('stops an item a remembered decision denies, and a non-idempotent write a crash left started is in doubt', () => {
    const deny = refundGrant({ decision: 'deny' });
    expect(plan('0', args[0], { grants: [deny] }).op).toMatchObject({ kind: 'deny', by: 'ops', grant: { id: 'g1' } });
    const plain = { ...tool, idempotent: false };
    const doubt = plan('1', args[1], { tool: plain, rec: { status: 'running', attempts: 1, intentAttempt: 1 } });
    expect(doubt.op.kind).toBe('inDoubt');
    // The same crash on an idempotent write is resent: the server dedupes it by the item's key.
    const resend = plan('1', args[1], {
      rec: { status: 'running', attempts: 1, intentAttempt: 1 },
      approvedHash: hash(args[1]),
    });
    expect(resend.op.kind).toBe('call');
  });
});
