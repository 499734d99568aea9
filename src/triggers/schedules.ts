import { Queue } from 'bullmq';
import { assertRedisReady } from '../runs/redis-unavailable.ts';
import type { RedisClient } from '../runs/redis.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import type { InterlockConfig, ScheduleTrigger } from '../workflows/types.ts';

/**
 * The queue the schedules' tick jobs go to. Its keys are apart from every step queue's, and its
 * name holds a dot, which no connector id can, so bull-board (which keys queues by name) never
 * mixes it up with a connector's queue.
 */
export const SCHEDULE_QUEUE = 'triggers.schedules';

export function scheduleQueuePrefix(prefix: string): string {
  return `${prefix}:t:{schedules}`;
}

/** A tick job's data: which trigger, and the timing it was scheduled with. */
export interface TickData {
  trigger: string;
  /** hash of the trigger's timing (cron, every, timezone) when its scheduler was upserted */
  timing: string;
}

/** Finished tick jobs kept for bull-board (and the tests that count ticks). */
const KEEP_FINISHED = { age: 7 * 86_400, count: 1000 };

export function scheduleTriggers(config: InterlockConfig): ScheduleTrigger[] {
  return Object.values(config.workflows).flatMap((wf) =>
    (wf.triggers ?? []).filter((t): t is ScheduleTrigger => t.kind === 'schedule'),
  );
}

/**
 * Only the timing decides whether a scheduler is upserted again: upserting moves its next tick, so
 * a restart or a reload that changes only the inputs (read at each tick) keeps a tick that is due.
 */
export function timingOf(t: ScheduleTrigger): string {
  return sha256Hex(canonicalJson({ cron: t.cron ?? null, every: t.everyMs ?? null, tz: t.timezone ?? null })).slice(0, 16);
}

/**
 * The schedules' side of BullMQ: one job scheduler per schedule trigger that is not paused, with
 * the trigger's id as the scheduler's. BullMQ keeps exactly one next job per scheduler, whose id
 * (`repeat:<scheduler>:<millis>`) names the tick; any number of processes may sync at once.
 */
export class Schedules {
  private q: Queue<TickData> | undefined;
  private readonly connection: RedisClient;
  private readonly prefix: string;

  constructor(connection: RedisClient, prefix: string) {
    this.connection = connection;
    this.prefix = prefix;
  }

  /** Made on first use: a process that never schedules (a CLI command) sends BullMQ nothing. */
  get queue(): Queue<TickData> {
    if (!this.q) {
      // BullMQ holds a new queue's first command until the connection is ready, however long that
      // takes; on the request connection, fail now instead (as StepQueues does).
      if (this.connection.options.enableOfflineQueue === false) assertRedisReady(this.connection);
      this.q = new Queue<TickData>(SCHEDULE_QUEUE, {
        connection: this.connection,
        prefix: scheduleQueuePrefix(this.prefix),
        streams: { events: { maxLen: 1000 } },
      });
      this.q.on('error', () => {});
    }
    return this.q;
  }

  /**
   * Makes the schedulers say what the config says: new or retimed schedules are upserted, those
   * gone from the config (or paused) removed. A scheduler whose timing is unchanged is left as it
   * is, so the tick it holds (perhaps one that came due while nothing ran) stays.
   */
  async sync(config: InterlockConfig, paused: ReadonlySet<string>): Promise<{ upserted: string[]; removed: string[] }> {
    const want = new Map(
      scheduleTriggers(config)
        .filter((t) => !paused.has(t.id))
        .map((t) => [t.id, t]),
    );
    // BullMQ's sorted set of schedulers: with none wanted and none there, there is nothing to do.
    if (want.size === 0 && (await this.connection.exists(`${scheduleQueuePrefix(this.prefix)}:${SCHEDULE_QUEUE}:repeat`)) === 0)
      return { upserted: [], removed: [] };
    const have = await this.queue.getJobSchedulers(0, -1);
    const upserted: string[] = [];
    const removed: string[] = [];
    for (const t of want.values()) {
      const found = have.find((h) => h.key === t.id);
      const data = found?.template?.data as Partial<TickData> | undefined;
      if (found && data?.timing === timingOf(t)) continue;
      await this.upsert(t);
      upserted.push(t.id);
    }
    for (const h of have) {
      if (want.has(h.key)) continue;
      await this.queue.removeJobScheduler(h.key);
      removed.push(h.key);
    }
    return { upserted, removed };
  }

  async upsert(t: ScheduleTrigger): Promise<void> {
    const repeat =
      t.cron !== undefined ? { pattern: t.cron, ...(t.timezone ? { tz: t.timezone } : {}) } : { every: t.everyMs ?? 0 };
    await this.queue.upsertJobScheduler(t.id, repeat, {
      name: t.id,
      data: { trigger: t.id, timing: timingOf(t) },
      // A tick that fails (Redis gone mid-trigger) is tried again; its id keeps it one run.
      opts: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: KEEP_FINISHED,
        removeOnFail: KEEP_FINISHED,
      },
    });
  }

  async remove(id: string): Promise<void> {
    await this.queue.removeJobScheduler(id);
  }

  /** When each scheduler's next tick is due (ms), by trigger id. */
  async nextTicks(): Promise<Map<string, number>> {
    const have = await this.queue.getJobSchedulers(0, -1);
    return new Map(have.flatMap((h) => (typeof h.next === 'number' ? [[h.key, h.next] as const] : [])));
  }

  async close(): Promise<void> {
    await this.q?.close();
    this.q = undefined;
  }
}

/** The time a tick job was due: BullMQ names it `repeat:<scheduler>:<millis>`. */
export function tickTime(jobId: string | undefined, fallback: number): number {
  const ms = Number(jobId?.slice(jobId.lastIndexOf(':') + 1));
  return Number.isFinite(ms) && ms > 0 ? ms : fallback;
}
