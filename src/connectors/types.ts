/** What the pool knows about one tool of one connector. */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolInfo {
  connector: string;
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations: ToolAnnotations;
  /** no `readOnlyHint: true` → write */
  write: boolean;
  /** the tool honours the idempotency key Interlock passes (`idempotentHint: true`) */
  idempotent: boolean;
  /** what the server itself declared, present only when `tools.overrides` changed `annotations` */
  serverAnnotations?: ToolAnnotations;
  /**
   * Hints an override set that the server did not, and that relax a rule: `readOnlyHint` (no gate),
   * `idempotentHint` (retried, never in doubt), `destructiveHint: false`. Shown wherever the tool
   * is, and pinned. Absent when nothing was loosened.
   */
  loosened?: Array<'readOnlyHint' | 'idempotentHint' | 'destructiveHint'>;
  /** `fail_when` conditions of the overrides that match, in file order */
  failWhen?: string[];
}

/** The MCP `_meta` key under which a step's idempotency key travels with a tools/call. */
export const IDEMPOTENCY_META_KEY = 'interlock/idempotencyKey';

export interface CallOptions {
  idempotencyKey?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The part of a tools/call result the engine uses. */
export interface ToolCallResult {
  isError: boolean;
  /**
   * `structuredContent` when the tool gave it; else, when the only content is one text block
   * holding JSON, that JSON; else the content blocks
   */
  output: unknown;
  /** the content blocks as the server sent them */
  content: unknown[];
  /** `structuredContent` as sent, undefined when the server gave none */
  structured?: unknown;
  /** text of the content blocks joined, for messages */
  text: string;
}

export type ConnectorState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

export interface ConnectorStatus {
  id: string;
  state: ConnectorState;
  lastError?: string;
  toolCount?: number;
  /** successful connects in this process; above 1 means the session was re-established */
  connects?: number;
}
