import type { Keys } from './keys.ts';
import { F } from './keys.ts';
import type { RunRecord } from './records.ts';
import type { RedisClient } from './redis.ts';
import { textResult } from './results.ts';

type ScriptFn = (...keysThenArgv: string[]) => Promise<unknown>;

/** A step marked ready (see scripts/includes/ready.lua), as the reconciler and the doctor read it. */
export interface ReadyMarker {
  runId: string;
  stepId: string;
  generation: string;
  at: number;
}

/**
 * The number of keys and the keys of a run script: the run's own two, and on a single Redis the
 * indexes it keeps beside the run (on a cluster they are in other slots; see includes/ready.lua).
 */
export function runScriptKeys(keys: Keys, cluster: boolean, runId: string, ...indexes: string[]): string[] {
  const all = [keys.run(runId), keys.events(runId), ...(cluster ? [] : indexes)];
  return [String(all.length), ...all];
}

/**
 * The ready index and the reconciler's lock; part of the run store, which owns every key. The
 * transitions that set and clear markers are the store's; this is what reads and repairs them.
 */
export class ReadySteps {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly s: Record<'markReady' | 'dropReady' | 'dropReadyEntry' | 'releaseLock', ScriptFn>;

  constructor(
    redis: RedisClient,
    keys: Keys,
    scripts: Record<'markReady' | 'dropReady' | 'dropReadyEntry' | 'releaseLock', ScriptFn>,
  ) {
    this.redis = redis;
    this.keys = keys;
    this.s = scripts;
  }

  private rr(runId: string): string[] {
    return runScriptKeys(this.keys, this.redis.isCluster, runId, this.keys.readyIndex());
  }

  /**
   * On a cluster the ready index is in another slot than the run: its entry is written before the
   * script that marks the step, so a crash between the two leaves an entry without a marker (the
   * reconciler drops it), never a marker nobody finds. On one Redis the script writes both.
   */
  async ahead(runId: string): Promise<void> {
    if (this.redis.isCluster) await this.redis.zadd(this.keys.readyIndex(), Date.now(), runId);
  }

  /** Index entries older than `before`, oldest first, with their scores. */
  async entries(before: number, limit: number): Promise<Array<{ runId: string; score: string }>> {
    const flat = await this.redis.zrangebyscore(this.keys.readyIndex(), '-inf', before, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: Array<{ runId: string; score: string }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ runId: flat[i], score: flat[i + 1] });
    return out;
  }

  /** The run's ready marker, read from its raw hash, or undefined when it has none. */
  marker(run: RunRecord, h: Record<string, string>): ReadyMarker | undefined {
    const stepId = h[F.ready];
    if (!stepId) return undefined;
    return { runId: run.id, stepId, generation: h[F.readyGen] ?? '0', at: Number(h[F.readyAt] ?? 0) };
  }

  /** Whether the run still holds exactly this marker (one HMGET). */
  async still(m: ReadyMarker): Promise<boolean> {
    const [step, gen] = await this.redis.hmget(this.keys.run(m.runId), F.ready, F.readyGen);
    return step === m.stepId && (gen ?? '0') === m.generation;
  }

  /** Moves an index entry later, so a marker whose job was just enqueued is looked at again only then. */
  async defer(runId: string, until: number): Promise<void> {
    await this.redis.zadd(this.keys.readyIndex(), 'XX', until, runId);
  }

  /** Drops an index entry read with `score`, unless it was written again since (see dropReadyEntry-1.lua). */
  async dropEntry(runId: string, score: string): Promise<boolean> {
    return Number(await this.s.dropReadyEntry(this.keys.readyIndex(), runId, score)) === 1;
  }

  /** Clears a marker that no longer stands for a runnable step, if it is still the one read. */
  async drop(m: ReadyMarker): Promise<boolean> {
    return Number(await this.s.dropReady(...this.rr(m.runId), m.stepId, m.generation)) === 1;
  }

  /** Repair: marks the step a run is at ready again with a new generation; see markReady-n.lua. */
  async mark(runId: string, stepId: string, generation: string, why: string): Promise<string> {
    await this.ahead(runId);
    return textResult(
      'markReady',
      await this.s.markReady(
        ...this.rr(runId),
        stepId,
        generation,
        String(Date.now()),
        JSON.stringify({ reason: why, generation }),
      ),
    );
  }

  /** The reconciler's lock: one pass at a time across processes; it expires if its holder dies. */
  async takeLock(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.reconcileLock(), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async releaseLock(token: string): Promise<void> {
    await this.s.releaseLock(this.keys.reconcileLock(), token);
  }
}
