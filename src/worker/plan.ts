/**
 * What one step job is going to do, decided before anything is done: the way Inngest describes a
 * step before running it. Everything here is pure (no Redis, no connector, no clock but the one
 * passed in), so every rule is unit-tested on its own (test/worker/plan.test.ts); the processor
 * gathers the facts and execute.ts / call.ts carry the operation out.
 */
import { validateArguments } from '../connectors/arguments.ts';
import { isLoginRequired } from '../connectors/oauth/login-required.ts';
import type { ToolInfo } from '../connectors/types.ts';
import { InterlockError } from '../errors.ts';
import type { LlmRequest } from '../llm/caller.ts';
import type { ConfirmationPayload, Grant, RunRecord, StepRecord } from '../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../runs/records.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import type { PolicyConfig, StepDef } from '../workflows/types.ts';
import { decideGate } from './gate.ts';

/** How long a job that arrived before the commit that enqueued it looks again (see waitForPrevious). */
export const WAIT_FOR_COMMIT_MS = 10_000;

/** The record a step writes with its outcome: the resolved arguments and their hash. */
export interface Resolved {
  args: Record<string, unknown>;
  argumentsHash: string;
}

/** Proceeding past the gate leaves a trace on record when a grant or a loosened override let it through. */
export type GateNote = { kind: 'remembered'; grant: Grant | undefined } | { kind: 'ungatedByOverride'; loosened: string[] };

export type StepOp =
  /** nothing to do: the run is gone or finished, or the step settled some other way */
  | { kind: 'stop'; outcome: string }
  /** committed before a crash that came ahead of the enqueue: only the hand-off is left */
  | { kind: 'alreadyCommitted'; next: string | undefined }
  /** an earlier step has not finished; `recheck` when its commit may just not be visible yet */
  | { kind: 'waitForPrevious'; prev: string; recheck: boolean }
  | { kind: 'skip'; note: string }
  | { kind: 'fail'; error: unknown; result: Record<string, unknown> }
  /** the tool's definition changed since it was pinned: pause until an admin approves it */
  | { kind: 'block'; tool: ToolInfo; fields: string[] }
  /** the connector needs a person to log in (none yet, expired beyond refresh, revoked, more scope): pause until then */
  | { kind: 'awaitLogin'; connector: string; error: InterlockError }
  /** a previous attempt of a plain write may have reached the server */
  | ({ kind: 'inDoubt' } & Resolved)
  | { kind: 'ask'; payload: ConfirmationPayload }
  | ({ kind: 'deny'; by: string | undefined } & Resolved)
  | ({ kind: 'call'; tool: ToolInfo; note: GateNote | undefined } & Resolved)
  | ({ kind: 'callModel'; req: LlmRequest } & Resolved);

/** Where the step stands in its run; `ready` means its own facts decide the rest. */
export type PositionOp = Extract<StepOp, { kind: 'stop' | 'alreadyCommitted' | 'waitForPrevious' }>;
export type Position = PositionOp | { kind: 'ready'; run: RunRecord; step: StepDef; rec: StepRecord; next: string | undefined };
/** What a step whose turn it is does. */
export type ActionOp = Exclude<StepOp, PositionOp>;

export function planPosition(run: RunRecord | undefined, stepId: string, jobAgeMs: number): Position {
  if (!run) return { kind: 'stop', outcome: 'missing' };
  if (TERMINAL_RUN_STATUSES.has(run.status) || run.status === 'needs_attention')
    return { kind: 'stop', outcome: `run ${run.status}` };
  const steps = run.definition.steps;
  const idx = steps.findIndex((s) => s.id === stepId);
  const step = steps[idx];
  const rec = run.steps[stepId];
  if (!step || !rec) return { kind: 'stop', outcome: 'unknown step' };
  const next = steps[idx + 1]?.id;
  if (rec.status === 'succeeded' || rec.status === 'skipped')
    return { kind: 'alreadyCommitted', next: run.status === 'running' ? next : undefined };
  if (rec.status !== 'pending' && rec.status !== 'running') return { kind: 'stop', outcome: `step ${rec.status}` };
  for (const prev of steps.slice(0, idx)) {
    const ps = run.steps[prev.id]?.status;
    if (ps === 'succeeded' || ps === 'skipped') continue;
    // The job can be seen before the commit that enqueued it when the two travel on different
    // connections (a cluster puts the run and the queue on different nodes): look again shortly.
    return { kind: 'waitForPrevious', prev: prev.id, recheck: ps === 'running' && jobAgeMs < WAIT_FOR_COMMIT_MS };
  }
  return { kind: 'ready', run, step, rec, next };
}

/**
 * What the processor found out about the step, in the order it found it: a false condition, an
 * error resolving or looking up, or everything a call needs.
 */
export type StepFacts =
  | { kind: 'conditionFalse'; condition: string }
  | { kind: 'error'; error: unknown }
  | { kind: 'model'; req: LlmRequest }
  | {
      kind: 'tool';
      args: Record<string, unknown>;
      tool: ToolInfo;
      /** the admin's toggle for the tool */
      enabled: boolean;
      /** the fields that changed since the tool was pinned; empty when it is as pinned */
      changed: string[];
      grant: Grant | undefined;
    };

export interface PlanInput {
  run: RunRecord;
  step: StepDef;
  rec: StepRecord;
  facts: StepFacts;
  policy: PolicyConfig;
  /** the intent attempt this job's last try proved never reached the server (a refused connection) */
  undeliveredAttempt: number | undefined;
}

export function resolved(args: Record<string, unknown>): Resolved {
  return { args, argumentsHash: sha256Hex(canonicalJson(args)) };
}

export function planStep(p: PlanInput): ActionOp {
  const { facts } = p;
  if (facts.kind === 'conditionFalse') return { kind: 'skip', note: `condition is false: ${facts.condition}` };
  if (facts.kind === 'error') {
    if (isLoginRequired(facts.error) && p.step.kind === 'call')
      return { kind: 'awaitLogin', connector: p.step.connector, error: facts.error };
    return { kind: 'fail', error: facts.error, result: {} };
  }
  if (facts.kind === 'model')
    return { kind: 'callModel', req: facts.req, ...resolved(facts.req as unknown as Record<string, unknown>) };
  const { tool, args } = facts;
  const step = p.step;
  if (step.kind !== 'call')
    return { kind: 'fail', error: new InterlockError('INTERNAL', `step "${step.id}" is not a tool call`), result: {} };
  if (!facts.enabled) {
    return {
      kind: 'fail',
      error: new InterlockError(
        'TOOL_DISABLED',
        `Tool ${step.connector}.${step.tool} is turned off; an admin can enable it again`,
      ),
      result: {},
    };
  }
  try {
    validateArguments(tool, args);
  } catch (error) {
    return { kind: 'fail', error, result: {} };
  }
  if (facts.changed.length) return { kind: 'block', tool, fields: facts.changed };
  const r = resolved(args);
  const intent = p.rec.intentAttempt;
  if (p.rec.status === 'running' && intent !== undefined && intent !== p.undeliveredAttempt && tool.write && !tool.idempotent) {
    // A previous attempt may have reached the server and we cannot ask it: never send again blindly.
    return { kind: 'inDoubt', ...r };
  }
  const gate = decideGate({
    workflow: p.run.workflow,
    step,
    tool,
    arguments: args,
    argumentsHash: r.argumentsHash,
    ...(p.rec.approvedHash !== undefined ? { approvedHash: p.rec.approvedHash } : {}),
    ...(facts.grant ? { grant: facts.grant.decision } : {}),
    policy: p.policy,
  });
  if (gate.kind === 'ask') return { kind: 'ask', payload: gate.payload };
  if (gate.kind === 'deny') return { kind: 'deny', by: facts.grant?.by, ...r };
  // A read only because the config says so passes the gate on record, with what was loosened.
  const note: GateNote | undefined =
    gate.via === 'grant'
      ? { kind: 'remembered', grant: facts.grant }
      : gate.via === 'read' && tool.loosened?.includes('readOnlyHint')
        ? { kind: 'ungatedByOverride', loosened: tool.loosened }
        : undefined;
  return { kind: 'call', tool, note, ...r };
}
