import type { StepErrorCode } from '../errors.ts';
import type { PolicyVerdict } from '../policy/types.ts';
import type { ApprovalMark } from '../policy/words.ts';
import type { WorkflowDef } from '../workflows/types.ts';
import type { RunEventType } from './events.ts';
import type { Plan } from '../plans/plan.ts';

/**
 * A tool's MCP annotations as a record keeps them: plain data, the shape the MCP spec gives them.
 * The store never imports connector code (test/architecture/imports.test.ts); the connector
 * side's ToolAnnotations has this shape, which the compiler checks where one is stored.
 */
export interface RecordedAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export type RunStatus =
  | 'queued'
  | 'running'
  | 'awaiting_confirmation'
  | 'needs_attention'
  | 'succeeded'
  | 'failed'
  | 'denied'
  | 'cancelled';

export type StepStatus =
  | 'pending'
  | 'running'
  | 'awaiting_confirmation'
  | 'in_doubt'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'denied';

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'denied', 'cancelled']);

export interface ErrorInfo {
  code: StepErrorCode;
  message: string;
}

export interface StepRecord {
  id: string;
  status: StepStatus;
  attempts: number;
  /** resolved arguments of the last attempt (after templates) */
  arguments?: Record<string, unknown>;
  argumentsHash?: string;
  output?: unknown;
  /** the tool's raw content blocks, kept when `output` is the JSON read out of its one text block */
  content?: unknown[];
  error?: ErrorInfo;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** the confirmation currently or last attached to this step */
  confirmationId?: string;
  /** argumentsHash a person approved; the step proceeds only while its arguments hash to this */
  approvedHash?: string;
  /** why the step skipped or was approved without asking (grant, policy) */
  note?: string;
  /** attempt number whose write may have reached the server (write intent recorded, no outcome yet) */
  intentAttempt?: number;
  /** a loop's items or a parallel step's branch steps, by key (`3`, `3.inner`, `branch.inner`) */
  items?: Record<string, ItemRecord>;
  /** a loop: how many items its list held */
  itemCount?: number;
  /** a sleep or a step waiting for its child: when it is due */
  wakeAt?: number;
  /** a `workflow:` step: the child run it started */
  child?: string;
}

/** One call inside a loop or a parallel branch; it has the fields of a step's outcome. */
export interface ItemRecord {
  status: StepStatus;
  attempts: number;
  arguments?: Record<string, unknown>;
  argumentsHash?: string;
  output?: unknown;
  content?: unknown[];
  error?: ErrorInfo;
  note?: string;
  startedAt?: number;
  finishedAt?: number;
  intentAttempt?: number;
}

export interface RunRecord {
  id: string;
  workflow: string;
  version: string;
  /**
   * The session whose remembered decisions apply: one Interlock created for the principal that
   * started the run (`run-<id>`, `mcp-<id>`, `chat-<id>`), never a caller's free text.
   */
  session: string;
  /** the principal (token name or OAuth subject) that started the run; absent for in-process callers (CLI) */
  owner?: string;
  /** a caller's own `session` label: it groups runs and reaches no remembered decision */
  label?: string;
  status: RunStatus;
  inputs: Record<string, unknown>;
  /** the workflow definition this run started with; edits to workflows.yaml never reach it */
  definition: WorkflowDef;
  createdAt: number;
  updatedAt: number;
  error?: ErrorInfo;
  steps: Record<string, StepRecord>;
  /** the plan a person approved for the rest of the run (see src/plans/) */
  plan?: PlanApproval;
  /** the run and step that started this run as a `workflow:` step */
  parent?: { runId: string; stepId: string };
}

/** An approved plan: writes whose arguments are exactly what it gives run without asking again. */
export interface PlanApproval {
  plan: Plan;
  by: string;
  at: number;
  channel?: DecisionChannel;
}

export type ConfirmationStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

/** Everything a person needs to see to decide about one write, frozen when the gate opened. */
export interface ConfirmationPayload {
  connector: string;
  tool: string;
  title?: string;
  description?: string;
  annotations: RecordedAnnotations;
  /** hints `tools.overrides` loosened (the server does not declare them), and what the server did declare */
  loosened?: string[];
  serverAnnotations?: RecordedAnnotations;
  arguments: Record<string, unknown>;
  argumentsHash: string;
  outputSchema?: Record<string, unknown>;
  /** why it asks: `write` (auto on a write) or `always` */
  reason: 'write' | 'always';
  /** the policy rule that applies (a `require` rule: its quorum), and the money the call moves */
  policy?: PolicyVerdict;
  /** the currency the run's amounts are in (from what it read), so amounts show as "15.00 USD" */
  currency?: string;
  /**
   * A loop's writes asked together: `arguments.items` lists each item's key, call, arguments and
   * argumentsHash, and `argumentsHash` is the batch hash over all of them.
   */
  batch?: { items: number };
}

export interface ConfirmationRecord extends ConfirmationPayload {
  id: string;
  runId: string;
  stepId: string;
  workflow: string;
  session: string;
  /** the principal that started the run */
  owner?: string;
  status: ConfirmationStatus;
  createdAt: number;
  expiresAt: number;
  decidedAt?: number;
  /** the principal that decided: a token name, an OAuth subject, or `cli` / `local` in-process */
  decidedBy?: string;
  /** where the decision was made */
  channel?: DecisionChannel;
  remember?: 'session';
  /** approvals so far toward a quorum (`policy.require`), oldest first; the last completes it */
  approvals?: ApprovalMark[];
  /** channel `grant`: the remembered decision that approved it */
  grantId?: string;
  /** channel `plan`: the approved plan that covered it */
  planHash?: string;
  /** the grant this decision left, when the person asked to remember it */
  grantMade?: string;
}

/**
 * Where a confirmation was decided: by a person (api, ui, cli, chat, mcp-elicitation, mcp-url,
 * slack), by Interlock itself (system: an expiry), by a remembered grant, or by a plan a person approved.
 */
export type DecisionChannel =
  | 'api'
  | 'ui'
  | 'cli'
  | 'chat'
  | 'mcp-elicitation'
  | 'mcp-url'
  | 'slack'
  | 'system'
  | 'grant'
  | 'plan';

export interface RunEvent {
  /** Redis stream id; usable as SSE `id` and Last-Event-ID */
  id: string;
  type: RunEventType;
  at: number;
  runId: string;
  stepId?: string;
  data: Record<string, unknown>;
}

export type { GrantDecision, ScopedGrant as Grant } from '../grants/grant.ts';
