/**
 * The parsed, validated shape of workflows.yaml. The loader (`load.ts`) is the only producer;
 * the engine, the pool and the servers only read these. Everything here is plain JSON so a run
 * can pin its workflow definition in Redis as-is. A connector's settings are src/connectors' own
 * (connectors/config.ts); they are re-exported here as part of the file's shape.
 */
import type { ConnectorConfig, SourcePos } from '../connectors/config.ts';

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
}

/** `server.auth.oauth`: /mcp (and the API) as an OAuth-protected resource. */
export interface ServerOAuthConfig {
  /** an external authorization server's issuer; absent with `builtin` (then it is <public URL>/oauth) */
  issuer?: string;
  jwksUri?: string;
  /** RFC 7662 introspection instead of JWT verification */
  introspection?: { url: string; clientId: string; clientSecretEnv: string };
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
  server?: ServerConfig;
}
