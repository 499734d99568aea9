import { scrub } from './secrets.ts';
/**
 * Every error Interlock raises on purpose is an InterlockError with a stable `code`.
 * The HTTP layer maps `status` to the response; the CLI prints `message`; callers branch
 * on `instanceof` and `code`, never on message text.
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
  | 'RUN_CORRUPT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  CONFIG_INVALID: 400,
  INPUT_INVALID: 400,
  ARGUMENTS_INVALID: 400,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  WORKFLOW_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  CONFIRMATION_NOT_FOUND: 404,
  CONNECTOR_NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  TOOL_DISABLED: 409,
  HASH_MISMATCH: 409,
  ALREADY_DECIDED: 409,
  CONFIRMATION_EXPIRED: 410,
  RUN_FINISHED: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  CONNECTOR_UNAVAILABLE: 503,
  TOOL_ERROR: 502,
  TOOL_REPORTED_FAILURE: 502,
  TOOL_OUTPUT_INVALID: 502,
  STEP_TIMEOUT: 504,
  TEMPLATE_ERROR: 400,
  LLM_ERROR: 502,
  LLM_OUTPUT_INVALID: 502,
  REDIS_UNAVAILABLE: 503,
  NOT_IN_DOUBT: 409,
  TOOL_CHANGED: 409,
  RUN_CORRUPT: 500,
  IDEMPOTENCY_KEY_REUSED: 422,
  INTERNAL: 500,
};

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
  get status(): number {
    return STATUS[this.code];
  }
  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
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
