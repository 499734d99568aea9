/**
 * The parsed, validated shape of workflows.yaml. The loader (`load.ts`) is the only producer;
 * the engine, the pool and the servers only read these. Everything here is plain JSON so a run
 * can pin its workflow definition in Redis as-is. A connector's settings are src/connectors' own
 * (connectors/config.ts); they are re-exported here as part of the file's shape.
 */
import type { ConnectorConfig, SourcePos } from '../connectors/config.ts';
import type { ApprovalsConfig } from './approvals.ts';

export type { ApprovalsConfig, SlackApprovalsConfig } from './approvals.ts';
import type { MoneySpec, PolicyRule } from '../policy/types.ts';

export type { TemplateContext } from '../templates.ts';

export type {
  ConnectorAuth,
  ConnectorConfig,
  ConnectorTransport,
  OverrideAnnotations,
  RateLimitRule,
  SourcePos,
  ToolOverride,
} from '../connectors/config.ts';

export type ConfirmMode = 'auto' | 'always' | 'never';

export interface RetryPolicy {
  /** total attempts including the first; 1 = no retry */
  attempts: number;
  /** first backoff delay; doubles each attempt */
  backoffMs: number;
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

/** The queue of every control-flow step (parallel, foreach, workflow, sleep): it calls no connector itself. */
export const FLOW_CONNECTOR = 'flow';

/**
 * What every control-flow step shares. It reads as the call `flow.<kind>` so every place that lists
 * steps (API, facade, pages) shows it without knowing about control flow.
 */
interface FlowCommon {
  id: string;
  connector: typeof FLOW_CONNECTOR;
  tool: string;
  confirm: 'auto';
  /** what the step is given, as written: a child's inputs, or empty */
  with: Record<string, unknown>;
  if?: string;
  retry: RetryPolicy;
  timeoutMs?: number;
  pos: SourcePos;
  keyPos: Partial<Record<string, SourcePos>>;
}

/** Branches run side by side and join before the next step; outputs read `steps.<branch>.<id>`. */
export interface ParallelStep extends FlowCommon {
  kind: 'parallel';
  branches: Record<string, CallStep[]>;
  /** a failed branch does not fail the join */
  continueOnError: boolean;
}

/**
 * The body (one call, or a group of calls) once per item of a list, at most `concurrency` at a
 * time; the output is the items' outputs in order. Writes in the body are gated per item, and
 * one confirmation can approve every item at once.
 */
export interface ForeachStep extends FlowCommon {
  kind: 'foreach';
  /** JSONata expression (without `${{ }}`) that gives the list */
  foreach: string;
  /** the name the body reads the item by (`${{ charge.id }}`) */
  as: string;
  concurrency: number;
  steps: CallStep[];
  /** the one-call form: the output lists each item's output rather than a map per item */
  single: boolean;
  continueOnError: boolean;
}

/** Another workflow as a run of its own, linked to this one; this step waits for it without a job. */
export interface WorkflowStep extends FlowCommon {
  kind: 'workflow';
  workflow: string;
}

/** A durable wait: a delayed job and a ready-at marker, nothing held in any process. */
export interface SleepStep extends FlowCommon {
  kind: 'sleep';
  sleepMs?: number;
  /** template giving an ISO date-time or epoch ms */
  waitUntil?: string;
}

export type FlowStep = ParallelStep | ForeachStep | WorkflowStep | SleepStep;

export const FLOW_KINDS: ReadonlySet<string> = new Set(['parallel', 'foreach', 'workflow', 'sleep']);

export function isFlowStep(step: StepDef): step is FlowStep {
  return FLOW_KINDS.has(step.kind);
}

export type StepDef = CallStep | LlmStep | FlowStep;

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
  /** schedules and webhooks that start runs of it by themselves (see src/triggers) */
  triggers?: TriggerDef[];
  /** sha256 of the canonical JSON of the definition (without positions), first 12 hex chars */
  version: string;
  pos: SourcePos;
}

/** What a schedule does with a tick that came due while no worker was running. */
export type MissedTicks = 'run_once' | 'skip';

/** `cron:` or `every:` on a workflow: a run per tick, on a BullMQ job scheduler. */
export interface ScheduleTrigger {
  kind: 'schedule';
  /** `<workflow>.<name>`: the scheduler's id, and the trigger's in the API and CLI */
  id: string;
  workflow: string;
  /** `name:`, or the trigger's 1-based position in the list */
  name: string;
  /** a cron pattern (5 fields, or 6 with seconds first) */
  cron?: string;
  /** a fixed interval in milliseconds, instead of cron */
  everyMs?: number;
  /** IANA time zone the cron pattern is read in (default UTC) */
  timezone?: string;
  /** inputs of each run; strings may read `tick.time` (ISO) and `tick.ms` */
  inputs: Record<string, unknown>;
  missed: MissedTicks;
  /** a tick that starts later than this after its time counts as missed */
  graceMs: number;
  pos: SourcePos;
}

/** How a webhook's sender proves who it is. Secrets are env variable names, never values. */
export type WebhookVerify =
  | { type: 'stripe'; secretEnv: string; toleranceS: number }
  | {
      type: 'hmac';
      secretEnv: string;
      /** the header carrying the signature (hex, or base64 with `encoding: base64`) */
      header: string;
      algorithm: 'sha256';
      encoding: 'hex' | 'base64';
      /** text before the signature in the header, e.g. `sha256=` */
      prefix: string;
      /** a header with the Unix time the sender signed at; then `<timestamp>.<body>` is what is signed */
      timestampHeader?: string;
      toleranceS: number;
      /** the header naming the delivery (its idempotency key); default: the body's `id`, else the body's hash */
      idHeader?: string;
    };

/** `webhook:` on a workflow: `POST /hooks/<hook>` starts a run per verified event. */
export interface WebhookTrigger {
  kind: 'webhook';
  /** `<workflow>.<name>` */
  id: string;
  workflow: string;
  name: string;
  /** the path segment after /hooks/: `hook:`, or the workflow's name */
  hook: string;
  verify: WebhookVerify;
  /** event types (`type` of the body) that start a run; empty: every event */
  events: string[];
  /** inputs of the run; strings may read `event` (the parsed body) */
  inputs: Record<string, unknown>;
  pos: SourcePos;
}

export type TriggerDef = ScheduleTrigger | WebhookTrigger;

export interface PolicyConfig {
  /**
   * Writes allowed to run without confirmation, by name: `connector.tool` or
   * `workflow.stepId`. A `confirm: never` on a write that is not named here fails validation.
   */
  allowUnconfirmed: string[];
  /** how long a confirmation waits for a decision before the run fails */
  confirmationTtlMs: number;
  /** first match wins; the file's own, then one per allow_unconfirmed name (see workflows/policy.ts) */
  rules?: PolicyRule[];
  /** how to read the money a tool moves, for rules and for people */
  money?: MoneySpec[];
  /** how long the audit stream keeps a decision */
  auditRetentionMs?: number;
  /** approver groups: name → identities (token names, OAuth subjects); tokens may add theirs (`groups`) */
  groups?: Record<string, string[]>;
}

export interface TokenConfig {
  name: string;
  /** environment variable holding the token value */
  env: string;
  scopes: Array<'read' | 'trigger' | 'confirm' | 'admin' | 'audit'>;
  /** approver groups the token's principal belongs to, for quorum rules (`require: {group}`) */
  groups?: string[];
}

export type Scope = TokenConfig['scopes'][number];

/** A person who may sign in at the built-in authorization server. */
export interface OAuthUserConfig {
  name: string;
  /** environment variable holding the password itself */
  passwordEnv?: string;
  /** `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`, as `interlock hash-password` prints it */
  passwordHash?: string;
  scopes: Scope[];
}

/** `server.auth.oauth.builtin`: Interlock's own authorization server (src/server/oauth/builtin/). */
export interface BuiltinAuthServerConfig {
  /** environment variable with the secret that encrypts the signing key in Redis and signs cookies */
  secretEnv: string;
  /** environment variable with a private signing JWK (JSON); unset: a key generated once and kept in Redis */
  signingKeyEnv?: string;
  users: OAuthUserConfig[];
  accessTokenTtlS: number;
  /** failed sign-ins allowed per user name and address, and how long they count; unset: 5 per 15 min */
  signInLimit?: { attempts: number; windowMs: number };
}

/** `server.auth.oauth`: /mcp (and the API) as an OAuth-protected resource. */
export interface ServerOAuthConfig {
  /** an external authorization server's issuer; absent with `builtin` (then it is <public URL>/oauth) */
  issuer?: string;
  jwksUri?: string;
  /** RFC 7662 introspection instead of JWT verification; `cacheMs`: how long an active answer is kept */
  introspection?: { url: string; clientId: string; clientSecretEnv: string; cacheMs?: number };
  /** the `aud` tokens must carry; default <public URL>/mcp */
  audience?: string;
  /** for each Interlock scope, the token scopes that grant it */
  scopeMap: Record<Scope, string[]>;
  builtin?: BuiltinAuthServerConfig;
}

export interface ServerConfig {
  auth: { oauth?: ServerOAuthConfig };
}

export interface InterlockConfig {
  /** absolute path of the file this came from */
  file: string;
  connectors: Record<string, ConnectorConfig>;
  workflows: Record<string, WorkflowDef>;
  policy: PolicyConfig;
  tokens: TokenConfig[];
  llm?: LlmConfig;
  /** where else pending writes are put in front of approvers (Slack) */
  approvals?: ApprovalsConfig;
  server?: ServerConfig;
}
