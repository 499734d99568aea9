/**
 * The control-flow steps, one job each: a false `if` skips them like any step; then a loop or a
 * parallel step runs its units (loop.ts), a `workflow:` step starts or checks its child (child.ts),
 * and a sleep waits (wait.ts).
 */
import { evaluateCondition } from '../../workflows/templates.ts';
import type { FlowStep, TemplateContext } from '../../workflows/types.ts';
import { type StepDeps, type StepJob, commitAndAdvance, failAttempt } from '../execute.ts';
import { runChild } from './child.ts';
import { runLoop } from './loop.ts';
import { runSleep } from './wait.ts';

export async function runFlow(d: StepDeps, j: StepJob, step: FlowStep, ctx: TemplateContext): Promise<string> {
  // A waiting step was started already: its condition held then, and it is not asked again.
  if (step.if !== undefined && j.rec.status === 'pending') {
    try {
      if (!(await evaluateCondition(step.if, ctx)))
        return commitAndAdvance(d, j, 'skipped', { note: `condition is false: ${step.if}`, finishedAt: Date.now() });
    } catch (err) {
      return failAttempt(d, j, err, {});
    }
  }
  switch (step.kind) {
    case 'parallel':
    case 'foreach':
      return runLoop(d, j, step, ctx);
    case 'workflow':
      return runChild(d, j, step, ctx);
    case 'sleep':
      return runSleep(d, j, step, ctx);
  }
}
