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
import { type CallStep, type TemplateContext, isFlowStep } from '../workflows/types.ts';
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
  constructor(deps: StepDeps) {
    this.d = deps;
  }

  async process(job: Job<StepJobData>, token?: string): Promise<string> {
    const { runId, stepId } = job.data;
    const loaded = await this.d.store.loadForStep(runId, job.data.session, job.data.tool);
    const pos = planPosition(loaded.run, stepId, Date.now() - job.timestamp);
    if (pos.kind !== 'ready') return settle(this.d, job, token, loaded.run, pos);
    const run = pos.run;
    const j: StepJob = { job, token, run, step: pos.step, rec: pos.rec, next: pos.next };
    const ctx = contextOf(run);
    if (isFlowStep(pos.step)) return this.afterward(run, await runFlow(this.d, j, pos.step, ctx));
    const facts = pos.step.kind === 'llm' ? await modelFacts(pos.step, ctx) : await this.toolFacts(j, pos.step, ctx, loaded);
    const op = planStep({
      run,
      step: pos.step,
      rec: pos.rec,
      facts,
      policy: this.d.policy(),
      undeliveredAttempt: job.data.undeliveredAttempt,
      now: Date.now(),
    });
    return this.afterward(run, await execute(this.d, j, op));
  }

  /** A child run that this step ended wakes the step of its parent that waits for it. */
  private async afterward(run: RunRecord, outcome: string): Promise<string> {
    if (run.parent) await wakeParent(this.d.store, this.d.queues, run.id);
    return outcome;
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
    const preloaded = j.job.data.tool === `${step.connector}.${step.tool}`;
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
      verdict = await verdictFor(this.d.policy(), ruleContext(j.run, step, tool, args));
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
