import { describe, expect, it } from 'vitest';
import { formatConfirmation } from '../../src/cli/format.ts';
import type { ConfirmationRecord } from '../../src/runs/records.ts';
import { elicitationMessage } from '../../src/server/mcp/confirm.ts';
import { confirmationView, runText, runView } from '../../src/server/mcp/results.ts';
import type { RunRecord } from '../../src/runs/records.ts';

// The same words about the rule, the quorum and the amount in the CLI (and `interlock chat`, which
// prints formatConfirmation), the MCP facade's answers and its elicitation message.
const conf: ConfirmationRecord = {
  id: 'c_r1_1000',
  runId: 'r1',
  stepId: 'refund',
  workflow: 'refund-and-notify',
  session: 's',
  owner: 'ops',
  connector: 'stripe',
  tool: 'create_refund',
  annotations: { destructiveHint: true },
  arguments: { charge_id: 'ch_1', amount: 60000 },
  argumentsHash: 'a'.repeat(64),
  reason: 'write',
  status: 'pending',
  createdAt: 0,
  expiresAt: 1,
  policy: {
    kind: 'rule',
    rule: 'large-refunds',
    effect: 'require',
    require: { approvers: 2, group: 'finance' },
    money: { amount: 60000, currency: 'usd', text: '600.00 USD' },
  },
  approvals: [{ by: 'finance-alice', channel: 'ui', at: 1 }],
};
const QUORUM = 'Quorum: 1 of 2 approvals so far (finance-alice); 1 more needed from group "finance".';

describe('rule and quorum in words everywhere a person decides', () => {
  it('the CLI (and chat) show the amount, the rule, the quorum and how each approver approves', () => {
    const text = formatConfirmation(conf);
    expect(text).toContain('Amount: 600.00 USD');
    expect(text).toContain('Policy: Rule "large-refunds" applies to this call of 600.00 USD');
    expect(text).toContain(QUORUM);
    expect(text).toContain('npx interlock approve c_r1_1000 --as <approver>');
  });
  it('the MCP facade says it in its text and in structuredContent', () => {
    const run = {
      id: 'r1',
      workflow: 'refund-and-notify',
      status: 'awaiting_confirmation',
      definition: { steps: [] },
      steps: {},
    } as unknown as RunRecord;
    const v = runView(run, conf, {});
    expect(confirmationView(conf, {}).policy).toContain(QUORUM);
    expect(runText(v)).toContain("'ops' started this run and cannot approve it.");
    expect(elicitationMessage(conf, {})).toContain('Amount: 600.00 USD');
  });
});
