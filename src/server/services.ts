import type { Logger } from 'pino';
import type { ConfigSource } from '../config/source.ts';
import type { ConnectorPool } from '../connectors/pool.ts';
import type { Engine } from '../engine/engine.ts';
import type { approvePlan, PlanView } from '../engine/plans.ts';
import type { AccountSummary } from '../connectors/oauth/credentials.ts';
import type { AuditLog } from '../runs/audit.ts';
import type { CallbackDeps } from './routes/oauth.ts';
import type { GrantStore } from '../runs/grants.ts';
import type { DecisionChannel } from '../runs/records.ts';
import type { DecideLinks } from '../runs/decide-links.ts';
import type { PinStore } from '../runs/pins.ts';
import type { RedisClient, RedisHandle } from '../runs/redis.ts';
import type { RunStore } from '../runs/store.ts';
import type { Diagnosis } from '../worker/doctor.ts';
import type { Triggers } from '../triggers/triggers.ts';
import type { StepQueues } from '../worker/queues.ts';
import type { ConnectorConfig, InterlockConfig } from '../workflows/types.ts';

/**
 * What the HTTP routes, pages, dashboards, metrics and the MCP facade may use, in narrow slices.
 * Each of them takes the slices it names (`Pick<ServerServices, 'commands' | 'queries'>`), so a
 * route's signature says what it can touch; only the composition roots (serve.ts, http.ts,
 * mcp-stdio.ts, compose.ts) know the whole App and hand these out (see compose.ts).
 */
export interface ServerServices {
  /** the current config; read it again after a reload, never keep it */
  config: () => InterlockConfig;
  /** follows reloads (tool lists, bull-board queues, tokens) and reloads on request */
  source: Pick<ConfigSource, 'subscribe' | 'reload' | 'current'>;
  commands: RunCommands;
  queries: RunQueries;
  catalog: ConnectorCatalog;
  /** one-time links that decide one confirmation (URL-mode elicitation and its page) */
  decideLinks: Pick<DecideLinks, 'mint' | 'peek' | 'take' | 'revoke'>;
  /** remembered decisions, read only (revoking is a command) */
  grants: Pick<GrantStore, 'list' | 'require' | 'uses'>;
  /** a run's plan of writes, and approving it once */
  plans: RunPlans;
  /** OAuth connectors: who is logged in, starting a login, and its callback */
  oauth: ConnectorLogins;
  /** every decision, append-only (GET /api/v1/audit) */
  audit: Pick<AuditLog, 'list'>;
  /** a run session's end: its remembered approvals go */
  sessions: Pick<RunStore, 'endSession'>;
  /** Redis as the event streams read it */
  events: EventReader;
  /** the step queues, read only (dashboard, metrics) */
  queues: Pick<StepQueues, 'get'>;
  health: Health;
  doctor: Doctor;
  /** schedules and webhooks: list, pause, resume, take a webhook; the schedule queue for bull-board */
  triggers: TriggerControl;
  logger: Logger;
}

export type TriggerControl = Pick<Triggers, 'list' | 'pause' | 'resume' | 'deliver' | 'schedules'>;

/** Start, decide, cancel and resolve runs: the engine's control side. */
export type RunCommands = Pick<
  Engine,
  'workflow' | 'trigger' | 'cancel' | 'approve' | 'deny' | 'resolve' | 'waitFor' | 'revokeGrant'
>;

/** Logging Interlock in to OAuth-protected connectors (src/connectors/oauth). */
export interface ConnectorLogins {
  /** each OAuth connector's login summary (who, scopes, expiry; never a token), by id */
  accounts(): Promise<Map<string, AccountSummary>>;
  /** starts a login for `connector` (undefined when it does not use OAuth); `by` resumes waiting runs */
  login(
    connector: ConnectorConfig,
    by: string,
  ): Promise<
    | { kind: 'connected'; account: AccountSummary | undefined }
    | { kind: 'started'; url: string; expiresAt: number; callback: string }
    | undefined
  >;
  /** what GET /oauth/callback completes */
  callback: CallbackDeps;
}

/** The plan of every write a run will reach (engine/plans.ts), with the catalog's tools filled in. */
export interface RunPlans {
  current(runId: string): Promise<PlanView>;
  approve(runId: string, planHash: string, opts: { by: string; channel: DecisionChannel }): ReturnType<typeof approvePlan>;
}

/** Read runs, confirmations and run events. */
export type RunQueries = Pick<
  RunStore,
  'getRun' | 'requireRun' | 'listRuns' | 'readEvents' | 'getConfirmation' | 'requireConfirmation' | 'listConfirmations'
>;

/** The connectors' tools as the pool knows them, and the admin's switches over them. */
export interface ConnectorCatalog {
  pool: Pick<ConnectorPool, 'status' | 'listTools' | 'listAllTools' | 'refresh' | 'onToolsChanged'>;
  toggles: Pick<RunStore, 'disabledTools' | 'setToolEnabled'>;
  pins: Pick<PinStore, 'review' | 'changedKeys'>;
  approveTool: Engine['approveTool'];
}

/** A shared command connection, a fresh one for blocking reads, and where a run's events live. */
export interface EventReader {
  client: RedisClient;
  duplicate: RedisHandle['duplicate'];
  streamKey(runId: string): string;
}

export interface Health {
  redis: RedisClient;
  /** whether this process runs step workers */
  workersRunning(): boolean;
}

/** Runs stuck by any rule the doctor knows; with `repair`, repaired where that is safe. */
export type Doctor = (opts: { repair?: boolean }) => Promise<Diagnosis>;
