/** A tool whose annotations an override loosened is shown as such wherever a person decides about it. */
import { describe, expect, it } from 'vitest';
import { toToolInfo } from '../../src/connectors/catalog.ts';
import { applyOverrides } from '../../src/connectors/overrides.ts';
import { formatConfirmation } from '../../src/cli/format.ts';
import type { ConfirmationRecord } from '../../src/runs/records.ts';
import { elicitationMessage } from '../../src/server/mcp/confirm.ts';
import { confirmationCard } from '../../src/server/ui/confirmation.ts';
import { decideGate } from '../../src/worker/gate.ts';
import { refundStep } from '../helpers/steps.ts';

// A write the server leaves unannotated, made idempotent by the config: still a write, so it asks.
const tool = applyOverrides(toToolInfo('slack', { name: 'slack_post_message', inputSchema: { type: 'object' } }), [
  { match: 'slack_*', annotations: { idempotentHint: true }, pos: { line: 1, col: 1 } },
]);
const step = refundStep({ id: 'post', connector: 'slack', tool: 'slack_post_message', retry: { attempts: 1, backoffMs: 0 } });

describe('a loosened tool at the gate', () => {
  const gate = decideGate({
    workflow: 'wf',
    step,
    tool,
    arguments: { text: 'hi' },
    argumentsHash: 'h',
    policy: { allowUnconfirmed: [], confirmationTtlMs: 1000 },
  });

  it('carries what was loosened and what the server said into the confirmation', () => {
    expect(gate.kind).toBe('ask');
    if (gate.kind !== 'ask') return;
    expect(gate.payload).toMatchObject({
      annotations: { idempotentHint: true },
      loosened: ['idempotentHint'],
      serverAnnotations: {},
    });
  });

  it("says so on the page, in the CLI and in the MCP facade's text", () => {
    if (gate.kind !== 'ask') throw new Error('expected ask');
    const conf: ConfirmationRecord = {
      ...gate.payload,
      id: 'cf_1',
      runId: 'run_1',
      stepId: 'post',
      workflow: 'wf',
      session: 's',
      status: 'pending',
      createdAt: 0,
      expiresAt: 1,
    };
    expect(String(confirmationCard(conf, { canDecide: true }))).toContain(
      'loosened by tools.overrides: idempotentHint (the server does not declare this)',
    );
    expect(formatConfirmation(conf)).toContain(
      'annotations loosened by tools.overrides: idempotentHint (the server does not declare them)',
    );
    expect(elicitationMessage(conf, { publicUrl: 'http://127.0.0.1:3000' })).toContain(
      "the config's tools.overrides loosened idempotentHint",
    );
  });
});
