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
  /** `structuredContent` when the tool gave it, otherwise its content blocks */
  output: unknown;
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
