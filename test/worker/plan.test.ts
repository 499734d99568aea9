import { describe, expect, it } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { loginRequired } from '../../src/connectors/oauth/login-required.ts';
import { InterlockError } from '../../src/errors.ts';
import type { Grant, RunRecord, StepRecord } from '../../src/runs/records.ts';
import { type PlanInput, type StepFacts, WAIT_FOR_COMMIT_MS, planPosition, planStep, resolved } from '../../src/worker/plan.ts';
import type { CallStep, LlmStep, PolicyConfig, StepDef } from '../../src/workflows/types.ts';
import { refundStep } from '../helpers/steps.ts';

// Every operation planStep and planPosition can return, from facts typed in here: no Redis, no server.
const pos = { line: 1, col: 1 };
// A write on another connector than the refund, retried three times.
const send = refundStep({ id: 'send', connector: 'mail', tool: 'send', retry: { attempts: 3, backoffMs: 100 } });
const look: CallStep = { ...send, id: 'look', tool: 'look' };
const draft: LlmStep = {
  kind: 'llm',
  id: 'draft',
  connector: 'llm',
  tool: 'gpt-test',
  with: { instructions: 'be brief', input: 'x' },
  outputSchema: { type: 'object' },
  confirm: 'auto',
  retry: { attempts: 1, backoffMs: 100 },
  pos,
  keyPos: {},
};
const policy: PolicyConfig = { allowUnconfirmed: [], confirmationTtlMs: 60_000 };
const schema = { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] };
const write: ToolInfo = { connector: 'mail', name: 'send', inputSchema: schema, annotations: {}, write: true, idempotent: false };
const read: ToolInfo = {
  connector: 'mail',
  name: 'look',
  inputSchema: schema,
  annotations: { readOnlyHint: true },
  write: false,
  idempotent: false,
};

function stepRec(id: string, over: Partial<StepRecord> = {}): StepRecord {
  return { id, status: 'pending', attempts: 0, ...over };
}

function runWith(
  steps: StepDef[],
  recs: Record<string, Partial<StepRecord>> = {},
  status: RunRecord['status'] = 'running',
): RunRecord {
  return {
    id: 'r1',
    workflow: 'notify',
    version: 'v1',
    session: 's1',
    status,
    inputs: {},
    createdAt: 0,
    updatedAt: 0,
    definition: { name: 'notify', description: '', inputs: {}, steps, expose: false, version: 'v1', pos },
    steps: Object.fromEntries(steps.map((s) => [s.id, stepRec(s.id, recs[s.id])])),
  };
}

function toolFacts(over: Partial<Extract<StepFacts, { kind: 'tool' }>> = {}): StepFacts {
  return { kind: 'tool', args: { to: 'a@example.com' }, tool: write, enabled: true, changed: [], grants: [], ...over };
}

function plan(facts: StepFacts, over: Partial<PlanInput> = {}) {
  const run = over.run ?? runWith([send]);
  const step = over.step ?? send;
  return planStep({
    now: 1000,
    run,
    step,
    rec: run.steps[step.id] ?? stepRec(step.id),
    facts,
    policy,
    undeliveredAttempt: undefined,
    ...over,
  });
}

describe('planPosition: where a step job stands in its run', () => {
  it('stops when the run is gone, finished, paused for attention, or does not know the step', () => {
    expect(planPosition(undefined, 'send', 0)).toEqual({ kind: 'stop', outcome: 'missing' });
    expect(planPosition(runWith([send], {}, 'cancelled'), 'send', 0)).toEqual({ kind: 'stop', outcome: 'run cancelled' });
    expect(planPosition(runWith([send], {}, 'needs_attention'), 'send', 0)).toEqual({
      kind: 'stop',
      outcome: 'run needs_attention',
    });
    expect(planPosition(runWith([send]), 'nope', 0)).toEqual({ kind: 'stop', outcome: 'unknown step' });
  });

  it('stops on a step that settled another way (failed, awaiting a person, in doubt)', () => {
    expect(planPosition(runWith([send], { send: { status: 'awaiting_confirmation' } }), 'send', 0)).toEqual({
      kind: 'stop',
      outcome: 'step awaiting_confirmation',
    });
  });

  it('finishes only the hand-off of a step committed before a crash, and only while the run runs', () => {
    expect(planPosition(runWith([look, send], { look: { status: 'succeeded' } }), 'look', 0)).toEqual({
      kind: 'alreadyCommitted',
      next: 'send',
    });
    expect(planPosition(runWith([look, send], { look: { status: 'skipped' } }, 'queued'), 'look', 0)).toEqual({
      kind: 'alreadyCommitted',
      next: undefined,
    });
  });

  it('waits for an earlier step, looking again shortly only while its commit may not be visible yet', () => {
    const running = runWith([look, send], { look: { status: 'running' } });
    expect(planPosition(running, 'send', 0)).toEqual({ kind: 'waitForPrevious', prev: 'look', recheck: true });
    expect(planPosition(running, 'send', WAIT_FOR_COMMIT_MS)).toEqual({ kind: 'waitForPrevious', prev: 'look', recheck: false });
    expect(planPosition(runWith([look, send]), 'send', 0)).toEqual({ kind: 'waitForPrevious', prev: 'look', recheck: false });
  });

  it('is ready when every earlier step succeeded or was skipped', () => {
    const run = runWith([look, send], { look: { status: 'skipped' } });
    expect(planPosition(run, 'send', 0)).toMatchObject({
      kind: 'ready',
      step: send,
      next: undefined,
      rec: { status: 'pending' },
    });
  });
});

describe('planStep: what a step whose turn it is does', () => {
  it('skips on a false condition', () => {
    expect(plan({ kind: 'conditionFalse', condition: 'inputs.go' })).toEqual({
      kind: 'skip',
      note: 'condition is false: inputs.go',
    });
  });

  it('fails with the error that resolving or looking up the tool raised', () => {
    const error = new InterlockError('TEMPLATE_ERROR', 'no such input');
    expect(plan({ kind: 'error', error })).toEqual({ kind: 'fail', error, result: {} });
  });

  it('waits for a person to log the connector in when looking up its tool needed a login', () => {
    const error = loginRequired('mail', 'no login yet');
    expect(plan({ kind: 'error', error })).toEqual({ kind: 'awaitLogin', connector: 'mail', error });
    // An llm step has no connector login to wait for: the same error fails it.
    expect(plan({ kind: 'error', error }, { run: runWith([draft]), step: draft }).kind).toBe('fail');
  });

  it('fails, without calling anything, tool facts handed to an llm step', () => {
    const op = plan(toolFacts(), { run: runWith([draft]), step: draft });
    expect(op.kind === 'fail' && (op.error as InterlockError).code).toBe('INTERNAL');
  });

  it('fails a tool an admin turned off, before checking its arguments', () => {
    const op = plan(toolFacts({ enabled: false, args: {} }));
    expect(op.kind === 'fail' && (op.error as InterlockError).code).toBe('TOOL_DISABLED');
  });

  it('fails arguments the tool schema rejects', () => {
    const op = plan(toolFacts({ args: { to: 5 } }));
    expect(op.kind === 'fail' && (op.error as InterlockError).code).toBe('ARGUMENTS_INVALID');
  });

  it('blocks on a tool whose definition changed since it was pinned', () => {
    expect(plan(toolFacts({ changed: ['description'] }))).toEqual({ kind: 'block', tool: write, fields: ['description'] });
  });

  it('puts a plain write in doubt when an earlier attempt recorded its intent', () => {
    const run = runWith([send], { send: { status: 'running', attempts: 1, intentAttempt: 1 } });
    expect(plan(toolFacts(), { run })).toEqual({ kind: 'inDoubt', ...resolved({ to: 'a@example.com' }) });
  });

  it('sends again an attempt this job proved never reached the server, and an idempotent write', () => {
    const run = runWith([send], {
      send: { status: 'running', attempts: 1, intentAttempt: 1, approvedHash: resolved({ to: 'a@example.com' }).argumentsHash },
    });
    expect(plan(toolFacts(), { run, undeliveredAttempt: 1 }).kind).toBe('call');
    expect(plan(toolFacts(), { run, undeliveredAttempt: 0 }).kind).toBe('inDoubt');
    expect(plan(toolFacts({ tool: { ...write, idempotent: true } }), { run }).kind).toBe('call');
  });

  it('asks a person about a write, with the exact payload', () => {
    const op = plan(toolFacts());
    expect(op).toMatchObject({
      kind: 'ask',
      payload: { connector: 'mail', tool: 'send', arguments: { to: 'a@example.com' }, reason: 'write' },
    });
  });

  const toolGrant = (over: Partial<Grant>): Grant => ({
    id: 'g1',
    session: 's1',
    connector: 'mail',
    tool: 'send',
    decision: 'approve',
    scope: 'tool',
    by: 'alice',
    at: 1,
    uses: 0,
    ...over,
  });

  it('denies a write a remembered decision denies, naming who made it', () => {
    const grant = toolGrant({ decision: 'deny' });
    expect(plan(toolFacts({ grants: [grant] }))).toEqual({
      kind: 'deny',
      by: 'alice',
      grant,
      ...resolved({ to: 'a@example.com' }),
    });
  });

  it('lets a write a remembered decision approves through on record, with the payload to ask with if the grant is gone by then', () => {
    const grant = toolGrant({});
    expect(plan(toolFacts({ grants: [grant] }))).toMatchObject({
      kind: 'callCovered',
      tool: write,
      cover: { by: 'grant', grant },
      payload: { arguments: { to: 'a@example.com' } },
    });
  });

  it('calls a write a person approved with these exact arguments, and no other', () => {
    const hash = resolved({ to: 'a@example.com' }).argumentsHash;
    const run = runWith([send], { send: { approvedHash: hash } });
    expect(plan(toolFacts(), { run })).toMatchObject({ kind: 'call', argumentsHash: hash, note: undefined });
    expect(plan(toolFacts({ args: { to: 'b@example.com' } }), { run }).kind).toBe('ask');
  });

  it('calls a read without asking, noting a read only by override', () => {
    expect(plan(toolFacts({ tool: read }), { step: look })).toMatchObject({ kind: 'call', note: undefined });
    const loosened: ToolInfo = { ...read, loosened: ['readOnlyHint'] };
    expect(plan(toolFacts({ tool: loosened }), { step: look })).toMatchObject({
      kind: 'call',
      note: { kind: 'ungatedByOverride', loosened: ['readOnlyHint'] },
    });
  });

  it('asks a model for an llm step, recording the request as its arguments', () => {
    const req = { model: 'gpt-test', instructions: 'be brief', input: 'x' };
    const run = runWith([draft]);
    expect(plan({ kind: 'model', req }, { run, step: draft })).toEqual({ kind: 'callModel', req, ...resolved(req) });
  });
});
