/**
 * A tool call step: its rate-limit slots, its start (a write's intent first), the call itself
 * under a guard that stops it on a cancel or a shutdown, and what its answer or failure means
 * for the step (commit and go on, retry, in doubt, blocked on a login).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError } from 'bullmq';
import { checkToolResult, loosenedNote, recordedResult } from '../connectors/results.ts';
import type { ToolCallResult } from '../connectors/types.ts';
import { CallGuard } from './call-guard.ts';
import { isLoginRequired } from '../connectors/oauth/login-required.ts';
import { handOff } from './chain.ts';
import { blockOnLogin } from './block.ts';
import { type StepDeps, type StepJob, attemptOf, commitAndAdvance, failAttempt, handBack } from './execute.ts';
import { recordGateNote } from './gate-record.ts';
import type { StepOp } from './plan.ts';
import type { RateSlot } from './rate-limits.ts';
import { rateClaim } from './rate-slots.ts';
import { errorInfo, isTransient, neverDelivered } from './retry.ts';
import { StepStart, notStarted } from './start.ts';

type CallOp = Extract<StepOp, { kind: 'call' }>;
type CoveredOp = Extract<StepOp, { kind: 'callCovered' }>;

const DEFAULT_HOLD_MS = 60_000;
const READ_START_AFTER_MS = 50;
const RATE_WAIT_IN_PLACE_MS = 250;

export function idempotencyKey(runId: string, stepId: string): string {
  return `interlock-${runId}-${stepId}`;
}

export async function callTool(d: StepDeps, j: StepJob, op: CallOp, confirmationId?: string): Promise<string> {
  const { run, step } = j;
  await recordGateNote(d, j, op, confirmationId);
  const limits = d.rateLimit?.(step.connector, step.tool, op.args) ?? [];
  const slot = limits.length ? await takeRateSlots(d, j, limits, step.timeoutMs ?? d.callTimeoutMs?.(step.connector)) : undefined;
  if (typeof slot === 'string') return slot;
  const start = new StepStart(d.store, run.id, step.id, { argumentsHash: op.argumentsHash, attempt: attemptOf(j) });
  if (op.tool.write) {
    const started = await start.intent(j.rec.attempts);
    if (!started.ok) {
      slot?.release();
      return notStarted(started);
    }
  } else start.after(READ_START_AFTER_MS);
  const t0 = Date.now();
  const guard = new CallGuard({
    interruptible: !op.tool.write || op.tool.idempotent,
    cancellable: !op.tool.write,
    runStatus: () => d.store.runStatus(run.id),
    ...(d.handBack ? { handBack: d.handBack } : {}),
    ...(d.cancelPollMs ? { pollMs: d.cancelPollMs } : {}),
  });
  let result: ToolCallResult;
  try {
    result = await d.tools.send(op.tool, op.args, {
      idempotencyKey: idempotencyKey(run.id, step.id),
      ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
      ...(guard.signal ? { signal: guard.signal } : {}),
    });
  } catch (err) {
    return await callFailed(d, j, op, { start, guard, t0 }, err);
  } finally {
    start.stopTimer();
    guard.dispose();
    slot?.release();
  }
  return answered(d, j, op, start, result, t0);
}

/**
 * A write a grant or an approved plan covers: its decision is recorded first, as an approved
 * confirmation naming the grant or plan and the hash (with the grant's use, in one script), and
 * only then is it sent. A grant revoked, expired or used up since it was read asks a person instead.
 */
export async function callCovered(d: StepDeps, j: StepJob, op: CoveredOp): Promise<string> {
  const { cover } = op;
  const decision =
    cover.by === 'grant'
      ? { by: cover.grant.by ?? 'unknown', channel: 'grant' as const, grantId: cover.grant.id }
      : { by: cover.plan.by, channel: 'plan' as const, planHash: cover.plan.planHash };
  const r = await d.store.decideAuto(j.run, j.step.id, op.payload, decision, cover.by === 'grant' ? cover.grant : undefined);
  if (r.outcome === 'refused') {
    if (r.reason.startsWith('run ') || r.reason.startsWith('step ')) return `not started: ${r.reason}`;
    d.logger.info({ runId: j.run.id, stepId: j.step.id, reason: r.reason }, 'the grant no longer covers the write; asking');
    const conf = await d.store.openGate(j.run, j.step.id, op.payload, d.policy().confirmationTtlMs);
    return conf ? 'awaiting confirmation' : 'not paused';
  }
  const note =
    cover.by === 'grant'
      ? ({ kind: 'remembered', grant: cover.grant } as const)
      : ({ kind: 'planned', planHash: cover.plan.planHash, by: cover.plan.by } as const);
  return callTool(d, j, { kind: 'call', tool: op.tool, args: op.args, argumentsHash: op.argumentsHash, note }, r.confirmationId);
}

async function callFailed(
  d: StepDeps,
  j: StepJob,
  op: CallOp,
  c: { start: StepStart; guard: CallGuard; t0: number },
  err: unknown,
): Promise<string> {
  const { run, step } = j;
  const started = await c.start.now();
  if (!started.ok) return notStarted(started);
  if (c.guard.reason === 'hand_back') return handBack(d, j);
  if (isLoginRequired(err)) return blockOnLogin(d, j, step.connector, err);
  if (c.guard.reason === 'cancelled') {
    await d.store.appendEvent(run.id, 'step.aborted', step.id, {
      reason: 'the run was cancelled while the step was calling its tool',
    });
    return 'run cancelled';
  }
  const recorded = { arguments: op.args, argumentsHash: op.argumentsHash, startedAt: c.t0 };
  if (op.tool.write && !op.tool.idempotent && isTransient(err)) {
    if (neverDelivered(err)) {
      // The request provably never reached the server: the next attempt of this job may send it,
      // with the same idempotency key, instead of leaving the step in doubt.
      return failAttempt(d, j, err, recorded, started.attempts);
    }
    await d.store.failStep(run.id, step.id, 'in_doubt', 'needs_attention', recorded, {
      code: 'IN_DOUBT',
      message: `${errorInfo(err).message} while calling ${step.connector}.${step.tool}, which is not idempotent; whether the write happened is unknown`,
    });
    d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: Date.now() - c.t0, ok: false });
    return 'in doubt';
  }
  return failAttempt(d, j, err, recorded);
}

async function answered(
  d: StepDeps,
  j: StepJob,
  op: CallOp,
  start: StepStart,
  result: ToolCallResult,
  t0: number,
): Promise<string> {
  const { run, step } = j;
  const begun = start.begun;
  if (begun) {
    const started = await start.now();
    if (!started.ok) return notStarted(started);
  }
  const finishedAt = Date.now();
  const failure = result.isError
    ? {
        code: 'TOOL_ERROR' as const,
        message: `${step.connector}.${step.tool} failed: ${result.text || 'the tool reported an error'}`,
      }
    : await checkToolResult(op.tool, result);
  d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: finishedAt - t0, ok: !failure });
  const recorded = { arguments: op.args, argumentsHash: op.argumentsHash, ...recordedResult(result), startedAt: t0, finishedAt };
  if (failure) {
    if (!begun) {
      const started = await start.now();
      if (!started.ok) return notStarted(started);
    }
    await d.store.failStep(run.id, step.id, 'failed', 'failed', recorded, { code: failure.code, message: failure.message });
    return failure.code === 'TOOL_ERROR' ? 'tool error' : `failed: ${failure.code}`;
  }
  return commitAndAdvance(
    d,
    j,
    'succeeded',
    {
      arguments: op.args,
      argumentsHash: op.argumentsHash,
      ...recordedResult(result),
      ...loosenedNote(op.tool),
      startedAt: t0,
      finishedAt,
      durationMs: finishedAt - t0,
    },
    begun ? undefined : start.data,
  );
}

/**
 * Waits for a slot in every rate-limit window of the call; the slots count until `per` after
 * `release`, which the caller runs once the call has answered or failed (see takeRateSlots-n.lua).
 * A wait longer than RATE_WAIT_IN_PLACE_MS puts the job back as delayed rather than holding one
 * of the connector's concurrency places, so calls queued behind a busy window (one Slack channel)
 * do not hold up calls to others; nothing was started, so the job simply runs again later. A step
 * borrowed by an earlier step's job (chain.ts) goes to a delayed job of its own instead, and the
 * answer is what the step's outcome is then.
 */
async function takeRateSlots(
  d: StepDeps,
  j: StepJob,
  limits: RateSlot[],
  timeoutMs = DEFAULT_HOLD_MS,
): Promise<{ release: () => void } | string> {
  // A slot of a call that never answers (its worker died) frees up a little after its timeout.
  const claim = rateClaim(d.store, d.logger, j.step.connector, limits, timeoutMs + 1000);
  for (;;) {
    const wait = await claim.take();
    if (wait <= 0) break;
    if (wait > RATE_WAIT_IN_PLACE_MS && j.borrowed) return handOff(d, j, 'waiting for a rate-limit slot', { delayMs: wait });
    if (wait > RATE_WAIT_IN_PLACE_MS && j.token) {
      await j.job.moveToDelayed(Date.now() + wait, j.token);
      throw new DelayedError();
    }
    await sleep(wait);
  }
  return { release: claim.release };
}
