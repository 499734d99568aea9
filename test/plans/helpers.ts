/**
 * What the plan suites share: the shipped workflows without their rules (so every refund asks a
 * person) plus REFUND_THEN_RECHECK, on the sandboxes, and a `plans` fixture that starts a run and
 * reads or approves the plan a person sees at its first gate.
 */
import { type PlanView, approvePlan, currentPlan } from '../../src/engine/plans.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { REFUND_THEN_RECHECK, sandboxAppTest, settled, shippedWithoutRules } from '../grants/sandbox-app.ts';

export const PLAN_YAML = `${shippedWithoutRules()}${REFUND_THEN_RECHECK}`;

export interface PlanDesk {
  /** Starts `workflow` with `inputs`, waits until it pauses, and returns it with the plan shown there. */
  shown(workflow: string, inputs: Record<string, unknown>): Promise<{ run: RunRecord; view: PlanView }>;
  /** The plan of the run as it stands now. */
  current(runId: string): Promise<PlanView>;
  /** Approves the plan with hash `planHash` as alice, over the API. */
  approve(runId: string, planHash: string): ReturnType<typeof approvePlan>;
}

export const planTest = sandboxAppTest(PLAN_YAML).extend<{ plans: PlanDesk }>({
  plans: async ({ app }, use) => {
    const getTool = (c: string, t: string) => app.pool.getTool(c, t);
    const current = (runId: string) => currentPlan(app.engine, getTool, runId);
    await use({
      current,
      async shown(workflow, inputs) {
        const { run } = await app.engine.trigger(workflow, inputs);
        const paused = await settled(app, run.id);
        return { run: paused, view: await current(run.id) };
      },
      approve: (runId, planHash) => approvePlan(app.engine, getTool, runId, planHash, { by: 'alice', channel: 'api' }),
    });
  },
});
