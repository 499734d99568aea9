import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { it as pure } from 'vitest';
import { type Constraint, constraintFor, fieldChoices } from '../../src/grants/constraints.ts';
import { type ScopedGrant, pickGrant, standing } from '../../src/grants/grant.ts';
import { canonicalJson, sha256Hex } from '../../src/workflows/canonical.ts';
import { callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { configYaml, payWorkflow } from '../helpers/workflows.ts';

/** The rule as a person reads it, written out again independently of constraints.ts. */
function oracle(c: Constraint, args: Record<string, unknown>): boolean {
  let v: unknown = args;
  for (const p of c.field.split('.'))
    v = v && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, p) ? (v as Record<string, unknown>)[p] : undefined;
  if (v === undefined) return false;
  if (c.op === 'lte') return typeof v === 'number' && v <= c.max;
  return canonicalJson(v) === canonicalJson(c.value);
}

const argsArb = fc.record({
  charge_id: fc.constantFrom('ch_1', 'ch_2', 'ch_3'),
  amount: fc.integer({ min: 0, max: 5000 }),
  channel: fc.constantFrom('C1', 'C2'),
  metadata: fc.record({ order: fc.constantFrom('o1', 'o2'), amount_off: fc.integer({ min: 0, max: 100 }) }),
});

describe('property: a grant never lets through arguments outside its constraint', () => {
  pure('over thousands of generated grants and calls, whatever a grant lets through satisfies every constraint it names', () => {
    const grantArb = fc
      .tuple(
        argsArb,
        fc.subarray(['charge_id', 'amount', 'channel', 'metadata.order', 'metadata.amount_off'], { minLength: 1 }),
        fc.boolean(),
        fc.nat(3),
        fc.constantFrom<'payload' | 'arguments'>('payload', 'arguments'),
      )
      .map(([approved, fields, deny, n, scope]): ScopedGrant => {
        const choices = new Map(fieldChoices(approved, 'usd').map((c) => [c.field, c.constraint]));
        return {
          id: `g${n}${fields.join()}`,
          session: 's',
          connector: 'stripe',
          tool: 'create_refund',
          decision: deny ? 'deny' : 'approve',
          scope,
          ...(scope === 'payload'
            ? { argumentsHash: sha256Hex(canonicalJson(approved)) }
            : { constraints: fields.map((f) => choices.get(f) ?? constraintFor(f, undefined)) }),
          by: 'alice',
          owner: 'alice',
          at: n,
          uses: 0,
        };
      });
    fc.assert(
      fc.property(fc.array(grantArb, { minLength: 1, maxLength: 4 }), argsArb, (grants, args) => {
        const call = {
          connector: 'stripe',
          tool: 'create_refund',
          args,
          argumentsHash: sha256Hex(canonicalJson(args)),
          owner: 'alice',
        };
        const g = pickGrant(grants, call, 10);
        if (!g) {
          expect(grants.every((x) => standing(x, call, 10) !== 'covers')).toBe(true);
          return;
        }
        if (g.scope === 'payload') expect(g.argumentsHash).toBe(call.argumentsHash);
        else for (const c of g.constraints ?? []) expect(oracle(c, args)).toBe(true);
        if (g.decision === 'approve')
          expect(grants.some((x) => x.decision === 'deny' && standing(x, call, 10) === 'covers')).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });
});

const log = callLogPath();
const it = appTest({
  yaml: configYaml({ connectors: testConnectorYaml(log), workflows: [payWorkflow({ amount: {} })] }),
});

describe('property, end to end through Redis: no write is sent without a decision naming its hash', () => {
  it('runs generated payments in one session with a scoped grant, a person deciding the rest, and checks every sent write', async ({
    app,
  }) => {
    const session = 'prop';
    const first = await app.engine.trigger('pay', { name: 'p0', amount: 500 }, { session });
    const p0 = await waitForStatus(app, first.run.id, ['awaiting_confirmation']);
    const c0 = await app.store.requireConfirmation(p0.steps.write.confirmationId!);
    await app.engine.approve(c0.id, c0.argumentsHash, {
      by: 'local',
      channel: 'api',
      remember: { scope: 'arguments', fields: ['value.amount'], uses: 12 },
    });
    const cases = fc.sample(
      fc.record({
        name: fc.constantFrom('ana', 'bo', 'cy'),
        amount: fc.integer({ min: 1, max: 1000 }),
        decide: fc.constantFrom('approve', 'deny', 'leave'),
      }),
      {
        numRuns: 40,
        seed: 18,
      },
    );
    const runIds = [first.run.id];
    for (const k of cases) {
      const { run } = await app.engine.trigger('pay', { name: k.name, amount: k.amount }, { session });
      runIds.push(run.id);
      const r = await waitForStatus(app, run.id, ['awaiting_confirmation', 'succeeded', 'failed', 'denied']);
      if (r.status !== 'awaiting_confirmation') continue;
      const conf = await app.store.requireConfirmation(r.steps.write.confirmationId!);
      if (k.decide === 'approve') await app.engine.approve(conf.id, conf.argumentsHash, { by: 'local', channel: 'api' });
      else if (k.decide === 'deny') await app.engine.deny(conf.id, { by: 'local', channel: 'api' });
      else await app.engine.cancel(run.id, 'test');
      await waitForStatus(app, run.id, ['succeeded', 'failed', 'denied', 'cancelled']);
    }
    const grant = (await app.store.grants.list({ session, all: true }))[0];
    const sent = readCalls(log).filter((c) => c.tool === 'record');
    let byGrant = 0;
    for (const call of sent) {
      const runId = runIds.find((id) => call.idempotencyKey === `interlock-${id}-write`);
      expect(runId, JSON.stringify(call)).toBeDefined();
      const run = await app.store.requireRun(runId!);
      const conf = await app.store.requireConfirmation(run.steps.write.confirmationId!);
      expect(conf.status).toBe('approved');
      expect(conf.argumentsHash).toBe(sha256Hex(canonicalJson(call.args)));
      expect(conf.decidedBy).toBeTruthy();
      expect(conf.channel).toBeTruthy();
      if (conf.channel === 'grant') {
        byGrant++;
        expect(conf.grantId).toBe(grant.id);
        expect((call.args.value as { amount: number }).amount).toBeLessThanOrEqual(500);
      }
    }
    expect(byGrant).toBe(grant.uses);
    expect(byGrant).toBeGreaterThan(0);
    expect(byGrant).toBeLessThanOrEqual(12);
    expect(sent.length).toBe(new Set(sent.map((c) => c.idempotencyKey)).size);
  });
});
