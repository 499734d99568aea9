import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { checkToolResult, loosenedNote, recordedResult } from '../connectors/results.ts';
import type { CallOptions, ToolCallResult, ToolInfo } from '../connectors/types.ts';
import { InterlockError } from '../errors.ts';
import type { RunRecord } from '../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../runs/records.ts';
import type { RunStore } from '../runs/store.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import { evaluateCondition, resolveTemplates } from '../workflows/templates.ts';
import type { PolicyConfig, StepDef, TemplateContext } from '../workflows/types.ts';
import { CallGuard } from './call-guard.ts';
import { decideGate } from './gate.ts';
import { type LlmCaller, processLlmStep } from './llm.ts';
import type { StepJobData, StepQueues } from './queues.ts';
import type { RateSlot } from './rate-limits.ts';
import { errorInfo, final, isTransient } from './retry.ts';

/** What the processor needs from the connector pool. */
export interface ToolCaller {
  getTool(connector: string, tool: string): Promise<ToolInfo>;
  validateArguments(tool: ToolInfo, args: unknown): void;
  callTool(connector: string, tool: string, args: Record<string, unknown>, opts: CallOptions): Promise<ToolCallResult>;
}

export interface ProcessorDeps {
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
}

const NO_LLM: LlmCaller = {
  complete: () => Promise.reject(new InterlockError('LLM_ERROR', 'this worker was started without a model client for llm steps')),
};

export function idempotencyKey(runId: string, stepId: string): string {
  return `interlock-${runId}-${stepId}`;
}

function context(run: RunRecord): TemplateContext {
  const steps: TemplateContext['steps'] = {};
  for (const [id, s] of Object.entries(run.steps)) steps[id] = { output: s.output, status: s.status, ...(s.content !== undefined ? { content: s.content } : {}) };
  return { inputs: run.inputs, steps, run: { id: run.id, workflow: run.workflow, session: run.session } };
}

/**
 * Runs one step job: resolve arguments, ask the gate, call the tool, commit, enqueue the next step.
 * Every exit path leaves the step's outcome in the store before the job ends, so a BullMQ-level
 * failure never hides what happened to the run.
 */
const PIN_TRUST_MS = 5000;
const WAIT_FOR_COMMIT_MS = 10_000;
const DEFAULT_HOLD_MS = 60_000;
const READ_START_AFTER_MS = 50;
const RATE_WAIT_IN_PLACE_MS = 250;

export class StepProcessor {
  private readonly d: ProcessorDeps;
  private readonly pinChecked = new WeakMap<ToolInfo, number>();
  constructor(deps: ProcessorDeps) {
    this.d = deps;
  }

  async process(job: Job<StepJobData>, token?: string): Promise<string> {
    const { store, logger } = this.d;
    const { runId, stepId } = job.data;
    const { run, grant, enabled } = await store.loadForStep(runId, job.data.session, job.data.tool);
    if (!run) return 'missing';
    if (TERMINAL_RUN_STATUSES.has(run.status) || run.status === 'needs_attention') return `run ${run.status}`;
    const def = run.definition;
    const idx = def.steps.findIndex((s) => s.id === stepId);
    const step = def.steps[idx];
    const rec = run.steps[stepId];
    if (!step || !rec) return 'unknown step';
    const next = def.steps[idx + 1]?.id;
    if (rec.status === 'succeeded' || rec.status === 'skipped') {
      // Committed before a crash that came ahead of the enqueue: finish the hand-off.
      if (next && run.status === 'running') await this.d.queues.enqueue(def, runId, run.session, next, '0');
      return 'already committed';
    }
    if (rec.status !== 'pending' && rec.status !== 'running') return `step ${rec.status}`;
    for (const prev of def.steps.slice(0, idx)) {
      const ps = run.steps[prev.id]?.status;
      if (ps === 'succeeded' || ps === 'skipped') continue;
      // The job can be seen before the commit that enqueued it when the two travel on different
      // connections (a cluster puts the run and the queue on different nodes): look again shortly.
      if (ps === 'running' && Date.now() - job.timestamp < WAIT_FOR_COMMIT_MS) {
        await job.moveToDelayed(Date.now() + 20, token);
        throw new DelayedError();
      }
      return `waiting for ${prev.id}`;
    }

    const ctx = context(run);
    if (step.kind === 'llm') {
      const llm = this.d.llm ?? NO_LLM;
      return processLlmStep({ ...this.d, llm }, { job, run, step, ctx, next, fail: (err, result) => this.fail(job, run, step, err, result) });
    }
    // Jobs enqueued by this version carry `connector.tool`, so its grant and toggle came with the run;
    // a job queued by an older version loads them here.
    const preloaded = job.data.tool === `${step.connector}.${step.tool}`;
    let args: Record<string, unknown>;
    let tool: ToolInfo;
    try {
      if (step.if !== undefined && !(await evaluateCondition(step.if, ctx))) {
        await this.commitAndAdvance(run, stepId, 'skipped', { note: `condition is false: ${step.if}`, finishedAt: Date.now() }, next);
        return 'skipped';
      }
      args = (await resolveTemplates(step.with, ctx)) as Record<string, unknown>;
      tool = await this.d.tools.getTool(step.connector, step.tool);
      if (!(preloaded ? enabled : await store.toolEnabled(step.connector, step.tool))) {
        throw new InterlockError('TOOL_DISABLED', `Tool ${step.connector}.${step.tool} is turned off; an admin can enable it again`);
      }
      this.d.tools.validateArguments(tool, args);
    } catch (err) {
      return this.fail(job, run, step, err, {});
    }
    const pinned = await this.observePin(tool);
    if (pinned.status === 'changed') return this.blockOnChangedTool(run, stepId, tool, pinned.changes.map((c) => c.field));
    const argumentsHash = sha256Hex(canonicalJson(args));

    if (rec.status === 'running' && rec.intentAttempt !== undefined && tool.write && !tool.idempotent) {
      // A previous attempt may have reached the server and we cannot ask it: never send again blindly.
      await store.failStep(runId, stepId, 'in_doubt', 'needs_attention', { arguments: args, argumentsHash },
        { code: 'IN_DOUBT', message: `The worker stopped while calling ${step.connector}.${step.tool}, which is not idempotent; whether the write happened is unknown. A person must check and resolve it.` });
      return 'in doubt';
    }

    const remembered = preloaded ? grant : await store.getGrant(run.session, step.connector, step.tool, run.owner);
    const gate = decideGate({
      workflow: run.workflow, step, tool, arguments: args, argumentsHash,
      approvedHash: rec.approvedHash,
      grant: remembered?.decision,
      policy: this.d.policy(),
    });
    if (gate.kind === 'ask') {
      const conf = await store.openGate(run, stepId, gate.payload, this.d.policy().confirmationTtlMs);
      logger.info({ runId, stepId, confirmationId: conf?.id }, 'waiting for confirmation');
      return 'awaiting confirmation';
    }
    if (gate.kind === 'deny') {
      const by = remembered?.by ? ` (made by ${remembered.by})` : '';
      await store.failStep(runId, stepId, 'denied', 'denied', { arguments: args, argumentsHash, note: `denied by a decision remembered for this session${by}` },
        { code: 'DENIED', message: `A decision remembered for this session${by} denies ${step.connector}.${step.tool}; the tool was not called` });
      return 'denied by grant';
    }
    if (gate.via === 'grant') {
      await store.appendEvent(runId, 'confirmation.remembered', stepId, {
        connector: step.connector, tool: step.tool, argumentsHash, grantedBy: remembered?.by ?? 'unknown', ...(remembered?.channel ? { channel: remembered.channel } : {}),
      });
    } else if (gate.via === 'read' && tool.loosened?.includes('readOnlyHint')) {
      // A read only because the config says so passes the gate on record, with what was loosened.
      await store.appendEvent(runId, 'step.ungated_by_override', stepId, { connector: step.connector, tool: step.tool, loosened: tool.loosened, argumentsHash });
    }

    const limits = this.d.rateLimit?.(step.connector, step.tool, args) ?? [];
    const slot = limits.length ? await this.takeRateSlots(job, token, step.connector, limits, step.timeoutMs ?? this.d.callTimeoutMs?.(step.connector)) : undefined;
    // A write waits for its intent to be on record before anything is sent. A read is marked
    // started only if it is still calling after READ_START_AFTER_MS (so a long read shows running
    // and can be cancelled); a read that answers sooner is started by its commit, one command fewer.
    const startData = { argumentsHash, attempt: job.attemptsMade + 1 };
    let starting = tool.write ? store.startStep(runId, stepId, startData, true, rec.attempts) : undefined;
    if (starting) {
      const started = await starting;
      if (!started.ok) {
        slot?.release();
        return `not started: ${started.reason} ${started.status}`;
      }
    }
    const startLater = starting ? undefined : setTimeout(() => {
      starting ??= store.startStep(runId, stepId, startData, false);
    }, READ_START_AFTER_MS);
    const startNow = () => (starting ??= store.startStep(runId, stepId, startData, false));
    const t0 = Date.now();
    let result: ToolCallResult;
    const guard = new CallGuard({
      interruptible: !tool.write || tool.idempotent, cancellable: !tool.write,
      runStatus: () => store.runStatus(runId),
      ...(this.d.handBack ? { handBack: this.d.handBack } : {}),
      ...(this.d.cancelPollMs ? { pollMs: this.d.cancelPollMs } : {}),
    });
    try {
      result = await this.d.tools.callTool(step.connector, step.tool, args, {
        idempotencyKey: idempotencyKey(runId, stepId),
        ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
        ...(guard.signal ? { signal: guard.signal } : {}),
      });
    } catch (err) {
      clearTimeout(startLater);
      const started = await startNow();
      if (!started.ok) return `not started: ${started.reason} ${started.status}`;
      if (guard.reason === 'hand_back') return this.handBack(job, token, stepId);
      if (guard.reason === 'cancelled') {
        await store.appendEvent(runId, 'step.aborted', stepId, { reason: 'the run was cancelled while the step was calling its tool' });
        return 'run cancelled';
      }
      if (tool.write && !tool.idempotent && isTransient(err)) {
        await store.failStep(runId, stepId, 'in_doubt', 'needs_attention', { arguments: args, argumentsHash, startedAt: t0 },
          { code: 'IN_DOUBT', message: `${errorInfo(err).message} while calling ${step.connector}.${step.tool}, which is not idempotent; whether the write happened is unknown` });
        this.d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: Date.now() - t0, ok: false });
        return 'in doubt';
      }
      return this.fail(job, run, step, err, { arguments: args, argumentsHash, startedAt: t0 });
    } finally {
      clearTimeout(startLater);
      guard.dispose();
      slot?.release();
    }
    // Started by the timer (or a write): its outcome decides whether the output may be committed.
    const startedBefore = starting;
    if (startedBefore) {
      const started = await startedBefore;
      if (!started.ok) return `not started: ${started.reason} ${started.status}`;
    }
    const finishedAt = Date.now();
    const failure = result.isError
      ? { code: 'TOOL_ERROR', message: `${step.connector}.${step.tool} failed: ${result.text || 'the tool reported an error'}` }
      : await checkToolResult(tool, result);
    this.d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: finishedAt - t0, ok: !failure });
    if (failure) {
      if (!startedBefore) {
        const started = await startNow();
        if (!started.ok) return `not started: ${started.reason} ${started.status}`;
      }
      await store.failStep(runId, stepId, 'failed', 'failed', { arguments: args, argumentsHash, ...recordedResult(result), startedAt: t0, finishedAt },
        { code: failure.code, message: failure.message });
      return failure.code === 'TOOL_ERROR' ? 'tool error' : `failed: ${failure.code}`;
    }
    return this.commitAndAdvance(run, stepId, 'succeeded',
      { arguments: args, argumentsHash, ...recordedResult(result), ...loosenedNote(tool), startedAt: t0, finishedAt, durationMs: finishedAt - t0 }, next,
      startedBefore ? undefined : startData);
  }

  /** Commits a step and enqueues the next, in one round trip where one connection orders them (see RunStore.thenEnqueue). */
  private commitAndAdvance(run: RunRecord, stepId: string, status: 'succeeded' | 'skipped',
    result: Parameters<RunStore['commitStep']>[3], next: string | undefined, started?: Record<string, unknown>): Promise<string> {
    return this.d.store.commitStep(run.id, stepId, status, result, next, {
      ...(started ? { started } : {}),
      ...(next ? { then: () => this.d.queues.enqueue(run.definition, run.id, run.session, next, '0') } : {}),
    });
  }

  /**
   * Checks the tool's definition against its pin. The same definition object from the pool's
   * catalog was checked moments ago by this process, so it is trusted for a few seconds; a new
   * catalog (refresh, reconnect, list_changed) brings new objects and a new check.
   */
  private async observePin(tool: ToolInfo): Promise<Awaited<ReturnType<ProcessorDeps['store']['pins']['observe']>>> {
    const until = this.pinChecked.get(tool);
    if (until !== undefined && until > Date.now()) return { status: 'same' };
    const r = await this.d.store.pins.observe(tool);
    if (r.status !== 'changed') this.pinChecked.set(tool, Date.now() + PIN_TRUST_MS);
    return r;
  }

  /**
   * Waits for a slot in every rate-limit window of the call; the slots count until `per` after
   * `release`, which the caller runs once the call has answered or failed (see takeRateSlots-n.lua).
   * A wait longer than RATE_WAIT_IN_PLACE_MS puts the job back as delayed rather than holding one
   * of the connector's concurrency places, so calls queued behind a busy window (one Slack channel)
   * do not hold up calls to others; nothing was started, so the job simply runs again later.
   */
  private async takeRateSlots(job: Job<StepJobData>, token: string | undefined, connector: string, limits: RateSlot[],
    timeoutMs = DEFAULT_HOLD_MS): Promise<{ release: () => void }> {
    const windows = limits.map((l) => ({ key: l.key, max: l.max, perMs: l.durationMs }));
    const member = `${process.pid}-${randomUUID()}`;
    // A slot of a call that never answers (its worker died) frees up a little after its timeout.
    const holdMs = timeoutMs + 1000;
    for (;;) {
      const wait = await this.d.store.takeRateSlots(connector, windows, member, holdMs);
      if (wait <= 0) break;
      if (wait > RATE_WAIT_IN_PLACE_MS && token) {
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
      await sleep(wait);
    }
    return {
      release: () => {
        this.d.store.releaseRateSlots(connector, windows, member).catch((err: unknown) =>
          this.d.logger.warn({ connector, err: (err as Error).message }, 'could not release rate-limit slots; they free up when the call would have timed out'));
      },
    };
  }

  /**
   * Puts the job back in the queue for another worker without spending an attempt (BullMQ's
   * DelayedError): the step stays `running`, and whoever takes it next calls again, with the
   * same idempotency key.
   */
  private async handBack(job: Job<StepJobData>, token: string | undefined, stepId: string): Promise<never> {
    await this.d.store.appendEvent(job.data.runId, 'step.handed_back', stepId, { reason: 'the worker shut down before the call answered' });
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }

  /** Pauses the run (needs_attention, TOOL_CHANGED) until an admin approves the tool's new definition. */
  private async blockOnChangedTool(run: RunRecord, stepId: string, info: ToolInfo, fields: string[]): Promise<string> {
    const { connector, name: tool } = info;
    const runId = run.id;
    const error = {
      code: 'TOOL_CHANGED',
      message: `Tool ${connector}.${tool} changed since it was pinned (${fields.join(', ')}); it is disabled until an admin reviews the change and approves it ` +
        `(interlock connectors approve-tool ${connector} ${tool}, or POST /api/v1/connectors/${connector}/tools/${tool}/approve). The run continues then.`,
    };
    const r = await this.d.store.blockStep(runId, stepId, error, { connector, tool, fields });
    if (r === 'ok') {
      await this.d.store.pins.addWaiting(connector, tool, runId, stepId);
      const generation = `unblocked-${Date.now()}`;
      // An approval landing between the block and the line above found nobody waiting: look again.
      if ((await this.d.store.pins.observe(info)).status !== 'changed' &&
        (await this.d.store.unblockStep(runId, stepId, { connector, tool, by: 'approved meanwhile' }, generation)) === 'ok') {
        await this.d.queues.enqueue(run.definition, runId, run.session, stepId, generation);
      }
    }
    this.d.logger.warn({ runId, stepId, connector, tool, fields }, 'tool changed since it was pinned; run paused');
    return `blocked: ${r}`;
  }

  /** Records a failed attempt; throws so BullMQ retries it when it is transient and attempts remain. */
  private async fail(job: Job<StepJobData>, run: RunRecord, step: StepDef, err: unknown, result: Record<string, unknown>): Promise<string> {
    const info = errorInfo(err);
    const attempts = job.opts.attempts ?? 1;
    if (isTransient(err) && job.attemptsMade + 1 < attempts) {
      await this.d.store.appendEvent(run.id, 'step.retrying', step.id, { ...info, attempt: job.attemptsMade + 1, of: attempts });
      throw err;
    }
    // Say the retry budget is spent, so nobody retries by hand what was retried already.
    if (isTransient(err) && attempts > 1) info.message = `${info.message} (gave up after ${attempts} attempts)`;
    await this.d.store.failStep(run.id, step.id, 'failed', 'failed', { ...result, finishedAt: Date.now() }, info);
    if (isTransient(err)) throw final(info.message);
    return `failed: ${info.code}`;
  }
}
