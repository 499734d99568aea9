import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ConfigSource } from '../config/source.ts';
import type { Engine } from '../engine/engine.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import type { RedisClient } from '../runs/redis.ts';
import type { TriggerOutcome, TriggerPause, TriggerState } from '../runs/trigger-state.ts';
import { resolveTemplates } from '../templates.ts';
import type { InterlockConfig, ScheduleTrigger, TemplateContext, TriggerDef, WebhookTrigger } from '../workflows/types.ts';
import { SCHEDULE_QUEUE, Schedules, type TickData, scheduleQueuePrefix, scheduleTriggers, tickTime } from './schedules.ts';
import { type HeaderReader, verifyWebhook } from './verify.ts';

/** What the API, CLI and pages show of a trigger. */
export interface TriggerInfo {
  id: string;
  workflow: string;
  name: string;
  kind: 'schedule' | 'webhook';
  /** who its runs are started by (their `owner`): never a person, so never someone who can approve */
  principal: string;
  cron?: string;
  everyMs?: number;
  timezone?: string;
  missed?: string;
  /** `/hooks/<hook>` */
  path?: string;
  webhook?: 'stripe' | 'hmac';
  events?: string[];
  paused: boolean;
  pausedBy?: string;
  pausedAt?: number;
  /** when the schedule's next tick is due (ms since the epoch) */
  nextTick?: number;
  last?: TriggerOutcome;
}

/** What a delivery did: the runs it started (or found started before) and the triggers it passed by. */
export interface DeliveryResult {
  event: { id: string; type?: string };
  runs: Array<{ trigger: string; workflow: string; runId: string; created: boolean }>;
  /** triggers of this hook the event's type does not concern */
  ignored: string[];
}

/** Errors a tick meets again on every try. */
const SETTLED = new Set(['INPUT_INVALID', 'TEMPLATE_ERROR', 'WORKFLOW_NOT_FOUND']);

/** Stripe retries a webhook for up to three days; its event id must name its run for longer. */
const WEBHOOK_KEY_TTL_S = 7 * 86_400;

export function principalOf(t: TriggerDef): string {
  return `${t.kind}:${t.id}`;
}

export function allTriggers(config: InterlockConfig): TriggerDef[] {
  return Object.values(config.workflows).flatMap((wf) => wf.triggers ?? []);
}

export interface TriggersDeps {
  engine: Engine;
  state: TriggerState;
  source: ConfigSource;
  /** the request connection: listing, pausing and syncing fail fast when Redis is gone */
  connection: RedisClient;
  prefix: string;
  logger: Logger;
}

/**
 * Schedules and webhooks: the ways a run starts with no person asking. Every process can list,
 * pause and take webhooks; processes that run workers also process the schedules' ticks and keep
 * the job schedulers in step with the config (at start and on every reload).
 */
export class Triggers {
  readonly schedules: Schedules;
  private readonly deps: TriggersDeps;
  private worker: Worker<TickData> | undefined;
  private unsubscribe: (() => void) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(deps: TriggersDeps) {
    this.deps = deps;
    this.schedules = new Schedules(deps.connection, deps.prefix);
  }

  private get config(): InterlockConfig {
    return this.deps.source.current;
  }

  find(id: string): TriggerDef {
    const t = allTriggers(this.config).find((x) => x.id === id);
    if (!t) {
      const known =
        allTriggers(this.config)
          .map((x) => x.id)
          .join(', ') || 'none';
      throw new InterlockError('NOT_FOUND', `No trigger '${id}' (known: ${known})`);
    }
    return t;
  }

  async list(): Promise<TriggerInfo[]> {
    const [paused, last, next] = await Promise.all([
      this.deps.state.paused(),
      this.deps.state.last(),
      scheduleTriggers(this.config).length ? this.schedules.nextTicks() : new Map<string, number>(),
    ]);
    return allTriggers(this.config).map((t) => info(t, paused.get(t.id), last.get(t.id), next.get(t.id)));
  }

  async pause(id: string, by: string): Promise<TriggerInfo> {
    const t = this.find(id);
    await this.deps.state.pause(id, by);
    // A paused schedule holds no timer; a tick already taken sees the pause and starts nothing.
    if (t.kind === 'schedule') await this.schedules.remove(id);
    return this.infoOf(id);
  }

  async resume(id: string): Promise<TriggerInfo> {
    const t = this.find(id);
    await this.deps.state.resume(id);
    if (t.kind === 'schedule') await this.schedules.upsert(t);
    return this.infoOf(id);
  }

  private async infoOf(id: string): Promise<TriggerInfo> {
    const found = (await this.list()).find((t) => t.id === id);
    if (!found) throw new InterlockError('NOT_FOUND', `No trigger '${id}'`);
    return found;
  }

  /** Upserts and removes job schedulers so they say what the config says. */
  async sync(config: InterlockConfig = this.config): Promise<void> {
    const paused = new Set((await this.deps.state.paused()).keys());
    const r = await this.schedules.sync(config, paused);
    if (r.upserted.length || r.removed.length) this.deps.logger.info(r, 'schedules synced with the config');
  }

  /** Processes ticks in this process, on the workers' connection, and follows reloads. */
  async start(connection: RedisClient): Promise<void> {
    if (this.unsubscribe) return;
    await this.syncUntilDone();
    await this.follow(this.config, connection);
    this.unsubscribe = this.deps.source.subscribe(async (next, _diff, prev) => {
      // Only a change to the schedules costs the reload a round trip to Redis.
      if (sameSchedules(prev, next)) return;
      try {
        await this.sync(next);
        await this.follow(next, connection);
      } catch (err) {
        this.deps.logger.warn({ err: errorMessage(err) }, 'could not sync the schedules with the new config');
      }
    });
  }

  /**
   * A worker may start while Redis is away (its step workers wait for it); the schedulers are
   * synced once it answers, trying again every few seconds until then.
   */
  private syncUntilDone(): Promise<void> {
    return this.sync().catch((err: unknown) => {
      if (this.closed) return;
      this.deps.logger.warn({ err: errorMessage(err) }, 'could not sync the schedules; trying again in 5 s');
      this.retry = setTimeout(() => void this.syncUntilDone(), 5000);
      this.retry.unref();
    });
  }

  /** A tick worker while the config has schedules (ticks already queued wait for one otherwise). */
  private async follow(config: InterlockConfig, connection: RedisClient): Promise<void> {
    if (this.worker || scheduleTriggers(config).length === 0) return;
    this.worker = new Worker<TickData>(SCHEDULE_QUEUE, (job) => this.tick(job), {
      connection,
      prefix: scheduleQueuePrefix(this.deps.prefix),
      concurrency: 5,
    });
    this.worker.on('error', (err) => this.deps.logger.warn({ err: errorMessage(err) }, 'schedule worker error'));
    await this.worker.waitUntilReady();
  }

  /** One tick: a run, unless the trigger is gone, paused, or the tick was missed and `missed: skip`. */
  private async tick(job: Job<TickData>): Promise<TriggerOutcome> {
    const id = job.data.trigger;
    const due = tickTime(job.id, job.timestamp);
    const t = scheduleTriggers(this.config).find((x) => x.id === id);
    let outcome: TriggerOutcome;
    try {
      outcome = await this.tickOutcome(t, job, due);
    } catch (err) {
      // Inputs that do not fit fail the same way on every try: recorded, not retried. Anything
      // else (Redis gone) throws, and BullMQ tries the tick again under the same id.
      if (!(err instanceof InterlockError) || !SETTLED.has(err.code)) throw err;
      outcome = { at: Date.now(), outcome: 'failed', reason: err.message };
      this.deps.logger.warn({ trigger: id, tick: job.id, err: err.message }, 'schedule tick started no run');
    }
    await this.deps.state.record(id, outcome);
    if (outcome.outcome !== 'skipped') this.deps.logger.info({ trigger: id, tick: job.id, ...outcome }, 'schedule tick');
    return outcome;
  }

  private async tickOutcome(t: ScheduleTrigger | undefined, job: Job<TickData>, due: number): Promise<TriggerOutcome> {
    const at = Date.now();
    if (!t) return { at, outcome: 'skipped', reason: 'the trigger is no longer in the config' };
    if (await this.deps.state.isPaused(t.id)) return { at, outcome: 'skipped', reason: 'paused' };
    const late = at - due;
    if (t.missed === 'skip' && late > t.graceMs)
      return { at, outcome: 'skipped', reason: `missed: due ${new Date(due).toISOString()}, ${late} ms late (missed: skip)` };
    const ctx = { tick: { time: new Date(due).toISOString(), ms: due, id: job.id ?? '' } };
    const inputs = await resolveTemplates(t.inputs, ctx as unknown as TemplateContext);
    const started = await this.start1(t, inputs, job.id ?? `${t.id}:${due}`, 86_400);
    return { at, outcome: started.created ? 'started' : 'replayed', runId: started.runId };
  }

  /** Starts the trigger's run under `key`; the same key again is the run it started before. */
  private async start1(t: TriggerDef, inputs: unknown, key: string, ttlS: number): Promise<{ runId: string; created: boolean }> {
    try {
      const { run, created } = await this.deps.engine.trigger(t.workflow, inputs, {
        principal: principalOf(t),
        idempotencyKey: `${t.kind}:${key}`,
        idempotencyTtlS: ttlS,
      });
      return { runId: run.id, created };
    } catch (err) {
      // The same tick or event after a reload changed the inputs: it already has its run.
      const runId =
        (err instanceof InterlockError && err.code === 'IDEMPOTENCY_KEY_REUSED' && (err.details as { runId?: unknown })?.runId) ||
        undefined;
      if (typeof runId === 'string') return { runId, created: false };
      throw err;
    }
  }

  /**
   * A request to `/hooks/<hook>`: verified on the raw body before anything is parsed, then a run
   * per trigger of the hook that the event's type concerns, keyed by the event id so a sender's
   * retries find the run they started. A bad signature throws before anything is written.
   */
  async deliver(hook: string, body: string, header: HeaderReader): Promise<DeliveryResult> {
    const triggers = allTriggers(this.config).filter((t): t is WebhookTrigger => t.kind === 'webhook' && t.hook === hook);
    if (!triggers.length) throw new InterlockError('NOT_FOUND', `No webhook at /hooks/${hook}`);
    const event = await verifyWebhook(triggers[0].verify, body, header);
    const result: DeliveryResult = {
      event: { id: event.id, ...(event.type ? { type: event.type } : {}) },
      runs: [],
      ignored: [],
    };
    const paused: string[] = [];
    for (const t of triggers) {
      if (t.events.length && (event.type === undefined || !t.events.includes(event.type))) {
        result.ignored.push(t.id);
        continue;
      }
      if (await this.deps.state.isPaused(t.id)) {
        paused.push(t.id);
        continue;
      }
      const ctx = { event: event.body };
      const inputs = await resolveTemplates(t.inputs, ctx as unknown as TemplateContext);
      const started = await this.start1(t, inputs, event.id, WEBHOOK_KEY_TTL_S);
      result.runs.push({ trigger: t.id, workflow: t.workflow, ...started });
      await this.deps.state.record(t.id, {
        at: Date.now(),
        outcome: started.created ? 'started' : 'replayed',
        runId: started.runId,
      });
    }
    if (paused.length)
      throw new InterlockError(
        'TRIGGER_PAUSED',
        `Trigger ${paused.join(', ')} is paused; the sender's retry delivers it after a resume`,
        {
          paused,
          runs: result.runs,
        },
      );
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.unsubscribe?.();
    await this.worker?.close();
    this.worker = undefined;
    await this.schedules.close();
  }
}

function sameSchedules(a: InterlockConfig, b: InterlockConfig): boolean {
  const key = (c: InterlockConfig) => JSON.stringify(scheduleTriggers(c).map(({ pos: _pos, ...t }) => t));
  return key(a) === key(b);
}

function info(
  t: TriggerDef,
  pause: TriggerPause | undefined,
  last: TriggerOutcome | undefined,
  next: number | undefined,
): TriggerInfo {
  const common = {
    id: t.id,
    workflow: t.workflow,
    name: t.name,
    kind: t.kind,
    principal: principalOf(t),
    paused: pause !== undefined,
    ...(pause ? { pausedBy: pause.by, pausedAt: pause.at } : {}),
    ...(last ? { last } : {}),
  };
  if (t.kind === 'webhook') return { ...common, path: `/hooks/${t.hook}`, webhook: t.verify.type, events: t.events };
  return {
    ...common,
    ...(t.cron !== undefined ? { cron: t.cron } : {}),
    ...(t.everyMs !== undefined ? { everyMs: t.everyMs } : {}),
    ...(t.timezone ? { timezone: t.timezone } : {}),
    missed: t.missed,
    ...(next !== undefined && !pause ? { nextTick: next } : {}),
  };
}
