/**
 * A `workflow:` step starts its child as a run of its own (the child pins the definition current
 * at that moment, shares the parent's session and owner, and gates its writes like any run), then
 * waits without a job. The child's end wakes the parent at once (wakeParent, from the worker and
 * the engine); a marker due every CHILD_POLL_MS is the durable fallback when that wake is lost.
 */
import { InterlockError } from '../../errors.ts';
import { TERMINAL_RUN_STATUSES } from '../../runs/records.ts';
import type { RunStore } from '../../runs/store.ts';
import { validateInputs } from '../../workflows/inputs.ts';
import { resolveTemplates } from '../../workflows/templates.ts';
import { FLOW_CONNECTOR, type TemplateContext, type WorkflowStep } from '../../workflows/types.ts';
import { type StepDeps, type StepJob, commitAndAdvance, failAttempt } from '../execute.ts';
import { type StepQueues, stepJobId } from '../queues.ts';
import { waitUntil } from './wait.ts';

export const CHILD_POLL_MS = 30_000;

export async function runChild(d: StepDeps, j: StepJob, step: WorkflowStep, ctx: TemplateContext): Promise<string> {
  const childId = j.rec.child ?? (await startChild(d, j, step, ctx));
  if (childId === undefined) return 'failed: child not started';
  if (childId.startsWith('failed:')) return childId;
  const child = await d.store.getRun(childId);
  if (!child) return failAttempt(d, j, new InterlockError('RUN_NOT_FOUND', `Child run ${childId} is gone`), { child: childId });
  if (TERMINAL_RUN_STATUSES.has(child.status)) await dropPoll(d, j);
  if (child.status === 'succeeded') {
    const outputs = Object.fromEntries(Object.entries(child.steps).map(([id, s]) => [id, s.output]));
    return commitAndAdvance(d, j, 'succeeded', {
      output: { run: child.id, workflow: child.workflow, status: child.status, steps: outputs },
      child: child.id,
      finishedAt: Date.now(),
    });
  }
  if (TERMINAL_RUN_STATUSES.has(child.status)) {
    await d.store.failStep(
      j.run.id,
      step.id,
      'failed',
      'failed',
      { child: child.id, finishedAt: Date.now() },
      {
        code: 'CHILD_FAILED',
        message: `Child run ${child.id} of workflow ${child.workflow} ended ${child.status}${child.error ? `: ${child.error.message}` : ''}`,
      },
    );
    return `child ${child.status}`;
  }
  const due = Date.now() + CHILD_POLL_MS;
  const out = await waitUntil(d, j, due, { child: child.id, wakeAt: due, note: `waiting for child run ${child.id}` });
  // The parent was cancelled before the child was recorded on its step, so that cancel found no
  // child to stop: stop it here. A cancel after the record stops it itself (Engine.cancel).
  if (out.startsWith('not waiting') && (await d.store.runStatus(j.run.id)) === 'cancelled')
    await cancelChild(d.store, child.id, j.run.id, 'the parent run was cancelled');
  return out;
}

/**
 * Cancels the children a cancelled run started, and theirs: a child whose parent was cancelled
 * has nobody to report to, and its writes must not go on. Runs after the parent's own cancel
 * (which comes first, so a child's end cannot wake and fail the parent instead); a cancel cut
 * short before this finishes it when asked again (Engine.cancel).
 */
export async function cancelChildren(store: RunStore, runId: string, by: string): Promise<void> {
  const run = await store.getRun(runId);
  if (run?.status !== 'cancelled') return;
  for (const s of Object.values(run.steps)) if (s.child) await cancelChild(store, s.child, runId, by);
}

async function cancelChild(store: RunStore, childId: string, parentId: string, by: string): Promise<void> {
  try {
    await store.cancelRun(childId, `${by} (its parent run ${parentId} was cancelled)`);
  } catch (err) {
    // A child that is gone has nothing left to stop.
    if (!(err instanceof InterlockError && err.code === 'RUN_NOT_FOUND')) throw err;
  }
  await cancelChildren(store, childId, by);
}

/**
 * The delayed job of the last poll is not needed once the child ended; left, it would run after the
 * step committed and hand the next step a second job. Best effort: a job it misses finds the step done.
 */
async function dropPoll(d: StepDeps, j: StepJob): Promise<void> {
  if (j.rec.wakeAt === undefined) return;
  const id = stepJobId(j.run.id, j.step.id, `wait-${j.rec.wakeAt}`);
  if (id === j.job.id) return;
  await d.queues
    .get(FLOW_CONNECTOR)
    .remove(id)
    .catch(() => 0);
}

/** The child's run id; the same one again after a crash (its idempotency key is the parent step's). */
async function startChild(d: StepDeps, j: StepJob, step: WorkflowStep, ctx: TemplateContext): Promise<string | undefined> {
  const def = d.workflow?.(step.workflow);
  try {
    if (!def) throw new InterlockError('WORKFLOW_NOT_FOUND', `No workflow named '${step.workflow}' to start as a child`);
    const inputs = (await resolveTemplates(step.with, ctx)) as Record<string, unknown>;
    const issues = validateInputs(def, inputs);
    if (issues.length)
      throw new InterlockError(
        'INPUT_INVALID',
        `Invalid inputs for child workflow '${step.workflow}': ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
      );
    const { run } = j;
    const made = await d.store.createRun(
      {
        workflow: def,
        inputs,
        session: run.session,
        ...(run.owner ? { owner: run.owner } : {}),
        idempotencyKey: `child-${run.id}-${step.id}`,
        parent: { runId: run.id, stepId: step.id },
      },
      (r) => d.queues.enqueue(r.definition, r.id, r.session, r.definition.steps[0].id, '0'),
    );
    await d.store.appendEvent(run.id, 'step.waiting', step.id, { child: made.runId, workflow: def.name });
    return made.runId;
  } catch (err) {
    return `failed: ${await failAttempt(d, j, err, {})}`;
  }
}

/**
 * A child run that ended wakes the step waiting for it: the step is marked ready now (replacing its
 * poll marker) and its job enqueued. Lost on a crash, the poll marker wakes it later.
 */
export async function wakeParent(store: RunStore, queues: StepQueues, runId: string): Promise<void> {
  const run = await store.getRun(runId);
  if (!run?.parent || !TERMINAL_RUN_STATUSES.has(run.status)) return;
  const { runId: parentId, stepId } = run.parent;
  const generation = `woken-${run.id}`;
  const r = await store.flow.waitStep(parentId, stepId, Date.now(), generation, undefined, 'woken', {
    child: run.id,
    status: run.status,
  });
  if (r !== 'ok') return;
  const parent = await store.requireRun(parentId);
  await queues.enqueue(parent.definition, parent.id, parent.session, stepId, generation);
}
