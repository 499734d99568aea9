import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterlockError } from '../errors.ts';
import { isRedisUnreachable } from '../runs/redis-unavailable.ts';
import { LLM_CONNECTOR, type ConnectorConfig, type LlmConfig, type WorkflowDef } from '../workflows/types.ts';
import { StepProcessor, type ProcessorDeps } from './processor.ts';
import { QUEUE_PREFIX, queuePrefix, type StepJobData } from './queues.ts';
import { rateLimitsFor } from './rate-limits.ts';
import { Reconciler } from './reconciler.ts';

export interface StepWorkersOptions extends ProcessorDeps {
  connection: ConnectionOptions;
  connectors: Record<string, ConnectorConfig>;
  /** when any of them has llm steps, a worker for the `llm` queue starts too */
  workflows?: Record<string, WorkflowDef>;
  llmConfig?: LlmConfig;
  /** the base of every queue's prefix, as StepQueues has it; see queuePrefix */
  prefix?: string;
  /** how often this process looks for confirmations past their deadline */
  sweepEveryMs?: number;
  /** how often the reconciler runs (default INTERLOCK_RECONCILE_EVERY_MS or 5 s); see reconciler.ts */
  reconcileEveryMs?: number;
}

/**
 * The worker side of one process: a BullMQ Worker per connector queue, the timer that expires
 * confirmations nobody decided, and the reconciler that enqueues steps marked ready whose job a
 * crash lost. Any number of processes may run these against one Redis.
 */
export class StepWorkers {
  private readonly workers: Worker<StepJobData>[] = [];
  private readonly processor: StepProcessor;
  private readonly opts: StepWorkersOptions;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly handBack = new AbortController();
  readonly reconciler: Reconciler;

  constructor(opts: StepWorkersOptions) {
    this.opts = opts;
    this.processor = new StepProcessor({
      ...opts,
      handBack: this.handBack.signal,
      rateLimit: (id, tool, args) => rateLimitsFor(opts.connectors[id], tool, args),
      callTimeoutMs: (id) => opts.connectors[id]?.timeoutMs,
    });
    this.reconciler = new Reconciler({ store: opts.store, queues: opts.queues, logger: opts.logger,
      ...(opts.reconcileEveryMs ? { everyMs: opts.reconcileEveryMs } : {}) });
  }

  start(): this {
    const queues: Array<Pick<ConnectorConfig, 'id' | 'concurrency'>> = Object.values(this.opts.connectors);
    const llmSteps = Object.values(this.opts.workflows ?? {}).some((wf) => wf.steps.some((s) => s.kind === 'llm'));
    if (llmSteps && !this.opts.connectors[LLM_CONNECTOR]) queues.push({ id: LLM_CONNECTOR, concurrency: this.opts.llmConfig?.concurrency ?? 5 });
    for (const c of queues) {
      const w = new Worker<StepJobData>(c.id, (job, token) => this.processor.process(job, token), {
        connection: this.opts.connection,
        prefix: queuePrefix(this.opts.prefix ?? QUEUE_PREFIX, c.id),
        concurrency: c.concurrency,
        // Rate limits are not BullMQ's limiter: its fixed window lets 2 × max through across a
        // window boundary; the processor takes a sliding-window slot in Redis right before the call.
        // A worker killed mid-step loses its lock after lockDuration and its job is handed back at
        // the next stall check; the processor then decides between resending (idempotent) and
        // in-doubt from the recorded write intent.
        lockDuration: 10_000,
        stalledInterval: 5000,
        maxStalledCount: 5,
      });
      w.on('failed', (job, err) => void this.onFailed(job, err));
      // Redis being away is logged once per outage by the connection (src/runs/redis.ts), not per retry here.
      w.on('error', (err) => isRedisUnreachable(err, { socketErrors: true }) || this.opts.logger.warn({ err: err.message, connector: c.id }, 'worker error'));
      this.workers.push(w);
    }
    const every = this.opts.sweepEveryMs ?? 1000;
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref();
    this.reconciler.start();
    return this;
  }

  /** BullMQ gave up on a job (stalled too often, or an error thrown outside our handling). */
  private async onFailed(job: Job<StepJobData> | undefined, err: Error): Promise<void> {
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade < attempts && !/stalled/i.test(err.message)) return;
    try {
      const run = await this.opts.store.getRun(job.data.runId);
      const st = run?.steps[job.data.stepId]?.status;
      if (run && (st === 'pending' || st === 'running')) {
        await this.opts.store.failStep(run.id, job.data.stepId, 'failed', 'failed', { finishedAt: Date.now() },
          { code: 'STEP_ABANDONED', message: `The step job failed outside the step: ${err.message}` });
      }
    } catch (e) {
      this.opts.logger.error({ err: (e as Error).message }, 'could not record a failed job');
    }
  }

  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let n = 0;
    try {
      for (const cid of await this.opts.store.dueConfirmations()) {
        try {
          const r = await this.opts.store.decide(cid, 'expire', { by: 'expiry timer', channel: 'system' });
          if (r.outcome === 'expired') {
            n++;
            this.opts.logger.info({ confirmationId: cid, runId: r.runId }, 'confirmation expired');
          }
        } catch (err) {
          // A run deleted under its index entry must not stop the sweep of every other one.
          if (err instanceof InterlockError && err.code === 'CONFIRMATION_NOT_FOUND') await this.opts.store.dropPendingConfirmation(cid);
          else throw err;
        }
      }
    } catch (err) {
      if (!isRedisUnreachable(err)) this.opts.logger.warn({ err: (err as Error).message }, 'confirmation sweep failed');
    } finally {
      this.sweeping = false;
    }
    return n;
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /**
   * Stops taking steps and lets the ones in flight finish for up to `graceMs` (default
   * INTERLOCK_SHUTDOWN_GRACE_MS or 10 s, inside the usual 30 s before an orchestrator's SIGKILL).
   * After that, reads and idempotent writes still calling are aborted and handed back to the
   * queue for another worker; a plain write in flight is waited for, since stopping it would only
   * leave it in doubt, but only until a second after the grace period: a process told to stop
   * stops, and a write cut off there is found in doubt by the next worker.
   * While Redis is away BullMQ's close can wait for it forever (its QUIT queues behind commands
   * waiting for the connection), so this returns at most a second after the grace period; closing
   * the connection (RedisHandle.close) then ends what is still waiting.
   */
  async close(force = false, graceMs = shutdownGraceMs()): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.reconciler.stop();
    const timer = setTimeout(() => this.handBack.abort(), force ? 0 : graceMs);
    const giveUp = new AbortController();
    try {
      const closed = Promise.all(this.workers.map((w) => w.close(force)));
      closed.catch(() => {});
      await Promise.race([closed, sleep((force ? 0 : graceMs) + 1000, undefined, { signal: giveUp.signal }).catch(() => {})]);
    } finally {
      clearTimeout(timer);
      giveUp.abort();
    }
    this.workers.length = 0;
  }
}

/** INTERLOCK_SHUTDOWN_GRACE_MS, default 10 s: how long in-flight steps get to finish on SIGTERM. */
export function shutdownGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.INTERLOCK_SHUTDOWN_GRACE_MS;
  const v = raw ? Number(raw) : Number.NaN;
  return Number.isFinite(v) && v >= 0 ? v : 10_000;
}

/**
 * The last resort of a process that was told to stop: if closing has not finished 1.5 s after the
 * grace period (something waits for a Redis that does not answer), it exits with status 1 anyway.
 */
export function armExitDeadline(say: (msg: string) => void = () => {}): void {
  const ms = shutdownGraceMs() + 1500;
  setTimeout(() => {
    say(`still closing ${ms} ms after the signal; exiting now`);
    process.exit(1);
  }, ms).unref();
}
