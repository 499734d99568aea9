import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { explainRules } from '../../src/policy/evaluate.ts';
import { formatMoney } from '../../src/policy/money.ts';
import type { PolicyVerdict } from '../../src/policy/types.ts';
import { confirmationPolicyLines, explanationLines } from '../../src/policy/words.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { planStep } from '../../src/worker/plan.ts';
import { explainFor, ruleContext } from '../../src/worker/rule-context.ts';
import { loadConfig } from '../../src/workflows/load.ts';
import { ROOT } from '../helpers/app.ts';
import { refundStep as callStep } from '../helpers/steps.ts';
import { issueLines } from '../workflows/helpers.ts';

// The rules, their words and the plan's new operations, with no Redis and no server.
const shipped = loadConfig(join(ROOT, 'workflows.yaml'));
const refundTool: ToolInfo = {
  connector: 'stripe',
  name: 'create_refund',
  inputSchema: { type: 'object' },
  annotations: { destructiveHint: true },
  write: true,
  idempotent: true,
};
const pos = { line: 1, col: 1 };
const refundStep = callStep({ retry: { attempts: 1, backoffMs: 1 }, pos });

function refundRun(refundable: number): RunRecord {
  return {
    id: 'r1',
    workflow: 'refund-and-notify',
    version: 'v',
    session: 's',
    owner: 'ops',
    status: 'running',
    inputs: {},
    createdAt: 0,
    updatedAt: 0,
    definition: { name: 'refund-and-notify', description: '', inputs: {}, steps: [refundStep], expose: false, version: 'v', pos },
    steps: {
      charge: { id: 'charge', status: 'succeeded', attempts: 1, output: { amount_refundable: refundable, currency: 'usd' } },
      refund: { id: 'refund', status: 'pending', attempts: 0 },
    },
  };
}

async function verdict(amount: number, refundable: number): Promise<PolicyVerdict> {
  const run = refundRun(refundable);
  return (await explainFor(shipped.policy, ruleContext(run, refundStep, refundTool, { charge_id: 'ch_1', amount }))).verdict;
}

describe('money in words', () => {
  it('reads minor units with the currency’s own decimals', () => {
    expect(formatMoney(2000, 'usd')).toBe('20.00 USD');
    expect(formatMoney(123456789, 'eur')).toBe('1,234,567.89 EUR');
    expect(formatMoney(500, 'jpy')).toBe('500 JPY');
  });
});

describe('the shipped refund rules, first match wins', () => {
  it('approves 20.00 USD by itself, naming the rule and the amount', async () => {
    const v = await verdict(2000, 12000);
    expect(v).toMatchObject({ kind: 'rule', rule: 'small-refunds', effect: 'approve', money: { text: '20.00 USD' } });
  });
  it('asks one person between 50.00 and 500.00 USD (no rule matches)', async () => {
    expect(await verdict(7500, 12000)).toEqual({ kind: 'default', money: { amount: 7500, currency: 'usd', text: '75.00 USD' } });
  });
  it('needs two finance approvers for 600.00 USD', async () => {
    const v = await verdict(60000, 90000);
    expect(v).toMatchObject({ rule: 'large-refunds', effect: 'require', require: { approvers: 2, group: 'finance' } });
    expect(confirmationPolicyLines({ policy: v, approvals: [{ by: 'finance-alice' }], owner: 'ops' })).toEqual([
      'Amount: 600.00 USD',
      'Policy: Rule "large-refunds" (refunds above 500.00 USD need two approvers from finance) applies to this call of 600.00 USD: it needs 2 different approvers from group "finance", and the person who started the run cannot be one of them.',
      'Quorum: 1 of 2 approvals so far (finance-alice); 1 more needed from group "finance".',
      "'ops' started this run and cannot approve it.",
    ]);
  });
  it('denies a refund above what the charge has left before any amount rule', async () => {
    expect(await verdict(4000, 3000)).toMatchObject({ rule: 'refund-above-charge', effect: 'deny' });
  });
  it('explains which rule decides and why the earlier ones did not', async () => {
    const run = refundRun(90000);
    const e = await explainFor(shipped.policy, ruleContext(run, refundStep, refundTool, { charge_id: 'ch_1', amount: 60000 }));
    expect(e.trace).toEqual([
      { rule: 'refund-above-charge', outcome: 'condition false' },
      { rule: 'small-refunds', outcome: 'condition false' },
      { rule: 'large-refunds', outcome: 'matched' },
    ]);
    expect(explanationLines(e)[2]).toBe('  · small-refunds: skipped (condition false)');
  });
  it('leaves another tool to the default', async () => {
    const e = await explainRules(
      { rules: shipped.policy.rules ?? [], money: [] },
      ruleContext(undefined, undefined, { connector: 'slack', name: 'post_message', write: true, annotations: {} }, {}),
    );
    expect(e.verdict).toEqual({ kind: 'default' });
    expect(e.trace.every((t) => t.outcome === 'other tool')).toBe(true);
  });
  it('stops with POLICY_ERROR when a condition cannot be evaluated, rather than skip the rule', async () => {
    const ctx = ruleContext(refundRun(1), refundStep, refundTool, { amount: 1 });
    await expect(
      explainRules({ rules: [{ name: 'broken', tool: '*', when: '$number("x")', effect: 'approve' }], money: [] }, ctx),
    ).rejects.toMatchObject({ code: 'POLICY_ERROR' });
  });
});

describe('allow_unconfirmed as a rule', () => {
  it('approves the named write only when its step says confirm: never', async () => {
    const policy = { allowUnconfirmed: ['stripe.create_refund'], confirmationTtlMs: 1 };
    const never = await explainFor(policy, ruleContext(refundRun(1), { ...refundStep, confirm: 'never' }, refundTool, {}));
    expect(never.verdict).toMatchObject({ kind: 'rule', rule: 'allow_unconfirmed: stripe.create_refund', effect: 'approve' });
    const auto = await explainFor(policy, ruleContext(refundRun(1), refundStep, refundTool, {}));
    expect(auto.verdict).toEqual({ kind: 'default' });
  });
});

describe('the plan with a verdict (pure, no Redis)', () => {
  const plan = (v: PolicyVerdict, approvedHash?: string) => {
    const run = refundRun(12000);
    return planStep({
      run,
      step: refundStep,
      rec: { ...run.steps.refund, ...(approvedHash ? { approvedHash } : {}) },
      facts: {
        kind: 'tool',
        args: { amount: 1 },
        tool: refundTool,
        enabled: true,
        changed: [],
        // A remembered approval that covers the call: a quorum rule still asks (see below).
        grants: [
          {
            id: 'g1',
            session: run.session,
            connector: refundTool.connector,
            tool: refundTool.name,
            decision: 'approve',
            scope: 'arguments',
            constraints: [],
            at: 0,
            uses: 0,
          },
        ],
        verdict: v,
      },
      policy: shipped.policy,
      undeliveredAttempt: undefined,
      now: Date.now(),
    });
  };
  const rule = (effect: 'approve' | 'deny' | 'require'): PolicyVerdict => ({
    kind: 'rule',
    rule: 'r',
    effect,
    ...(effect === 'require' ? { require: { approvers: 2, group: 'finance' } } : {}),
  });
  it('a deny rule stops the write without asking, naming the rule', () => {
    expect(plan(rule('deny'))).toMatchObject({ kind: 'deny', rule: { rule: 'r' } });
  });
  it('an approve rule calls it with the rule as the note', () => {
    expect(plan(rule('approve'))).toMatchObject({ kind: 'call', note: { kind: 'rule', verdict: { rule: 'r' } } });
  });
  it('a quorum asks even with a remembered approval, carrying the quorum in the payload', () => {
    const op = plan(rule('require'));
    expect(op).toMatchObject({ kind: 'ask', payload: { policy: { require: { approvers: 2, group: 'finance' } } } });
  });
  it('a quorum that approved exactly this hash lets it through', () => {
    const asked = plan(rule('require'));
    const hash = asked.kind === 'ask' ? asked.payload.argumentsHash : '';
    expect(plan(rule('require'), hash)).toMatchObject({ kind: 'call', note: undefined });
  });
});

describe('interlock validate on rules', () => {
  const file = (policy: string) => `
connectors:
  stripe: { transport: stdio, command: interlock, args: [connector, stripe] }
policy:
${policy}
workflows:
  w:
    description: x
    inputs: { type: object }
    steps:
      - id: s
        call: stripe.create_refund
        with: { charge_id: ch_1 }
`;
  const problems = (policy: string): string[] => issueLines(file(policy));

  it('names bad JSONata, an unknown effect, an unknown group and too few approvers, each at its line and column', () => {
    expect(
      problems(`  groups: { finance: [alice] }
  rules:
    - { name: a, tool: stripe.create_refund, when: "args.amount <=", effect: approve }
    - { name: b, tool: stripe.create_refund, effect: allow }
    - { name: c, tool: stripe.create_refund, require: { approvers: 0, group: finance } }
    - { name: d, tool: stripe.create_refund, require: { approvers: 2, group: finanse } }`),
    ).toEqual([
      '7:52 policy rule "a" when is not valid JSONata: Unexpected end of expression (at character 14 of the expression)',
      '8:54 unknown effect "allow" in policy rule "b"; use approve, deny or require',
      '9:68 policy rule "c" require approvers must be a whole number of at least 1, not 0',
      '10:78 unknown group "finanse" (did you mean "finance"?): neither policy.groups nor any token\'s groups name it (groups: finance)',
    ]);
  });
  it('takes a group from a token’s groups', () => {
    const ok = `  rules:
    - { name: q, tool: "stripe.*", require: { approvers: 2, group: finance } }
tokens:
  - { name: alice, token: "\${env:ALICE}", scopes: [confirm], groups: [finance] }`;
    expect(problems(ok)).toEqual([]);
  });
});
