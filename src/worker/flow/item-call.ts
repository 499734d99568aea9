import { setTimeout as sleep } from 'node:timers/promises';
import { checkToolResult, recordedResult } from '../../connectors/results.ts';
import type { ToolCallResult, ToolInfo } from '../../connectors/types.ts';
import type { ItemRecord } from '../../runs/records.ts';
import type { StepDeps, StepJob } from '../execute.ts';
import { errorInfo, isTransient, neverDelivered } from '../retry.ts';
import { rateClaim } from '../rate-slots.ts';
import type { Unit } from './units.ts';

/** A unit cleared to call: its tool, resolved arguments and what let it through (the item's note). */
export interface UnitCall {
  unit: Unit;
  tool: ToolInfo;
  args: Record<string, unknown>;
  argumentsHash: string;
  note?: string;
}

const DEFAULT_HOLD_MS = 60_000;

/** `undefined`: the run cannot go on (cancelled, or another job holds the step). */
export async function callUnit(
  d: StepDeps,
  j: StepJob,
  c: UnitCall,
  rec: ItemRecord | undefined,
): Promise<ItemRecord | undefined> {
  const { unit, tool } = c;
  const slots = await takeSlots(d, unit, tool, c.args);
  try {
    return await startAndCall(d, j, c, rec);
  } finally {
    slots?.release();
  }
}

async function startAndCall(d: StepDeps, j: StepJob, c: UnitCall, rec: ItemRecord | undefined): Promise<ItemRecord | undefined> {
  const { run, step } = j;
  const { unit, tool, args, argumentsHash } = c;
  const start = await d.store.flow.startItem(run.id, step.id, unit.key, { argumentsHash }, tool.write, rec?.attempts ?? 0);
  // An item another job has started is that job's to finish; one that ended meanwhile is as it ended.
  if (!start.ok)
    return start.reason === 'item' && start.status !== 'running'
      ? { status: start.status as ItemRecord['status'], attempts: rec?.attempts ?? 0 }
      : undefined;
  const t0 = Date.now();
  const base = { arguments: args, argumentsHash, startedAt: t0, ...(c.note ? { note: c.note } : {}) };
  let result: ToolCallResult | undefined;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= Math.max(1, unit.step.retry.attempts); attempt++) {
    try {
      result = await d.tools.send(tool, args, {
        idempotencyKey: unit.idem,
        ...(unit.step.timeoutMs ? { timeoutMs: unit.step.timeoutMs } : {}),
      });
      break;
    } catch (err) {
      lastErr = err;
      // A write that may have reached the server is resent only when the server dedupes it by key.
      const resendable = !tool.write || tool.idempotent || neverDelivered(err);
      if (!isTransient(err) || !resendable) break;
      await sleep(unit.step.retry.backoffMs * 2 ** (attempt - 1));
    }
  }
  const finishedAt = Date.now();
  if (!result) {
    const info = errorInfo(lastErr);
    const inDoubt = tool.write && !tool.idempotent && isTransient(lastErr) && !neverDelivered(lastErr);
    const status = inDoubt ? 'in_doubt' : 'failed';
    await d.store.flow.commitItem(run.id, step.id, unit.key, status, { ...base, error: info, finishedAt });
    return { ...base, status, attempts: start.attempts, error: info, finishedAt };
  }
  const failure = result.isError
    ? {
        code: 'TOOL_ERROR' as const,
        message: `${tool.connector}.${tool.name} failed: ${result.text || 'the tool reported an error'}`,
      }
    : await checkToolResult(tool, result);
  d.onStepFinished?.({ connector: tool.connector, tool: tool.name, durationMs: finishedAt - t0, ok: !failure });
  const recorded = { ...base, ...recordedResult(result), finishedAt };
  if (failure) {
    const out = { ...recorded, error: { code: failure.code, message: failure.message } as ItemRecord['error'] };
    await d.store.flow.commitItem(run.id, step.id, unit.key, 'failed', out);
    return { ...out, status: 'failed', attempts: start.attempts };
  }
  await d.store.flow.commitItem(run.id, step.id, unit.key, 'succeeded', recorded);
  return { ...recorded, status: 'succeeded', attempts: start.attempts };
}

/**
 * Waits for a slot in every rate-limit window of the call (takeRateSlots-n.lua: all of them or
 * none, on Redis's clock). The loop's job waits in place: it holds its items' places anyway, and
 * the other items of the loop go on meanwhile. The slots count until `per` after `release`.
 */
async function takeSlots(
  d: StepDeps,
  unit: Unit,
  tool: ToolInfo,
  args: Record<string, unknown>,
): Promise<{ release: () => void } | undefined> {
  const limits = d.rateLimit?.(tool.connector, tool.name, args) ?? [];
  if (!limits.length) return undefined;
  // A slot of a call that never answers (its worker died) frees up a little after its timeout.
  const holdMs = (unit.step.timeoutMs ?? d.callTimeoutMs?.(tool.connector) ?? DEFAULT_HOLD_MS) + 1000;
  const claim = rateClaim(d.store, d.logger, tool.connector, limits, holdMs);
  for (;;) {
    const wait = await claim.take();
    if (wait <= 0) break;
    await sleep(wait);
  }
  return { release: claim.release };
}
