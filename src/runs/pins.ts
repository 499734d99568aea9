import { type FieldChange, type ToolPin, diffDefinitions, makePin } from './tool-pins.ts';
import type { PinnableTool } from './tool-pins.ts';
import { InterlockError } from '../errors.ts';
import type { Keys } from './keys.ts';
import { taggedResult } from './results.ts';
import type { RedisClient } from './redis.ts';

type ScriptFn = (k1: string, k2: string, ...argv: string[]) => Promise<unknown>;

export type PinCheck =
  | { status: 'pinned' | 'same' }
  | { status: 'changed'; pin: ToolPin; pending: ToolPin; changes: FieldChange[] };

export interface ToolReview {
  connector: string;
  tool: string;
  pin?: ToolPin;
  /** a definition seen since, different from the pin; the tool is disabled while this exists */
  pending?: ToolPin;
  changes: FieldChange[];
}

export type ApproveOutcome =
  | { outcome: 'approved'; pin: ToolPin }
  | { outcome: 'none' }
  | { outcome: 'mismatch'; pendingHash: string };

/** Tool pins and their pending changes; part of the run store, which owns every key. */
export class PinStore {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly pinTool: ScriptFn;
  private readonly approveTool: ScriptFn;

  constructor(redis: RedisClient, keys: Keys, scripts: { pinTool: ScriptFn; approveTool: ScriptFn }) {
    this.redis = redis;
    this.keys = keys;
    this.pinTool = scripts.pinTool;
    this.approveTool = scripts.approveTool;
  }

  /** Pins a tool seen for the first time, or says whether it still matches its pin; see pinTool-2.lua. */
  async observe(tool: PinnableTool): Promise<PinCheck> {
    const now = makePin(tool);
    const { tag, items } = taggedResult(
      'pinTool',
      await this.pinTool(
        this.keys.toolPins(),
        this.keys.toolChanges(),
        `${tool.connector}.${tool.name}`,
        now.hash,
        JSON.stringify(now),
      ),
      ['pinned', 'same', 'changed'],
    );
    if (tag !== 'changed') return { status: tag };
    if (items.length !== 2)
      throw new InterlockError(
        'INTERNAL',
        `Script pinTool answered 'changed' with ${items.length} items; expected the pin and the pending change`,
      );
    const pin = JSON.parse(items[0]) as ToolPin;
    const pending = JSON.parse(items[1]) as ToolPin;
    return { status: 'changed', pin, pending, changes: diffDefinitions(pin.definition, pending.definition) };
  }

  async review(connector: string, tool: string): Promise<ToolReview> {
    const field = `${connector}.${tool}`;
    const [p, c] = await Promise.all([
      this.redis.hget(this.keys.toolPins(), field),
      this.redis.hget(this.keys.toolChanges(), field),
    ]);
    const pin = p ? (JSON.parse(p) as ToolPin) : undefined;
    const pending = c ? (JSON.parse(c) as ToolPin) : undefined;
    return {
      connector,
      tool,
      ...(pin ? { pin } : {}),
      ...(pending ? { pending } : {}),
      changes: pin && pending ? diffDefinitions(pin.definition, pending.definition) : [],
    };
  }

  /** `connector.tool` of every tool with a change awaiting review (disabled until approved). */
  async changedKeys(): Promise<string[]> {
    return this.redis.hkeys(this.keys.toolChanges());
  }

  /** Every tool with a change awaiting review. */
  async changed(): Promise<ToolReview[]> {
    const fields = await this.redis.hkeys(this.keys.toolChanges());
    return Promise.all(
      fields.map((f) => {
        const i = f.indexOf('.');
        return this.review(f.slice(0, i), f.slice(i + 1));
      }),
    );
  }

  /** Accepts the pending change an admin reviewed (bound to its hash); see approveTool-2.lua. */
  async approve(connector: string, tool: string, reviewedHash: string, by: string): Promise<ApproveOutcome> {
    const { pending } = await this.review(connector, tool);
    if (!pending) return { outcome: 'none' };
    const pin: ToolPin = { ...pending, approvedBy: by, approvedAt: Date.now() };
    const { tag, items } = taggedResult(
      'approveTool',
      await this.approveTool(
        this.keys.toolPins(),
        this.keys.toolChanges(),
        `${connector}.${tool}`,
        reviewedHash,
        JSON.stringify(pin),
      ),
      ['approved', 'none', 'mismatch'],
    );
    if (tag === 'approved') return { outcome: 'approved', pin };
    if (tag === 'mismatch') return { outcome: 'mismatch', pendingHash: items[0] ?? '' };
    return { outcome: 'none' };
  }

  async addWaiting(connector: string, tool: string, runId: string, stepId: string): Promise<void> {
    await this.redis.sadd(this.keys.toolWaiting(`${connector}.${tool}`), `${runId}/${stepId}`);
  }

  /** Runs paused at this tool; each stays in the set until dropWaiting, after its run was unblocked. */
  async waiting(connector: string, tool: string): Promise<Array<{ runId: string; stepId: string }>> {
    const members = await this.redis.smembers(this.keys.toolWaiting(`${connector}.${tool}`));
    return members.map((m) => {
      const i = m.indexOf('/');
      return { runId: m.slice(0, i), stepId: m.slice(i + 1) };
    });
  }

  async dropWaiting(connector: string, tool: string, runId: string, stepId: string): Promise<void> {
    await this.redis.srem(this.keys.toolWaiting(`${connector}.${tool}`), `${runId}/${stepId}`);
  }
}
