import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { decideGate } from '../../src/worker/gate.ts';
import type { PolicyConfig } from '../../src/workflows/types.ts';
import { refundStep } from '../helpers/steps.ts';

const policy: PolicyConfig = { allowUnconfirmed: [], confirmationTtlMs: 1000 };
const write: ToolInfo = {
  connector: 'stripe',
  name: 'create_refund',
  title: 'Refund a charge',
  description: 'Refunds',
  inputSchema: {},
  outputSchema: { type: 'object' },
  annotations: { destructiveHint: true },
  write: true,
  idempotent: true,
};
const read: ToolInfo = { ...write, name: 'retrieve_charge', annotations: { readOnlyHint: true }, write: false };
const step = refundStep;
const base = { workflow: 'wf', arguments: { charge: 'ch_1' }, argumentsHash: 'h1', policy };

describe('the gate', () => {
  it('lets a read through without asking', () => {
    expect(decideGate({ ...base, step: step({ tool: 'retrieve_charge' }), tool: read })).toEqual({
      kind: 'proceed',
      via: 'read',
    });
  });

  it('asks before a write and returns the exact payload to show', () => {
    const d = decideGate({ ...base, step: step(), tool: write });
    expect(d).toEqual({
      kind: 'ask',
      payload: {
        connector: 'stripe',
        tool: 'create_refund',
        title: 'Refund a charge',
        description: 'Refunds',
        annotations: { destructiveHint: true },
        arguments: { charge: 'ch_1' },
        argumentsHash: 'h1',
        outputSchema: { type: 'object' },
        reason: 'write',
      },
    });
  });

  it('proceeds only when the approved hash is the hash of these arguments', () => {
    expect(decideGate({ ...base, step: step(), tool: write, approvedHash: 'h1' })).toEqual({ kind: 'proceed', via: 'approved' });
    expect(decideGate({ ...base, step: step(), tool: write, approvedHash: 'other' }).kind).toBe('ask');
  });

  it('asks even for a read when the step says confirm: always', () => {
    const d = decideGate({ ...base, step: step({ confirm: 'always', tool: 'retrieve_charge' }), tool: read });
    expect(d.kind).toBe('ask');
    expect(d.kind === 'ask' && d.payload.reason).toBe('always');
  });

  it('honours confirm: never on a write only when policy names it', () => {
    expect(decideGate({ ...base, step: step({ confirm: 'never' }), tool: write }).kind).toBe('ask');
    const named = { ...policy, allowUnconfirmed: ['stripe.create_refund'] };
    expect(decideGate({ ...base, policy: named, step: step({ confirm: 'never' }), tool: write })).toEqual({
      kind: 'proceed',
      via: 'policy',
    });
    const byStep = { ...policy, allowUnconfirmed: ['wf.refund'] };
    expect(decideGate({ ...base, policy: byStep, step: step({ confirm: 'never' }), tool: write }).kind).toBe('proceed');
  });
});
