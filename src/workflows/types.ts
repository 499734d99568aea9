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

/** The queue, and the `connector` half of `connector.tool`, of every llm step. */
export const LLM_CONNECTOR = 'llm';

/**
 * A step that asks a model for JSON matching `outputSchema` and stores the answer as its output.
 * It reads as the call `llm.<model>` with arguments `{instructions, input}`, so every place that
 * lists or shows steps (API, facade, pages) shows it without knowing about models. It calls no
 * tool and writes nothing, so no gate ever stops it.
 */
export interface LlmStep {
  kind: 'llm';
  id: string;
  connector: typeof LLM_CONNECTOR;
  /** the model, from the step or the config's `llm.model`; pinned with the definition */
  tool: string;
  /** raw templates: resolved like a call's `with`, and recorded as the step's arguments */
  with: Record<string, unknown> & { instructions: string; input: unknown };
  /** JSON Schema (type: object) the answer must match */
  outputSchema: Record<string, unknown>;
  /** always auto: the step is not a write, so it is never confirmed */
  confirm: 'auto';
  if?: string;
  retry: RetryPolicy;
  timeoutMs?: number;
  pos: SourcePos;
  keyPos: Partial<Record<'llm' | 'if' | 'retry' | 'timeout', SourcePos>>;
}

export type StepDef = CallStep | LlmStep;

/** The optional top-level `llm` section: defaults for llm steps and `interlock chat`. */
export interface LlmConfig {
  /** model for steps that name none, and for the chat */
  model?: string;
  /** OpenAI-compatible endpoint; OPENAI_BASE_URL overrides it, the SDK's default applies when both are unset */
  baseUrl?: string;
  /** llm step jobs one worker process runs at once */
  concurrency: number;
  pos: SourcePos;
}

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
  llm?: LlmConfig;
}

/** What templates can read while a step is resolved. */
export interface TemplateContext {
  inputs: Record<string, unknown>;
  steps: Record<string, { output: unknown; status: string; content?: unknown[] }>;
  run: { id: string; workflow: string; session: string };
}
