import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { approvePlan, currentPlan } from '../../src/engine/plans.ts';
import type { AuditEntry } from '../../src/runs/audit.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { canonicalJson, sha256Hex } from '../../src/workflows/canonical.ts';
import { callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { configYaml } from '../helpers/workflows.ts';

/**
 * Property, end to end through Redis, the workers and a real MCP server over stdio: over generated
 * runs of five writes each (2,000 argument sets), decided by policy rules, people,
 * scoped grants and approved plans in a random mix, every write the server received has an
 * `approve` in the audit bound to exactly its arguments' hash, from a person, a rule, a grant or a
 * plan; nothing denied was sent; nothing was sent twice; and every audit entry names its hash.
 */
const WRITES = ['w1', 'w2', 'w3', 'w4', 'w5'] as const;
const batch = `
  batch:
    description: a read, then five gated writes of the amounts given
    inputs:
      type: object
      required: [name, ${WRITES.join(', ')}]
      properties:
        name: { type: string }
${WRITES.map((w) => `        ${w}: { type: integer }`).join('\n')}
    steps:
      - id: look
        call: test.echo
        with: { text: "\${{ inputs.name }}" }
${WRITES.map(
  (w) => `      - id: ${w}
        call: test.record
        with: { name: "\${{ steps.look.output.text }}", value: { amount: "\${{ inputs.${w} }}" } }`,
).join('\n')}`;
const POLICY = `
policy:
  confirmation_ttl: 1h
  rules:
    - { name: huge, tool: test.record, when: "args.value.amount > 900", effect: deny }
    - { name: small, tool: test.record, when: "args.value.amount <= 100", effect: approve }
`;

const log = callLogPath();
const it = appTest({ yaml: configYaml({ connectors: testConnectorYaml(log), workflows: [batch], extra: POLICY }) });

type Choice = 'approve' | 'deny' | 'grant' | 'plan' | 'leave';
const SESSION = 'audit-prop';
const RUNS = Number(process.env.AUDIT_PROP_RUNS ?? 400);

describe('property: no write is sent without a decision in the audit bound to its hash', () => {
  it(`holds over ${RUNS} generated runs of ${WRITES.length} writes, decided by rules, people, grants and plans`, async ({
    app,
  }) => {
    const amount = fc.oneof(
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 101, max: 900 }),
      fc.integer({ min: 901, max: 1000 }),
    );
    const cases = fc.sample(
      fc.record({
        name: fc.constantFrom('ana', 'bo', 'cy'),
        amounts: fc.tuple(amount, amount, amount, amount, amount),
        choices: fc.array(fc.constantFrom<Choice>('approve', 'approve', 'grant', 'plan', 'deny', 'leave'), {
          minLength: 5,
          maxLength: 5,
        }),
      }),
      { numRuns: RUNS, seed: 1818 },
    );
    const getTool = (c: string, t: string) => app.pool.getTool(c, t);
    const runs: RunRecord[] = [];
    for (const k of cases) {
      const inputs = Object.fromEntries(WRITES.map((w, i) => [w, k.amounts[i]]));
      const { run } = await app.engine.trigger('batch', { name: k.name, ...inputs }, { session: SESSION });
      let asked = 0;
      for (;;) {
        const r = await waitForStatus(app, run.id, ['awaiting_confirmation', 'succeeded', 'failed', 'denied', 'cancelled']);
        if (r.status !== 'awaiting_confirmation') {
          runs.push(r);
          break;
        }
        const step = Object.values(r.steps).find((s) => s.status === 'awaiting_confirmation' && s.confirmationId);
        const conf = step?.confirmationId ? await app.store.requireConfirmation(step.confirmationId) : undefined;
        if (conf?.status !== 'pending') {
          // Decided a moment ago; the run moves on in the worker.
          await sleep(20);
          continue;
        }
        const choice = k.choices[asked++ % k.choices.length];
        const by = { by: 'local', channel: 'api' as const };
        if (choice === 'approve') await app.engine.approve(conf.id, conf.argumentsHash, by);
        else if (choice === 'deny') await app.engine.deny(conf.id, by);
        else if (choice === 'grant')
          await app.engine.approve(conf.id, conf.argumentsHash, {
            ...by,
            remember: { scope: 'arguments', fields: ['value.amount'], uses: 3 },
          });
        else if (choice === 'plan') {
          const view = await currentPlan(app.engine, getTool, run.id);
          const r2 = await approvePlan(app.engine, getTool, run.id, view.plan.planHash, by).catch(() => undefined);
          if (!r2?.confirmation) await app.engine.approve(conf.id, conf.argumentsHash, by);
        } else await app.engine.cancel(run.id, 'test');
      }
    }

    const entries: AuditEntry[] = (await app.store.audit.list({ limit: 10_000 })).entries;
    const sent = readCalls(log).filter((c) => c.tool === 'record');
    const byRunStep = new Map<string, AuditEntry[]>();
    for (const e of entries) {
      // Every entry names the hash it was bound to.
      expect(e.argumentsHash, JSON.stringify(e)).toMatch(/^[0-9a-f]{64}$/);
      const key = `${e.runId}/${e.stepId}`;
      byRunStep.set(key, [...(byRunStep.get(key) ?? []), e]);
    }
    const runIds = new Set(runs.map((r) => r.id));
    const sources = new Set<string>();
    for (const call of sent) {
      const m = /^interlock-(.+)-(w\d)$/.exec(call.idempotencyKey ?? '');
      expect(m, JSON.stringify(call)).not.toBeNull();
      const [, runId, stepId] = m as RegExpExecArray;
      expect(runIds.has(runId)).toBe(true);
      const hash = sha256Hex(canonicalJson(call.args));
      const approvals = (byRunStep.get(`${runId}/${stepId}`) ?? []).filter((e) => e.decision === 'approve');
      const match = approvals.find((e) => e.argumentsHash === hash);
      expect(match, `${runId}/${stepId} was sent without an approval bound to ${hash}`).toBeDefined();
      const source = (match as AuditEntry).source;
      sources.add(source.kind);
      const amountSent = (call.args.value as { amount: number }).amount;
      if (source.kind === 'rule') {
        expect(source.rule).toBe('small');
        expect(amountSent).toBeLessThanOrEqual(100);
      }
      expect(
        amountSent,
        JSON.stringify({ call, match, run: runs.find((r) => r.id === runId)?.steps[stepId] }),
      ).toBeLessThanOrEqual(900);
      // A denial of the same write never sits beside a send.
      expect((byRunStep.get(`${runId}/${stepId}`) ?? []).some((e) => e.decision === 'deny')).toBe(false);
    }
    expect(sent.length).toBe(new Set(sent.map((c) => c.idempotencyKey)).size);
    // The mix reached every kind of decision, and a good share of the writes.
    expect([...sources].sort()).toEqual(['grant', 'person', 'plan', 'rule']);
    expect(sent.length).toBeGreaterThan(RUNS);
    expect(entries.filter((e) => e.decision === 'deny').length).toBeGreaterThan(0);
  }, 300_000);
});
