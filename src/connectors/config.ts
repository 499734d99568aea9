/**
 * A connector's settings as workflows.yaml gives them, after the loader checked them: src/connectors
 * owns this shape (the loader in src/workflows produces it). Plain JSON, like the rest of the config.
 */

/** Where a node sits in the source file (1-based), kept so later checks can point at it. */
export interface SourcePos {
  line: number;
  col: number;
}

export type ConnectorTransport =
  | { type: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { type: 'streamable-http'; url: string; headers: Record<string, string> }
  | { type: 'sse'; url: string; headers: Record<string, string> };

/** `auth.tokenEnv` names the environment variable; the token itself is never stored in config objects. */
export type ConnectorAuth = { type: 'none' } | { type: 'bearer'; tokenEnv: string } | OAuthConnectorAuth;

/**
 * OAuth 2.1 as MCP authorization (2025-11-25) describes it. Everything else (the authorization
 * server, its endpoints, the scopes the server wants) is discovered from the server's 401.
 * Secrets are named by environment variable, never held.
 */
export interface OAuthConnectorAuth {
  type: 'oauth';
  /** `authorization_code`: a person logs in once (PKCE); `client_credentials`: machine to machine */
  grant: 'authorization_code' | 'client_credentials';
  /** a pre-registered client: its id (`${env:NAME}` or written out; ids are not secret) */
  clientId?: string;
  /** the pre-registered client's secret, by variable name */
  clientSecretEnv?: string;
  /** an https URL serving Interlock's client ID metadata document, used where the server supports it */
  clientMetadataUrl?: string;
  /** scopes to ask for besides those the server names; empty = exactly what the server asks */
  scopes: string[];
}

export interface ConnectorConfig {
  id: string;
  transport: ConnectorTransport;
  auth: ConnectorAuth;
  /** glob patterns over tool names; empty allow = everything; `overrides` absent when there are none */
  tools: { allow: string[]; deny: string[]; overrides?: ToolOverride[] };
  /** per-call timeout */
  timeoutMs: number;
  /** max concurrent step jobs for this connector's queue in one worker process */
  concurrency: number;
  /** `rate_limit` entries, each held across all workers; absent when the connector has none */
  rateLimits?: RateLimitRule[];
  pos: SourcePos;
}

/** Annotation hints an override may set; `title` stays the server's. */
export interface OverrideAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/**
 * One entry of `tools.overrides`: settings for every tool whose name matches `match` (a name or
 * glob). Every matching entry applies, in file order, so a later one wins for the same annotation.
 */
export interface ToolOverride {
  match: string;
  /** merged over what the server declares */
  annotations?: OverrideAnnotations;
  /** a condition (JSONata, bare or one `${{ }}`) over the result; true fails the step with TOOL_REPORTED_FAILURE */
  failWhen?: string;
  pos: SourcePos;
}

/**
 * One `rate_limit` entry: at most `max` calls per `durationMs`, counted across every worker
 * process. Every entry that matches a call applies to it.
 */
export interface RateLimitRule {
  max: number;
  durationMs: number;
  /** only calls of this tool count; absent = every call of the connector */
  tool?: string;
  /** a window per value of this top-level argument; absent = one window for all matching calls */
  by?: string;
  pos: SourcePos;
  /** where the `tool` and `by` keys are, for checks against the connector's tool catalog */
  keyPos: Partial<Record<'tool' | 'by', SourcePos>>;
}
