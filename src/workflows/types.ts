/**
 * The parsed, validated shape of workflows.yaml. The loader (`load.ts`) is the only producer;
 * the engine, the pool and the servers only read these. Everything here is plain JSON so a run
 * can pin its workflow definition in Redis as-is.
 */

/** Where a node sits in the source file (1-based), kept so later checks can point at it. */
export interface SourcePos {
  line: number;
  col: number;
}

export type ConfirmMode = 'auto' | 'always' | 'never';

export interface RetryPolicy {
  /** total attempts including the first; 1 = no retry */
  attempts: number;
  /** first backoff delay; doubles each attempt */
  backoffMs: number;
}

export type ConnectorTransport =
  | { type: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { type: 'streamable-http'; url: string; headers: Record<string, string> }
  | { type: 'sse'; url: string; headers: Record<string, string> };

/** `auth.tokenEnv` names the environment variable; the token itself is never stored in config objects. */
export type ConnectorAuth = { type: 'none' } | { type: 'bearer'; tokenEnv: string };

export interface ConnectorConfig {
  id: string;
  transport: ConnectorTransport;
  auth: ConnectorAuth;
  /** glob patterns over tool names; empty allow = everything */
  tools: { allow: string[]; deny: string[] };
  /** per-call timeout */
  timeoutMs: number;
  /** max concurrent step jobs for this connector's queue in one worker process */
  concurrency: number;
  /** optional rate limit across all workers: at most `max` jobs per `durationMs` */
  rateLimit?: { max: number; durationMs: number };
  pos: SourcePos;
}

export interface CallStep {
  kind: 'call';
  id: string;
  connector: string;
  tool: string;
  /** raw argument tree; strings may hold `${{ expr }}` templates */
  with: Record<string, unknown>;
  /** JSONata expression (without `${{ }}`); the step is skipped when it is falsy */
  if?: string;
  confirm: ConfirmMode;
  retry: RetryPolicy;
  timeoutMs?: number;
  pos: SourcePos;
  /** positions of individual keys, for errors found after loading (e.g. `confirm: never` on a write) */
  keyPos: Partial<Record<'call' | 'with' | 'if' | 'confirm' | 'retry' | 'timeout', SourcePos>>;
}

export type StepDef = CallStep;

export interface WorkflowDef {
  name: string;
  description: string;
  /** JSON Schema (draft 2020-12 / 7 compatible subset that ajv accepts) for `inputs` */
  inputs: Record<string, unknown>;
  steps: StepDef[];
  /** expose as its own MCP tool in the facade */
  expose: boolean;
  /** sha256 of the canonical JSON of the definition (without positions), first 12 hex chars */
  version: string;
  pos: SourcePos;
}

export interface PolicyConfig {
  /**
   * Writes allowed to run without confirmation, by name: `connector.tool` or
   * `workflow.stepId`. A `confirm: never` on a write that is not named here fails validation.
   */
  allowUnconfirmed: string[];
  /** how long a confirmation waits for a decision before the run fails */
  confirmationTtlMs: number;
}

export interface TokenConfig {
  name: string;
  /** environment variable holding the token value */
  env: string;
  scopes: Array<'read' | 'trigger' | 'confirm' | 'admin'>;
}

export interface InterlockConfig {
  /** absolute path of the file this came from */
  file: string;
  connectors: Record<string, ConnectorConfig>;
  workflows: Record<string, WorkflowDef>;
  policy: PolicyConfig;
  tokens: TokenConfig[];
}

/** What templates can read while a step is resolved. */
export interface TemplateContext {
  inputs: Record<string, unknown>;
  steps: Record<string, { output: unknown; status: string }>;
  run: { id: string; workflow: string; session: string };
}
