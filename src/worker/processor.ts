/**
 * Runs one step job, top to bottom: load the run, see where the step stands (planPosition),
 * gather the step's facts, decide what to do (planStep), and do it (execute). Every exit path
 * leaves the step's outcome in the store before the job ends, so a BullMQ-level failure never
 * hides what happened to the run.
 */
import type { Job } from 'bullmq';
import type { ToolInfo } from '../connectors/types.ts';
import type { PinCheck } from '../runs/pins.ts';
import type { Grant, RunRecord } from '../runs/records.ts';
import { evaluateCondition, resolveTemplates } from '../workflows/templates.ts';
import { type CallStep, type StepDef, type TemplateContext, isFlowStep } from '../workflows/types.ts';
import type { LoadedStep } from '../runs/store.ts';
import { Chain, handOff } from './chain.ts';
import { errorMessage } from '../errors.ts';
import { wakeParent } from './flow/child.ts';
import { contextOf } from './flow/context.ts';
import { runFlow } from './flow/run.ts';
import { type StepDeps, type StepJob, execute, settle } from './execute.ts';
import type { PolicyVerdict } from '../policy/types.ts';
import { modelFacts } from './llm.ts';
import { ruleContext, verdictFor } from './rule-context.ts';
import { type PlanCover, type StepFacts, planPosition, planStep } from './plan.ts';
import { matchPlan } from '../plans/match.ts';
import { makePin } from '../runs/tool-pins.ts';
import type { StepJobData } from './queues.ts';

export type { ToolCaller } from './execute.ts';
export { idempotencyKey } from './call.ts';
export type ProcessorDeps = StepDeps;

const PIN_TRUST_MS = 5000;

/** Whether the run's approved plan covers this write exactly, and if not, why (shown when it asks again). */
async function planFacts(
  run: RunRecord,
  step: CallStep,
  tool: ToolInfo,
  args: Record<string, unknown>,
): Promise<{ plan?: PlanCover; planDiverged?: string }> {
  if (!run.plan || (!tool.write && step.confirm !== 'always')) return {};
  const m = await matchPlan(run.plan.plan, {
    stepId: step.id,
    connector: step.connector,
    tool: step.tool,
    definitionHash: makePin(tool).hash,
    args,
    steps: run.steps,
  });
  return m.ok ? { plan: { planHash: run.plan.plan.planHash, by: run.plan.by } } : { planDiverged: m.reason };
}

export class StepProcessor {
  private readonly d: StepDeps;
  private readonly pinChecked = new WeakMap<ToolInfo, number>();
  /** jobs whose lock BullMQ could not renew: another worker may have them now, so they take no more steps */
  private readonly lockLost = new Set<string>();
  constructor(deps: StepDeps) {
    this.d = deps;
  }

  /** BullMQ could not renew these jobs' locks (its 'lockRenewalFailed'). */
  lostLocks(jobIds: string[]): void {
    for (const id of jobIds) this.lockLost.add(id);
  }

  /**
   * The job's own step, then, as long as each commit hands this job the next step (chain.ts), that
   * one in place.
   */
  async process(job: Job<StepJobData>, token?: string): Promise<string> {
    const { runId, stepId } = job.data;
    const loaded = await this.d.store.loadForStep(runId, job.data.session, job.data.tool);
    const pos = planPosition(loaded.run, stepId, Date.now() - job.timestamp);
    if (pos.kind !== 'ready') return settle(this.d, job, token, loaded.run, pos, loaded.ready);
    const chain = this.chainFor(job, pos.step);
    try {
      let run = pos.run;
      let outcome = await this.step(
        { job, token, run, step: pos.step, rec: pos.rec, next: pos.next, ...(chain ? { chain } : {}) },
        loaded,
      );
      while (chain?.taken) {
        const { stepId: next, loaded: l } = chain.taken;
        chain.taken = undefined;
        const p = planPosition(l.run, next, 0);
        if (l.run) run = l.run;
        if (p.kind === 'ready') {
          const j: StepJob = { job, token, run: p.run, step: p.step, rec: p.rec, next: p.next, chain, borrowed: true };
          try {
            outcome = await this.step(j, l);
          } catch (err) {
            // Nothing in the step handled it (Redis away, a bug): the step goes to a job of its own,
            // which meets it with the step's own attempts. If that enqueue fails too, this job fails;
            // its next run, or the reconciler, finds the step through the run (settle, the marker).
            this.d.logger.warn(
              { runId: j.run.id, stepId: j.step.id, err: errorMessage(err) },
              'a step run in place failed; handing it off',
            );
            outcome = await handOff(this.d, j, 'error', { delayMs: j.step.retry.backoffMs });
          }
        } else if (p.kind === 'waitForPrevious' && l.run) {
          // Not expected right after the commit that handed it over; the step's own job sorts it out.
          await this.d.queues.enqueue(l.run.definition, l.run.id, l.run.session, next, '0');
          outcome = `handed off: waiting for ${p.prev}`;
        } else outcome = await settle(this.d, job, token, l.run, p, l.ready);
      }
      if (run.parent) await wakeParent(this.d.store, this.d.queues, run.id);
      return outcome;
    } finally {
      chain?.release();
      if (job.id) this.lockLost.delete(job.id);
    }
  }

  /** A call step's job may go on to the steps after it on a single Redis, unless the slice is 0. */
  private chainFor(job: Job<StepJobData>, step: StepDef): Chain | undefined {
    const slice = this.d.chainSliceMs ?? 0;
    if (slice <= 0 || step.kind !== 'call' || this.d.store.redis.isCluster || !job.id) return undefined;
    const id = job.id;
    const queue = this.d.queues.get(job.queueName);
    const places = this.d.places;
    return new Chain(job, {
      sliceMs: slice,
      lost: () => this.lockLost.has(id),
      stopping: this.d.handBack,
      othersWaiting: async (connector) => {
        if (connector !== job.queueName && places?.waited(connector)) return true;
        const c = await queue.getJobCounts('wait', 'prioritized');
        return (c.wait ?? 0) + (c.prioritized ?? 0) > 0;
      },
      ...(places ? { place: (connector: string) => places.tryAcquire(connector) } : {}),
    });
  }

  /** One step whose turn it is: its facts, its plan, and what the plan says. */
  private async step(j: StepJob, loaded: LoadedStep): Promise<string> {
    const { job, run, step } = j;
    const ctx = j.chain ? j.chain.context(run) : contextOf(run);
    if (isFlowStep(step)) return runFlow(this.d, j, step, ctx);
    const facts = step.kind === 'llm' ? await modelFacts(step, ctx) : await this.toolFacts(j, step, ctx, loaded);
    const op = planStep({
      run,
      step,
      rec: j.rec,
      facts,
      policy: this.d.policy(),
      undeliveredAttempt: j.borrowed ? undefined : job.data.undeliveredAttempt,
      now: Date.now(),
    });
    return execute(this.d, j, op);
  }

  /**
   * Condition, arguments and tool, then the pin and the remembered decision. Jobs enqueued by this
   * version carry `connector.tool`, so its grant and toggle came with the run; a job queued by an
   * older version loads them here.
   */
  private async toolFacts(
    j: StepJob,
    step: CallStep,
    ctx: TemplateContext,
    loaded: { grants: Grant[]; enabled: boolean },
  ): Promise<StepFacts> {
    const { store } = this.d;
    // A borrowed step's grants and toggle came with the commit that handed it over (chain.ts).
    const preloaded = j.borrowed || j.job.data.tool === `${step.connector}.${step.tool}`;
    let args: Record<string, unknown>;
    let tool: ToolInfo;
    let enabled: boolean;
    try {
      if (step.if !== undefined && !(await evaluateCondition(step.if, ctx)))
        return { kind: 'conditionFalse', condition: step.if };
      args = (await resolveTemplates(step.with, ctx)) as Record<string, unknown>;
      tool = await this.d.tools.getTool(step.connector, step.tool);
      enabled = preloaded ? loaded.enabled : await store.toolEnabled(step.connector, step.tool);
    } catch (error) {
      return { kind: 'error', error };
    }
    let verdict: PolicyVerdict;
    try {
      verdict = await verdictFor(this.d.policy(), () => ruleContext(j.run, step, tool, args));
    } catch (error) {
      return { kind: 'error', error };
    }
    const pin = await this.observePin(tool);
    const grants = preloaded ? loaded.grants : await store.grants.forSession(j.run.session);
    return {
      kind: 'tool',
      args,
      tool,
      enabled,
      changed: pin.status === 'changed' ? pin.changes.map((c) => c.field) : [],
      grants,
      verdict,
      ...(await planFacts(j.run, step, tool, args)),
    };
  }

  /**
   * Checks the tool's definition against its pin. The same definition object from the pool's
   * catalog was checked moments ago by this process, so it is trusted for a few seconds; a new
   * catalog (refresh, reconnect, list_changed) brings new objects and a new check.
   */
  private async observePin(tool: ToolInfo): Promise<PinCheck> {
    const until = this.pinChecked.get(tool);
    if (until !== undefined && until > Date.now()) return { status: 'same' };
    const r = await this.d.store.pins.observe(tool);
    if (r.status !== 'changed') this.pinChecked.set(tool, Date.now() + PIN_TRUST_MS);
    return r;
  }
}
