import { scrub } from './secrets.ts';
/**
 * Every error Interlock raises on purpose is an InterlockError with a stable `code`.
 * The error knows nothing of HTTP: src/server/status.ts maps `code` to a status at the edge;
 * the CLI prints `message`; callers branch on `instanceof` and `code`, never on message text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'INPUT_INVALID'
  | 'ARGUMENTS_INVALID'
  | 'NOT_FOUND'
  | 'WORKFLOW_NOT_FOUND'
  | 'RUN_NOT_FOUND'
  | 'CONFIRMATION_NOT_FOUND'
  | 'CONNECTOR_NOT_FOUND'
  | 'TOOL_NOT_FOUND'
  | 'TOOL_DISABLED'
  | 'HASH_MISMATCH'
  | 'ALREADY_DECIDED'
  | 'CONFIRMATION_EXPIRED'
  | 'RUN_FINISHED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'TOO_MANY_REQUESTS'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'CONNECTOR_UNAVAILABLE'
  | 'TOOL_ERROR'
  | 'TOOL_REPORTED_FAILURE'
  | 'TOOL_OUTPUT_INVALID'
  | 'STEP_TIMEOUT'
  | 'TEMPLATE_ERROR'
  | 'LLM_ERROR'
  | 'LLM_OUTPUT_INVALID'
  | 'REDIS_UNAVAILABLE'
  | 'NOT_IN_DOUBT'
  | 'TOOL_CHANGED'
  | 'CONNECTOR_LOGIN_REQUIRED'
  | 'RUN_CORRUPT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'REQUEST_REPLAYED'
  | 'POLICY_ERROR'
  | 'SELF_APPROVAL'
  | 'NOT_IN_GROUP'
  | 'ALREADY_APPROVED'
  | 'FLOW_FAILED'
  | 'CHILD_FAILED'
  | 'SIGNATURE_INVALID'
  | 'TRIGGER_PAUSED'
  | 'TRIGGER_NOT_READY'
  | 'INTERNAL';

/**
 * The codes a step or run records as its error: any ErrorCode an attempt raised, plus the
 * outcomes that are no raised error but a decision or a state (see RunStore and the worker).
 */
export type StepErrorCode = ErrorCode | 'IN_DOUBT' | 'DENIED' | 'CANCELLED' | 'RESOLVED_FAILED' | 'STEP_ABANDONED';

export class InterlockError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    // Errors travel to callers, records and logs; a secret that slipped into a message stops here.
    super(scrub(message), options);
    this.name = 'InterlockError';
    this.code = code;
    this.details = details;
  }
  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) },
    };
  }
}

/** One problem found in workflows.yaml, with where it is. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  /** dotted path in the document, e.g. `workflows.refund-and-notify.steps[1].confirm` */
  path: string;
  message: string;
}

export class ConfigError extends InterlockError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super('CONFIG_INVALID', issues.map(formatIssue).join('\n'), { issues });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.message}`;
}

/** A field-level problem with workflow inputs or tool arguments. */
export interface FieldIssue {
  field: string;
  message: string;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
