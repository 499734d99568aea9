import type { StepErrorCode } from '../errors.ts';
import type { PolicyVerdict } from '../policy/types.ts';
import type { ApprovalMark } from '../policy/words.ts';
import type { WorkflowDef } from '../workflows/types.ts';
import type { RunEventType } from './events.ts';

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
}

/** Where a person decided a confirmation. */
export type DecisionChannel = 'api' | 'ui' | 'cli' | 'chat' | 'mcp-elicitation' | 'mcp-url' | 'slack' | 'system';

export interface RunEvent {
  /** Redis stream id; usable as SSE `id` and Last-Event-ID */
  id: string;
  type: RunEventType;
  at: number;
  runId: string;
  stepId?: string;
  data: Record<string, unknown>;
}

export type GrantDecision = 'approve' | 'deny';

/**
 * A decision remembered for one session: which principal made it, and for runs of which
 * principal (the session's owner). A grant applies only to runs of that same owner.
 */
export interface Grant {
  decision: GrantDecision;
  /** the principal (with `confirm`) that decided and asked to remember */
  by?: string;
  /** the principal that started the session's runs; absent for in-process runs */
  owner?: string;
  channel?: DecisionChannel;
  at?: number;
}
