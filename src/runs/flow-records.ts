/**
 * The transitions of control-flow steps, part of the run store (which owns every key): the items of
 * a loop or a parallel step (startItem, commitItem) and steps that wait without a job (waitStep).
 * Items live in the run hash beside their step, so a run and everything it did stay in one slot.
 */
import { scrub } from '../secrets.ts';
import type { Keys } from './keys.ts';
import type { ItemRecord } from './records.ts';
import type { RedisClient } from './redis.ts';
import { runScriptKeys } from './ready.ts';
import { taggedResult, textResult } from './results.ts';

type ScriptFn = (...keysThenArgv: string[]) => Promise<unknown>;
type ItemEnd = Extract<ItemRecord['status'], 'succeeded' | 'skipped' | 'failed' | 'denied' | 'in_doubt'>;
export type ItemResult = Omit<ItemRecord, 'status' | 'attempts' | 'intentAttempt'>;

const j = (v: unknown): string => scrub(JSON.stringify(v ?? null));

export class FlowRecords {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly s: Record<'startItem' | 'commitItem' | 'waitStep', ScriptFn>;

  constructor(redis: RedisClient, keys: Keys, scripts: Record<'startItem' | 'commitItem' | 'waitStep', ScriptFn>) {
    this.redis = redis;
    this.keys = keys;
    this.s = scripts;
  }

  private rk(runId: string, ready = false): string[] {
    return runScriptKeys(this.keys, this.redis.isCluster, runId, ...(ready ? [this.keys.readyIndex()] : []));
  }

  /** Starts an item before its call; see startItem-n.lua. A write passes the attempts it saw. */
  async startItem(
    runId: string,
    stepId: string,
    key: string,
    data: Record<string, unknown>,
    write: boolean,
    seenAttempts: number,
  ): Promise<{ ok: true; attempts: number } | { ok: false; reason: string; status: string }> {
    const { tag, items } = taggedResult(
      'startItem',
      await this.s.startItem(
        ...this.rk(runId),
        stepId,
        key,
        String(Date.now()),
        j({ item: key, ...data }),
        write ? '1' : '0',
        write ? String(seenAttempts) : '',
      ),
      ['ok', 'run', 'step', 'item', 'missing'],
      1,
    );
    return tag === 'ok' ? { ok: true, attempts: Number(items[0]) } : { ok: false, reason: tag, status: items[0] };
  }

  /** Records how an item ended; 'dup:<status>' when it had ended already. */
  async commitItem(runId: string, stepId: string, key: string, status: ItemEnd, result: ItemResult): Promise<string> {
    const ev = { item: key, ...(result.error ? { error: result.error } : {}), ...(result.note ? { note: result.note } : {}) };
    return textResult(
      'commitItem',
      await this.s.commitItem(...this.rk(runId), stepId, key, status, j(result), String(Date.now()), j(ev)),
    );
  }

  /**
   * Leaves a step running with no job, ready at `dueAt` (see waitStep-n.lua); `generation` names the
   * job that wakes it. `result` replaces the step's recorded result unless undefined.
   */
  async waitStep(
    runId: string,
    stepId: string,
    dueAt: number,
    generation: string,
    result: Record<string, unknown> | undefined,
    event: 'waiting' | 'woken',
    data: Record<string, unknown>,
  ): Promise<string> {
    // On a cluster the ready index is in another slot: its entry goes first (see RunStore.readyAhead).
    if (this.redis.isCluster) await this.redis.zadd(this.keys.readyIndex(), dueAt, runId);
    const now = Date.now();
    return textResult(
      'waitStep',
      await this.s.waitStep(
        ...this.rk(runId, true),
        stepId,
        String(now),
        String(dueAt),
        generation,
        result ? j(result) : '',
        event,
        j(data),
      ),
    );
  }
}
