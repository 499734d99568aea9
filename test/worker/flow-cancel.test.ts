import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { REFUND_ONE_WORKFLOW, configYaml, napWorkflow, parentWorkflow } from '../helpers/workflows.ts';
import { SANDBOX_CONNECTORS, refunds, sandboxAppTest } from '../grants/sandbox-app.ts';
import { waitForStatus } from '../helpers/app.ts';

/**
 * Cancelling a parent run cancels the child runs it waits for: a child paused at its gate (its
 * confirmation is withdrawn and the write never sent, the Stripe sandbox as witness), and a child
 * that sleeps, with its own child.
 */
const yaml = configYaml({
  connectors: SANDBOX_CONNECTORS,
  workflows: [
    REFUND_ONE_WORKFLOW,
    parentWorkflow(),
    napWorkflow('1h'),
    `
  sleeper:
    description: start nap as a child
    steps:
      - { id: child, workflow: nap }

  grandparent:
    description: start parent as a child, which starts refund-one
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: middle
        workflow: parent
        with: { charge: "\${{ inputs.charge }}" }`,
  ],
});

const it = sandboxAppTest(yaml);

/** The child run a parent's step started, once it is recorded. */
async function childOf(app: App, runId: string, stepId: string): Promise<string> {
  let run: RunRecord;
  do {
    run = await app.store.requireRun(runId);
    if (run.steps[stepId]?.child) return run.steps[stepId].child as string;
    await new Promise((r) => setTimeout(r, 20));
  } while (run.status === 'running' || run.status === 'queued');
  throw new Error(`run ${runId} is ${run.status} and started no child`);
}

describe('cancelling a parent run', () => {
  it('cancels its child paused at a gate: the confirmation is withdrawn and the refund never sent', async ({
    app,
    sandboxes,
  }) => {
    const { run } = await app.engine.trigger('parent', { charge: 'ch_seed_301' });
    const childId = await childOf(app, run.id, 'child');
    const child = await waitForStatus(app, childId, ['awaiting_confirmation']);
    const cid = child.steps.refund.confirmationId as string;

    const cancelled = await app.engine.cancel(run.id, 'ops');
    expect(cancelled.status).toBe('cancelled');
    const after = await app.store.requireRun(childId);
    expect(after.status).toBe('cancelled');
    expect(after.error?.message).toBe(`Cancelled by ops (its parent run ${run.id} was cancelled)`);
    expect((await app.store.requireConfirmation(cid)).status).toBe('cancelled');
    await expect(app.engine.approve(cid, child.steps.refund.argumentsHash ?? '', { by: 'ops' })).rejects.toThrow();
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_301')).toEqual([]);
  });

  it('cancels a sleeping child before it wakes', async ({ app }) => {
    const { run } = await app.engine.trigger('sleeper', {});
    const napId = await childOf(app, run.id, 'child');
    for (;;) {
      const n = await app.store.requireRun(napId);
      if (n.steps.wait?.wakeAt !== undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await app.engine.cancel(run.id, 'ops');
    const nap = await app.store.requireRun(napId);
    expect(nap.status).toBe('cancelled');
    expect(nap.steps.after.status).toBe('pending');
    // A second cancel of the parent is refused: it had ended.
    await expect(app.engine.cancel(run.id, 'ops')).rejects.toMatchObject({ code: 'RUN_FINISHED' });
  });

  it('cancels the whole tree: a child and the grandchild paused at its gate', async ({ app, sandboxes }) => {
    const { run } = await app.engine.trigger('grandparent', { charge: 'ch_seed_305' });
    const middle = await childOf(app, run.id, 'middle');
    const leaf = await childOf(app, middle, 'child');
    await waitForStatus(app, leaf, ['awaiting_confirmation']);
    await app.engine.cancel(run.id, 'ops');
    expect((await app.store.requireRun(middle)).status).toBe('cancelled');
    expect((await app.store.requireRun(leaf)).status).toBe('cancelled');
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_305')).toEqual([]);
  });
});
