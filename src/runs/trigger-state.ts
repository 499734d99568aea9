import type { Keys } from './keys.ts';
import type { RedisClient } from './redis.ts';

/** Who paused a trigger, and when. */
export interface TriggerPause {
  by: string;
  at: number;
}

/** What a trigger's last tick or delivery did. */
export interface TriggerOutcome {
  at: number;
  /** `started`: a new run; `replayed`: the run this tick or event started before; `skipped`: no run */
  outcome: 'started' | 'replayed' | 'skipped' | 'failed';
  runId?: string;
  /** why nothing started (a missed tick, a paused trigger), or why it failed */
  reason?: string;
}

/**
 * The state of schedules and webhooks that outlives a process: which are paused (an operator's
 * decision, kept across restarts and reloads) and what each did last. Their definitions live in
 * the config; the schedules' timers in BullMQ's job schedulers.
 */
export class TriggerState {
  private readonly redis: RedisClient;
  private readonly keys: Keys;

  constructor(redis: RedisClient, keys: Keys) {
    this.redis = redis;
    this.keys = keys;
  }

  async paused(): Promise<Map<string, TriggerPause>> {
    const all = await this.redis.hgetall(this.keys.triggersPaused());
    return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as TriggerPause]));
  }

  async isPaused(id: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.triggersPaused(), id)) === 1;
  }

  /** Whether this call paused it (false: it already was). */
  async pause(id: string, by: string): Promise<boolean> {
    const pause: TriggerPause = { by, at: Date.now() };
    return (await this.redis.hsetnx(this.keys.triggersPaused(), id, JSON.stringify(pause))) === 1;
  }

  /** Whether this call resumed it (false: it was not paused). */
  async resume(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.triggersPaused(), id)) === 1;
  }

  async record(id: string, outcome: TriggerOutcome): Promise<void> {
    await this.redis.hset(this.keys.triggersLast(), id, JSON.stringify(outcome));
  }

  async last(): Promise<Map<string, TriggerOutcome>> {
    const all = await this.redis.hgetall(this.keys.triggersLast());
    return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as TriggerOutcome]));
  }
}
