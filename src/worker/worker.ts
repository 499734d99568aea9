import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigSource } from '../config/source.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import { own } from '../lookup.ts';
import { isRedisUnreachable } from '../runs/redis-unavailable.ts';
import { FLOW_CONNECTOR, LLM_CONNECTOR, type InterlockConfig, isFlowStep } from '../workflows/types.ts';

/** flow step jobs one worker process runs at once: most of them only wait or drive their own calls */
const FLOW_CONCURRENCY = 20;
import { StepProcessor, type ProcessorDeps } from './processor.ts';
import { QUEUE_PREFIX, queuePrefix, type StepJobData } from './queues.ts';
import { rateLimitsFor } from './rate-limits.ts';
import { chainSliceMs } from './chain.ts';
import { ConnectorPlaces } from './places.ts';
import { Reconciler } from './reconciler.ts';

export interface StepWorkersOptions extends ProcessorDeps {
  connection: ConnectionOptions;
  /**
   * Connectors (a queue each; rate limits and call timeouts read at each call), and workflows: when
   * any has llm steps, a worker for the `llm` queue starts too. Followed across reloads.
   */
  config: ConfigSource;
  /** the base of every queue's prefix, as StepQueues has it; see queuePrefix */
  prefix?: string;
  /** how often this process looks for confirmations past their deadline */
  sweepEveryMs?: number;
  /** how often the reconciler runs (default INTERLOCK_RECONCILE_EVERY_MS or 5 s); see reconciler.ts */
  reconcileEveryMs?: number;
  /** how long a job may go on running its run's next steps in place (default INTERLOCK_CHAIN_SLICE_MS or 1 s; 0: never); see chain.ts */
  chainSliceMs?: number;
}

/**
 * The worker side of one process: a BullMQ Worker per connector queue, the timer that expires
 * confirmations nobody decided, and the reconciler that enqueues steps marked ready whose job a
 * crash lost. Any number of processes may run these against one Redis.
 */
export class StepWorkers {
  private readonly workers = new Map<string, Worker<StepJobData>>();
  private unsubscribe: (() => void) | undefined;
  private readonly processor: StepProcessor;
  private readonly opts: StepWorkersOptions;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly handBack = new AbortController();
  /** the connectors' concurrency places, shared by their own jobs and the jobs that run their steps in place */
  private readonly places = new ConnectorPlaces();
  readonly reconciler: Reconciler;

  constructor(opts: StepWorkersOptions) {
    this.opts = opts;
    this.processor = new StepProcessor({
      ...opts,
      handBack: this.handBack.signal,
      rateLimit: (id, tool, args) => rateLimitsFor(own(opts.config.current.connectors, id), tool, args),
      callTimeoutMs: (id) => own(opts.config.current.connectors, id)?.timeoutMs,
      workflow: (name) => own(opts.config.current.workflows, name),
      chainSliceMs: opts.chainSliceMs ?? chainSliceMs(),
      jobsOnStoreConnection: !opts.store.redis.isCluster && (opts.connection as unknown) === opts.store.redis,
      places: this.places,
    });
    this.reconciler = new Reconciler({
      store: opts.store,
      queues: opts.queues,
      logger: opts.logger,
      ...(opts.reconcileEveryMs ? { everyMs: opts.reconcileEveryMs } : {}),
    });
  }

  start(): this {
    this.follow(this.opts.config.current);
    this.unsubscribe = this.opts.config.subscribe((next) => this.follow(next));
    const every = this.opts.sweepEveryMs ?? 1000;
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref();
    this.reconciler.start();
    return this;
  }

  /** One worker per queue the config needs: new ones start, removed ones close, concurrency follows. */
  private follow(config: InterlockConfig): void {
    const queues = new Map<string, number>(Object.values(config.connectors).map((c) => [c.id, c.concurrency]));
    this.places.resize(queues);
    const llmSteps = Object.values(config.workflows).some((wf) => wf.steps.some((s) => s.kind === 'llm'));
    if (llmSteps && !queues.has(LLM_CONNECTOR)) queues.set(LLM_CONNECTOR, config.llm?.concurrency ?? 5);
    // Control-flow steps mostly wait or drive calls of their own; their queue takes many at once.
    const flowSteps = Object.values(config.workflows).some((wf) => wf.steps.some(isFlowStep));
    if (flowSteps && !queues.has(FLOW_CONNECTOR)) queues.set(FLOW_CONNECTOR, FLOW_CONCURRENCY);
    for (const [id, w] of this.workers) {
      if (queues.has(id)) continue;
      this.workers.delete(id);
      // Steps already queued there wait for a config that has the connector again.
      w.close().catch((err: unknown) =>
        this.opts.logger.warn({ err: errorMessage(err), connector: id }, "could not close a removed queue's worker"),
      );
    }
    for (const [id, concurrency] of queues) {
      const running = this.workers.get(id);
      if (running) running.concurrency = concurrency;
      else this.workers.set(id, this.startWorker(id, concurrency));
    }
  }

  private startWorker(id: string, concurrency: number): Worker<StepJobData> {
    const w = new Worker<StepJobData>(id, (job, token) => this.holding(id, job, token), {
      connection: this.opts.connection,
      prefix: queuePrefix(this.opts.prefix ?? QUEUE_PREFIX, id),
      concurrency,
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
    // Another worker may take a job whose lock lapsed: it runs no further step in place (chain.ts).
    w.on('lockRenewalFailed', (ids) => this.processor.lostLocks(ids));
    // Redis being away is logged once per outage by the connection (src/runs/redis.ts), not per retry here.
    w.on(
      'error',
      (err) =>
        isRedisUnreachable(err, { socketErrors: true }) ||
        this.opts.logger.warn({ err: err.message, connector: id }, 'worker error'),
    );
    return w;
  }

  /**
   * A job of a connector's queue holds one of the connector's places while it runs (places.ts);
   * BullMQ's concurrency lets no more of them start than there are places, so it waits only while
   * another queue's job runs one of this connector's steps in place.
   */
  private async holding(id: string, job: Job<StepJobData>, token: string | undefined): Promise<string> {
    const release = await this.places.acquire(id);
    try {
      return await this.processor.process(job, token);
    } finally {
      release();
    }
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
        await this.opts.store.failStep(
          run.id,
          job.data.stepId,
          'failed',
          'failed',
          { finishedAt: Date.now() },
          { code: 'STEP_ABANDONED', message: `The step job failed outside the step: ${err.message}` },
        );
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
          if (err instanceof InterlockError && err.code === 'CONFIRMATION_NOT_FOUND')
            await this.opts.store.dropPendingConfirmation(cid);
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
    await Promise.all([...this.workers.values()].map((w) => w.waitUntilReady()));
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
    this.unsubscribe?.();
    this.reconciler.stop();
    const timer = setTimeout(() => this.handBack.abort(), force ? 0 : graceMs);
    const giveUp = new AbortController();
    try {
      const closed = Promise.all([...this.workers.values()].map((w) => w.close(force)));
      closed.catch((err: unknown) => this.opts.logger.warn({ err: errorMessage(err) }, 'a step worker did not close cleanly'));
      // The sleep is aborted (giveUp) once the workers closed first: that is its normal end.
      const deadline = sleep((force ? 0 : graceMs) + 1000, undefined, { signal: giveUp.signal }).catch(() => {});
      await Promise.race([closed, deadline]);
    } finally {
      clearTimeout(timer);
      giveUp.abort();
    }
    this.workers.clear();
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
