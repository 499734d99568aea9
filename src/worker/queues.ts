import { Queue, type JobsOptions } from 'bullmq';
import { assertRedisReady, redisUnavailable } from '../runs/redis-unavailable.ts';
import type { RedisClient } from '../runs/redis.ts';
import type { StepDef, WorkflowDef } from '../workflows/types.ts';

export const QUEUE_PREFIX = 'il:q';

const QUEUE_EVENTS_MAX = 1000;

/**
 * BullMQ's prefix for one connector's queue: `<base>:{<connector>}`, so its keys read
 * `il:q:{stripe}:stripe:wait`. BullMQ scripts touch many keys of a queue at once, which on a Redis
 * Cluster must share a slot; the tag per connector keeps each queue in one slot and spreads the
 * queues (the busiest keys: every step runs several BullMQ scripts) over the masters.
 */
export function queuePrefix(base: string, connector: string): string {
  return `${base}:{${connector}}`;
}

/** Data of a step job: enough to load everything else in one round trip. */
export interface StepJobData {
  runId: string;
  stepId: string;
  session: string;
  /** `connector.tool` of a call step, so its grant and toggle load with the run in one round trip */
  tool?: string;
  /** the step's intent attempt that this job's last try proved never reached the server (see call.ts) */
  undeliveredAttempt?: number;
  /** attempts of the step made before this job, in the job of the step before it (see chain.ts) */
  priorAttempts?: number;
}

export function jobName(workflow: string, stepId: string): string {
  return `${workflow}.${stepId}`;
}

/**
 * Deterministic job ids make "commit, then enqueue the next step" safe to repeat after a crash:
 * enqueueing the same step of the same run twice yields one job.
 */
export function stepJobId(runId: string, stepId: string, generation: string): string {
  return `${runId}.${stepId}.${generation}`;
}

/**
 * The step a step job's id names (stepJobId): the job's own step. A run id has no dot and a
 * generation is '0' or a confirmation id (no dot either), so whatever lies between is the step id.
 */
export function stepOfJobId(runId: string, jobId: string): string | undefined {
  if (!jobId.startsWith(`${runId}.`)) return undefined;
  const rest = jobId.slice(runId.length + 1);
  const dot = rest.lastIndexOf('.');
  return dot > 0 ? rest.slice(0, dot) : undefined;
}

/**
 * The connector whose queue holds a step job of `def`: its own step's. A job that runs later steps
 * in place (chain.ts), on other connectors too, stays in that queue.
 */
export function queueOfJob(def: WorkflowDef, runId: string, jobId: string): string | undefined {
  const stepId = stepOfJobId(runId, jobId);
  return stepId === undefined ? undefined : def.steps.find((s) => s.id === stepId)?.connector;
}

export function jobOptions(step: StepDef, jobId: string, priorAttempts = 0): JobsOptions {
  return {
    jobId,
    attempts: Math.max(1, step.retry.attempts - priorAttempts),
    backoff: { type: 'exponential', delay: step.retry.backoffMs },
    // A paused run must hold no job: finished step jobs are removed; the run record keeps the history.
    removeOnComplete: true,
    removeOnFail: { count: 1000 },
  };
}

/** One BullMQ queue per connector (llm steps share the `llm` queue), created lazily and shared by the engine in one process. */
export class StepQueues {
  private readonly queues = new Map<string, Queue<StepJobData>>();
  private readonly connection: RedisClient;
  /** the base of every queue's prefix; see queuePrefix */
  readonly prefix: string;

  /**
   * On the request connection (RedisHandle.client) an enqueue that cannot reach Redis fails and is
   * never held for later; on the workers' connection it waits for Redis.
   */
  constructor(connection: RedisClient, prefix = QUEUE_PREFIX) {
    this.connection = connection;
    this.prefix = prefix;
  }

  get(connector: string): Queue<StepJobData> {
    let q = this.queues.get(connector);
    if (!q) {
      // BullMQ waits for the connection to be ready before a new queue's first command, however long
      // that takes: right for the workers' connection, which waits out outages, not for a request's.
      if (this.connection.options.enableOfflineQueue === false) assertRedisReady(this.connection);
      q = new Queue<StepJobData>(connector, {
        connection: this.connection,
        prefix: queuePrefix(this.prefix, connector),
        // BullMQ's own event stream feeds QueueEvents listeners, which Interlock does not use (runs
        // have their own events); its default 10,000 entries are about 1 MB of Redis per queue.
        streams: { events: { maxLen: QUEUE_EVENTS_MAX } },
      });
      // The queue re-emits its connection's errors; that connection's outage log (src/runs/redis.ts)
      // reports them once, and a failed add rejects to its caller. The listener only keeps Node
      // from throwing on an 'error' nobody listens to.
      q.on('error', () => {});
      this.queues.set(connector, q);
    }
    return q;
  }

  all(): Queue<StepJobData>[] {
    return [...this.queues.values()];
  }

  /**
   * `delayMs`: a delayed job (a sleep's wake-up), held by BullMQ's delayed set and no worker.
   * `more`: what a step that began in another step's job hands on (see chain.ts).
   */
  async enqueue(
    def: WorkflowDef,
    runId: string,
    session: string,
    stepId: string,
    generation: string,
    delayMs = 0,
    more: Pick<StepJobData, 'undeliveredAttempt' | 'priorAttempts'> = {},
  ): Promise<void> {
    const step = def.steps.find((s) => s.id === stepId);
    if (!step) throw new Error(`step ${stepId} not in workflow ${def.name}`);
    const data: StepJobData = {
      runId,
      stepId,
      session,
      ...(step.kind === 'call' ? { tool: `${step.connector}.${step.tool}` } : {}),
      ...more,
    };
    const q = this.get(step.connector);
    try {
      const opts = jobOptions(step, stepJobId(runId, stepId, generation), more.priorAttempts);
      await q.add(jobName(def.name, stepId), data, delayMs > 0 ? { ...opts, delay: delayMs } : opts);
    } catch (err) {
      // A queue whose start-up met the outage keeps failing; the next enqueue makes a new one.
      if (redisUnavailable(err) && this.queues.get(step.connector) === q) {
        this.queues.delete(step.connector);
        // Closing a queue whose connection is down fails the same way; the outage log already said why.
        void q.close().catch(() => {});
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
    this.queues.clear();
  }
}
