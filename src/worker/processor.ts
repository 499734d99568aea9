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
import type { CallStep, TemplateContext } from '../workflows/types.ts';
import { type StepDeps, type StepJob, execute, settle } from './execute.ts';
import type { PolicyVerdict } from '../policy/types.ts';
import { modelFacts } from './llm.ts';
import { ruleContext, verdictFor } from './rule-context.ts';
import { type StepFacts, planPosition, planStep } from './plan.ts';
import type { StepJobData } from './queues.ts';

export type { ToolCaller } from './execute.ts';
export { idempotencyKey } from './call.ts';
export type ProcessorDeps = StepDeps;

const PIN_TRUST_MS = 5000;

function context(run: RunRecord): TemplateContext {
  const steps: TemplateContext['steps'] = {};
  for (const [id, s] of Object.entries(run.steps))
    steps[id] = { output: s.output, status: s.status, ...(s.content !== undefined ? { content: s.content } : {}) };
  return { inputs: run.inputs, steps, run: { id: run.id, workflow: run.workflow, session: run.session } };
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
    const ctx = context(run);
    const facts = pos.step.kind === 'llm' ? await modelFacts(pos.step, ctx) : await this.toolFacts(j, pos.step, ctx, loaded);
    const op = planStep({
      run,
      step: pos.step,
      rec: pos.rec,
      facts,
      policy: this.d.policy(),
      undeliveredAttempt: job.data.undeliveredAttempt,
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
    loaded: { grant: Grant | undefined; enabled: boolean },
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
    const grant = preloaded ? loaded.grant : await store.getGrant(j.run.session, step.connector, step.tool, j.run.owner);
    const changed = pin.status === 'changed' ? pin.changes.map((c) => c.field) : [];
    return { kind: 'tool', args, tool, enabled, changed, grant, verdict };
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
