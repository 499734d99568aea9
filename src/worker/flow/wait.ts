/**
 * `sleep` and `wait_until`: the step records when it is due and ends its job; a delayed job wakes it,
 * and its ready marker, due at the same time, lets the reconciler enqueue it if that job is lost.
 * Between the two nothing is held: no job in active or waiting, no timer in any process.
 */
import { InterlockError } from '../../errors.ts';
import { resolveTemplates } from '../../workflows/templates.ts';
import type { SleepStep, TemplateContext } from '../../workflows/types.ts';
import { type StepDeps, type StepJob, commitAndAdvance, failAttempt } from '../execute.ts';

export async function runSleep(d: StepDeps, j: StepJob, step: SleepStep, ctx: TemplateContext): Promise<string> {
  let due = j.rec.wakeAt;
  if (due === undefined) {
    try {
      due = step.sleepMs !== undefined ? Date.now() + step.sleepMs : await dueOf(step, ctx);
    } catch (err) {
      return failAttempt(d, j, err, {});
    }
  }
  const now = Date.now();
  if (now >= due) return commitAndAdvance(d, j, 'succeeded', { output: { until: new Date(due).toISOString() }, finishedAt: now });
  return waitUntil(d, j, due, { wakeAt: due, note: `waiting until ${new Date(due).toISOString()}` });
}

/** Leaves the step waiting until `due`, with a delayed job to wake it and a marker due then. */
export async function waitUntil(d: StepDeps, j: StepJob, due: number, result: Record<string, unknown>): Promise<string> {
  const { run, step } = j;
  const generation = `wait-${due}`;
  const r = await d.store.flow.waitStep(run.id, step.id, due, generation, result, 'waiting', { until: due });
  if (r !== 'ok') return `not waiting: ${r}`;
  await d.queues.enqueue(run.definition, run.id, run.session, step.id, generation, Math.max(1, due - Date.now()));
  return `waiting until ${new Date(due).toISOString()}`;
}

async function dueOf(step: SleepStep, ctx: TemplateContext): Promise<number> {
  const v = await resolveTemplates(step.waitUntil ?? '', ctx);
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t))
    throw new InterlockError(
      'TEMPLATE_ERROR',
      `wait_until of step "${step.id}" gave ${JSON.stringify(v)}, which is not a date-time (ISO 8601 or epoch ms)`,
    );
  return t;
}
