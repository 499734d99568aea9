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
import type { PolicyVerdict } from '../policy/types.ts';
import type { ConfirmationPayload, Grant, RunRecord, StepRecord } from '../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../runs/records.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import { stepIndex } from '../workflows/step-index.ts';
import type { CallStep, PolicyConfig, StepDef } from '../workflows/types.ts';
import { pickGrant } from '../grants/grant.ts';
import { runCurrency } from '../grants/run-currency.ts';
import { decideGate } from './gate.ts';

/** How long a job that arrived before the commit that enqueued it looks again (see waitForPrevious). */
export const WAIT_FOR_COMMIT_MS = 10_000;

/** The record a step writes with its outcome: the resolved arguments and their hash. */
export interface Resolved {
  args: Record<string, unknown>;
  argumentsHash: string;
}

/** Proceeding past the gate leaves a trace on record when a grant, a plan, a rule or a loosened override let it through. */
export type GateNote =
  | { kind: 'remembered'; grant: Grant | undefined }
  | { kind: 'planned'; planHash: string; by: string }
  | { kind: 'ungatedByOverride'; loosened: string[] }
  /** a policy rule approved the write: nobody was asked, and the audit names the rule */
  | { kind: 'rule'; verdict: RuleVerdict };

export type RuleVerdict = Extract<PolicyVerdict, { kind: 'rule' }>;

/** An approved plan that covers this write: its arguments are exactly what the plan's template gives. */
export interface PlanCover {
  planHash: string;
  /** who approved the plan */
  by: string;
}

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
  /** a person decides; `planDiverged` says why an approved plan did not cover it */
  | { kind: 'ask'; payload: ConfirmationPayload; planDiverged?: string }
  /** stopped without asking: by a remembered decision (`by` made it, `grant` is it), or by a policy `rule` */
  | ({ kind: 'deny'; by: string | undefined; rule?: RuleVerdict; grant?: Grant } & Resolved)
  /**
   * a decision nobody has to be asked for covers the write: record it (and the grant's use) as
   * the decision, then call; if the grant was revoked, expired or used up meanwhile, ask instead
   */
  | ({
      kind: 'callCovered';
      tool: ToolInfo;
      payload: ConfirmationPayload;
      cover: { by: 'grant'; grant: Grant } | { by: 'plan'; plan: PlanCover };
    } & Resolved)
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
  const idx = stepIndex(steps, stepId);
  const step = steps[idx];
  const rec = run.steps[stepId];
  if (!step || !rec) return { kind: 'stop', outcome: 'unknown step' };
  const next = steps[idx + 1]?.id;
  if (rec.status === 'succeeded' || rec.status === 'skipped')
    return { kind: 'alreadyCommitted', next: run.status === 'running' ? next : undefined };
  if (rec.status !== 'pending' && rec.status !== 'running') return { kind: 'stop', outcome: `step ${rec.status}` };
  for (let i = 0; i < idx; i++) {
    const prev = steps[i];
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
      /** every grant of the run's session; which covers this call is decided here */
      grants: Grant[];
      /** an approved plan whose template gives exactly these arguments */
      plan?: PlanCover;
      /** the run has an approved plan that does not give these arguments, and why */
      planDiverged?: string;
      /** what policy.rules say about this call (evaluated before planning: JSONata is asynchronous) */
      verdict?: PolicyVerdict;
    };

export interface PlanInput {
  run: RunRecord;
  step: StepDef;
  /** where the step (or a loop's item: flow/units.ts plans items with this same function) stands */
  rec: Pick<StepRecord, 'status' | 'intentAttempt' | 'approvedHash'>;
  facts: StepFacts;
  policy: PolicyConfig;
  /** the intent attempt this job's last try proved never reached the server (a refused connection) */
  undeliveredAttempt: number | undefined;
  /** the clock grants' time limits are read against */
  now: number;
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
  const step = p.step;
  if (step.kind !== 'call')
    return { kind: 'fail', error: new InterlockError('INTERNAL', `step "${step.id}" is not a tool call`), result: {} };
  const refused = refuseCall(step, facts);
  if (refused) return refused;
  const { tool } = facts;
  const r = resolved(facts.args);
  const intent = p.rec.intentAttempt;
  if (p.rec.status === 'running' && intent !== undefined && intent !== p.undeliveredAttempt && tool.write && !tool.idempotent) {
    // A previous attempt may have reached the server and we cannot ask it: never send again blindly.
    return { kind: 'inDoubt', ...r };
  }
  return gateCall(p, step, facts, r);
}

/** A call that cannot go as it stands: the tool is off, the arguments break its schema, or it changed. */
function refuseCall(step: CallStep, facts: Extract<StepFacts, { kind: 'tool' }>): ActionOp | undefined {
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
    validateArguments(facts.tool, facts.args);
  } catch (error) {
    return { kind: 'fail', error, result: {} };
  }
  if (facts.changed.length) return { kind: 'block', tool: facts.tool, fields: facts.changed };
  return undefined;
}

/** Policy rules first, then the gate: a rule's deny or approve, a read, or a write that needs a decision. */
function gateCall(p: PlanInput, step: CallStep, facts: Extract<StepFacts, { kind: 'tool' }>, r: Resolved): ActionOp {
  const { tool } = facts;
  const verdict = facts.verdict ?? { kind: 'default' };
  if (verdict.kind === 'rule' && verdict.effect === 'deny') return { kind: 'deny', by: undefined, rule: verdict, ...r };
  const gated = tool.write || step.confirm === 'always';
  if (verdict.kind === 'rule' && verdict.effect === 'approve' && gated)
    return { kind: 'call', tool, note: { kind: 'rule', verdict }, ...r };
  const gate = decideGate({
    workflow: p.run.workflow,
    step,
    tool,
    arguments: r.args,
    argumentsHash: r.argumentsHash,
    ...(p.rec.approvedHash !== undefined ? { approvedHash: p.rec.approvedHash } : {}),
    policy: p.policy,
    verdict,
  });
  if (gate.kind === 'ask') {
    const currency = runCurrency(p.run);
    const payload = currency ? { ...gate.payload, currency } : gate.payload;
    // One person's remembered decision or approved plan never stands in for the quorum a rule demands.
    if (verdict.kind === 'rule') return { kind: 'ask', payload };
    return coveredOrAsk(p, facts, tool, payload, r);
  }
  // A read only because the config says so passes the gate on record, with what was loosened.
  const note: GateNote | undefined =
    gate.via === 'read' && tool.loosened?.includes('readOnlyHint')
      ? { kind: 'ungatedByOverride', loosened: tool.loosened }
      : undefined;
  return { kind: 'call', tool, note, ...r };
}

/**
 * A write that needs a decision: a remembered deny that covers these arguments stops it; an
 * approved plan, then a remembered approve that covers them, lets it through on record; else a
 * person is asked.
 */
function coveredOrAsk(
  p: PlanInput,
  facts: Extract<StepFacts, { kind: 'tool' }>,
  tool: ToolInfo,
  payload: ConfirmationPayload,
  r: Resolved,
): ActionOp {
  const grant = pickGrant(
    facts.grants,
    { connector: tool.connector, tool: tool.name, args: r.args, argumentsHash: r.argumentsHash, owner: p.run.owner },
    p.now,
  );
  if (grant?.decision === 'deny') return { kind: 'deny', by: grant.by, grant, ...r };
  if (facts.plan) return { kind: 'callCovered', tool, payload, cover: { by: 'plan', plan: facts.plan }, ...r };
  if (grant) return { kind: 'callCovered', tool, payload, cover: { by: 'grant', grant }, ...r };
  return { kind: 'ask', payload, ...(facts.planDiverged ? { planDiverged: facts.planDiverged } : {}) };
}
