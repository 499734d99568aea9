import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode, InterlockError } from '../errors.ts';

// The HTTP status of each error code. Only the Hono edge knows it: the domain raises codes, and
// the CLI, the MCP server and the records carry them without any HTTP meaning.
const STATUS = {
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
  CONNECTOR_LOGIN_REQUIRED: 409,
  RUN_CORRUPT: 500,
  IDEMPOTENCY_KEY_REUSED: 422,
  REQUEST_REPLAYED: 409,
  POLICY_ERROR: 500,
  SELF_APPROVAL: 403,
  NOT_IN_GROUP: 403,
  ALREADY_APPROVED: 409,
  FLOW_FAILED: 500,
  CHILD_FAILED: 500,
  SIGNATURE_INVALID: 400,
  // Both ask the sender to try again later: a webhook's retries then deliver it.
  TRIGGER_PAUSED: 503,
  TRIGGER_NOT_READY: 503,
  INTERNAL: 500,
} as const satisfies Record<ErrorCode, number>;

/** The HTTP status an InterlockError answers with. */
export function httpStatus(err: InterlockError): ContentfulStatusCode {
  return STATUS[err.code];
}
