import type { ToolAnnotations } from '../connectors/types.ts';
import type { WorkflowDef } from '../workflows/types.ts';

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
  code: string;
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
  session: string;
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
  annotations: ToolAnnotations;
  /** hints `tools.overrides` loosened (the server does not declare them), and what the server did declare */
  loosened?: string[];
  serverAnnotations?: ToolAnnotations;
  arguments: Record<string, unknown>;
  argumentsHash: string;
  outputSchema?: Record<string, unknown>;
  /** why it asks: `write` (auto on a write) or `always` */
  reason: 'write' | 'always';
}

export interface ConfirmationRecord extends ConfirmationPayload {
  id: string;
  runId: string;
  stepId: string;
  workflow: string;
  session: string;
  status: ConfirmationStatus;
  createdAt: number;
  expiresAt: number;
  decidedAt?: number;
  decidedBy?: string;
  remember?: 'session';
}

export interface RunEvent {
  /** Redis stream id; usable as SSE `id` and Last-Event-ID */
  id: string;
  type: string;
  at: number;
  runId: string;
  stepId?: string;
  data: Record<string, unknown>;
}

export type GrantDecision = 'approve' | 'deny';
