/**
 * Carries out what planStep decided, against the store and the queues. Each operation is one
 * short function; the two that call out (a tool, a model) live in call.ts and llm.ts, what a gate
 * decided without a person in gate-record.ts, and pausing a run for an admin or a login in block.ts.
 */
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CallOptions, ToolCallResult, ToolInfo } from '../connectors/types.ts';
import type { LlmCaller } from '../llm/caller.ts';
import type { ReadyMarker } from '../runs/ready.ts';
import type { RunRecord, StepRecord } from '../runs/records.ts';
import type { RunStore } from '../runs/store.ts';
import type { PolicyConfig, StepDef, WorkflowDef } from '../workflows/types.ts';
import { blockOnChangedTool, blockOnLogin } from './block.ts';
import { callCovered, callTool } from './call.ts';
import { type Chain, handOff } from './chain.ts';
import { denyByGrant, denyByRule } from './gate-record.ts';
import { callModel } from './llm.ts';
import { stepIndex } from '../workflows/step-index.ts';
import type { ActionOp, PositionOp } from './plan.ts';
import type { ConnectorPlaces } from './places.ts';
import type { StepJobData, StepQueues } from './queues.ts';
import type { RateSlot } from './rate-limits.ts';
import { errorInfo, final, isTransient } from './retry.ts';
import { errorMessage } from '../errors.ts';

/** What the processor needs from the connector pool: a lookup, and a call of what was looked up. */
export interface ToolCaller {
  getTool(connector: string, tool: string): Promise<ToolInfo>;
  send(tool: ToolInfo, args: Record<string, unknown>, opts: CallOptions): Promise<ToolCallResult>;
}

export interface StepDeps {
  store: RunStore;
  queues: StepQueues;
  tools: ToolCaller;
  policy: () => PolicyConfig;
  logger: Logger;
  /** how llm steps reach a model; without it they fail with a clear error */
  llm?: LlmCaller;
  onStepFinished?: (info: { connector: string; tool: string; durationMs: number; ok: boolean }) => void;
  /** aborted when the process shuts down: unfinished reads and idempotent writes go back to the queue */
  handBack?: AbortSignal;
  /** how often a running read looks whether its run was cancelled (default 1 s) */
  cancelPollMs?: number;
  /** the rate-limit windows a call takes a slot in, held across every worker process through Redis */
  rateLimit?: (connector: string, tool: string, args: Record<string, unknown>) => RateSlot[];
  /** a connector's call timeout, which bounds how long an unanswered call holds its rate-limit slots */
  callTimeoutMs?: (connector: string) => number | undefined;
  /** the current definition of a workflow, for a `workflow:` step that starts it as a child */
  workflow?: (name: string) => WorkflowDef | undefined;
  /** how long one job may go on running its run's next steps in place (chain.ts); 0 or unset: never */
  chainSliceMs?: number;
  /**
   * BullMQ completes the step jobs over the store's own connection (a single Redis): a job's last
   * commit and the job's completion then go out together (see commitAndAdvance)
   */
  jobsOnStoreConnection?: boolean;
  /** the concurrency places of the connectors this process serves: a job takes one to run another connector's step in place */
  places?: ConnectorPlaces;
}

/** One step job with the run it belongs to, once its position in the run lets it proceed. */
export interface StepJob {
  job: Job<StepJobData>;
  token: string | undefined;
  run: RunRecord;
  step: StepDef;
  rec: StepRecord;
  next: string | undefined;
  /** present when the job may run the next step in place once this one commits (see chain.ts) */
  chain?: Chain;
  /**
   * the step runs in the job of a step before it (in place): `job` is that job, so whatever would
   * act on the job (a retry, a delay, a hand-back) hands the step to a job of its own instead
   */
  borrowed?: boolean;
}

/** The attempt of the step this is (1 for the first), counting attempts made in an earlier step's job. */
export function attemptOf(j: StepJob): number {
  return j.borrowed ? 1 : j.job.attemptsMade + 1 + (j.job.data.priorAttempts ?? 0);
}

/**
 * The operations decided before the step's own facts were gathered. `ready`: the run's ready
 * marker, when it has one.
 */
export async function settle(
  d: StepDeps,
  job: Job<StepJobData>,
  token: string | undefined,
  run: RunRecord | undefined,
  op: PositionOp,
  ready?: ReadyMarker,
): Promise<string> {
  if (op.kind === 'stop') return op.outcome;
  if (op.kind === 'waitForPrevious') {
    if (!op.recheck) return `waiting for ${op.prev}`;
    await job.moveToDelayed(Date.now() + 20, token);
    throw new DelayedError();
  }
  if (!op.next || !run) return 'already committed';
  // Committed before a crash that came ahead of the enqueue: finish the hand-off. When the run went
  // further in place (chain.ts) before the crash, its marker names the step it reached: that one.
  const st = ready && run.steps[ready.stepId]?.status;
  if (ready && ready.stepId !== op.next && (st === 'pending' || st === 'running'))
    await d.queues.enqueue(run.definition, run.id, run.session, ready.stepId, ready.generation);
  else await d.queues.enqueue(run.definition, run.id, run.session, op.next, '0');
  return 'already committed';
}

export async function execute(d: StepDeps, j: StepJob, op: ActionOp): Promise<string> {
  const { store } = d;
  const { run, step } = j;
  switch (op.kind) {
    case 'skip':
      await commitAndAdvance(d, j, 'skipped', { note: op.note, finishedAt: Date.now() });
      return 'skipped';
    case 'fail':
      return failAttempt(d, j, op.error, op.result);
    case 'block':
      return blockOnChangedTool(d, j, op.tool, op.fields);
    case 'awaitLogin':
      return blockOnLogin(d, j, op.connector, op.error);
    case 'inDoubt':
      await store.failStep(
        run.id,
        step.id,
        'in_doubt',
        'needs_attention',
        { arguments: op.args, argumentsHash: op.argumentsHash },
        {
          code: 'IN_DOUBT',
          message: `The worker stopped while calling ${step.connector}.${step.tool}, which is not idempotent; whether the write happened is unknown. A person must check and resolve it.`,
        },
      );
      return 'in doubt';
    case 'ask': {
      if (op.planDiverged)
        await store.appendEvent(run.id, 'step.plan_diverged', step.id, {
          reason: op.planDiverged,
          argumentsHash: op.payload.argumentsHash,
        });
      const conf = await store.openGate(run, step.id, op.payload, d.policy().confirmationTtlMs);
      d.logger.info({ runId: run.id, stepId: step.id, confirmationId: conf?.id }, 'waiting for confirmation');
      return 'awaiting confirmation';
    }
    case 'deny':
      return op.rule ? denyByRule(d, j, op.rule, op) : denyByGrant(d, j, op);
    case 'callCovered':
      return callCovered(d, j, op);
    case 'call':
      return callTool(d, j, op);
    case 'callModel':
      return callModel(d, j, op);
  }
}

/**
 * Commits a step and enqueues the next, in one round trip where one connection orders them (see
 * RunStore.thenEnqueue); or, when the job may run the next step in place, commits it and takes the
 * next step on, with what that step needs (chain.ts), in one round trip and no enqueue.
 */
export async function commitAndAdvance(
  d: StepDeps,
  j: StepJob,
  status: 'succeeded' | 'skipped',
  result: Parameters<RunStore['commitStep']>[3],
  started?: Record<string, unknown>,
): Promise<string> {
  const { run, next, chain } = j;
  const after = next === undefined ? undefined : run.definition.steps[stepIndex(run.definition.steps, next)];
  if (next && chain?.job.id && after?.kind === 'call' && (await chain.accepts(after))) {
    const r = await d.store.commitStepInPlace(
      run,
      j.step.id,
      status,
      result,
      { stepId: next, holder: chain.job.id, toolField: `${after.connector}.${after.tool}` },
      started,
    );
    if (r.loaded) chain.took(j.step.id, next, r.loaded);
    return r.outcome;
  }
  if (next === undefined && !run.parent && d.jobsOnStoreConnection) return commitLast(d, j, status, result, started);
  return d.store.commitStep(run.id, j.step.id, status, result, next, {
    ...(started ? { started } : {}),
    ...(next ? { enqueueNext: () => d.queues.enqueue(run.definition, run.id, run.session, next, '0') } : {}),
  });
}

/**
 * The run's last step: its commit is sent, and the job ends without waiting for the answer, so
 * BullMQ's completion of the job (moveToFinished, which also fetches the next job) goes out right
 * behind it on the same connection, in the same socket write (RunStore.together). Redis runs a
 * connection's commands in order, so the job is never complete in Redis before its run's commit,
 * and both are answered after one sync of the AOF instead of two in a row. A commit that fails leaves what a crash between the call and the commit
 * leaves: the step's ready marker, naming this job, which the reconciler enqueues once the job is
 * gone (and the call's idempotency key, or its write intent, decides the rest, as after a crash).
 * If Redis is away, the completion fails too and BullMQ hands the job back when its lock lapses.
 */
function commitLast(
  d: StepDeps,
  j: StepJob,
  status: 'succeeded' | 'skipped',
  result: Parameters<RunStore['commitStep']>[3],
  started?: Record<string, unknown>,
): string {
  const { run, step } = j;
  d.store.commitStep(run.id, step.id, status, result, undefined, { withWhatFollows: true, ...(started ? { started } : {}) }).then(
    (outcome) => {
      if (outcome !== 'ok') d.logger.info({ runId: run.id, stepId: step.id, outcome }, 'the last commit found the run moved on');
    },
    (err: unknown) =>
      d.logger.warn(
        { runId: run.id, stepId: step.id, err: errorMessage(err) },
        'the last commit failed; the reconciler takes the step up',
      ),
  );
  return 'committed';
}

/**
 * Records a failed attempt; throws so BullMQ retries it when it is transient and attempts remain.
 * A borrowed step (chain.ts) is retried in a job of its own instead, this attempt counted.
 * `undeliveredAttempt`: the attempt this try proved never reached the server, for the retry.
 */
export async function failAttempt(
  d: StepDeps,
  j: StepJob,
  err: unknown,
  result: Record<string, unknown>,
  undeliveredAttempt?: number,
): Promise<string> {
  const info = errorInfo(err);
  const prior = j.borrowed ? 0 : (j.job.data.priorAttempts ?? 0);
  const attempts = j.borrowed ? Math.max(1, j.step.retry.attempts) : (j.job.opts.attempts ?? 1) + prior;
  const attempt = attemptOf(j);
  if (isTransient(err) && attempt < attempts) {
    await d.store.appendEvent(j.run.id, 'step.retrying', j.step.id, { ...info, attempt, of: attempts });
    if (j.borrowed)
      return handOff(d, j, 'retrying', { delayMs: j.step.retry.backoffMs, priorAttempts: attempt, undeliveredAttempt });
    if (undeliveredAttempt !== undefined) await j.job.updateData({ ...j.job.data, undeliveredAttempt });
    throw err;
  }
  // Say the retry budget is spent, so nobody retries by hand what was retried already.
  if (isTransient(err) && attempts > 1) info.message = `${info.message} (gave up after ${attempts} attempts)`;
  await d.store.failStep(j.run.id, j.step.id, 'failed', 'failed', { ...result, finishedAt: Date.now() }, info);
  if (isTransient(err) && !j.borrowed) throw final(info.message);
  return `failed: ${info.code}`;
}

/**
 * Puts the job back in the queue for another worker without spending an attempt (BullMQ's
 * DelayedError): the step stays `running`, and whoever takes it next calls again, with the
 * same idempotency key.
 */
export async function handBack(d: StepDeps, j: StepJob): Promise<string> {
  await d.store.appendEvent(j.run.id, 'step.handed_back', j.step.id, { reason: 'the worker shut down before the call answered' });
  if (j.borrowed) return handOff(d, j, 'the worker shut down');
  await j.job.moveToDelayed(Date.now(), j.token);
  throw new DelayedError();
}
