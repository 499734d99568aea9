import { appTest } from '../helpers/fixtures.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { InterlockError } from '../../src/errors.ts';
import { callLogPath, readCalls, testConnectorYaml, waitForStatus, withConfirmationTtl } from '../helpers/app.ts';
import { NAP_WORKFLOW, configYaml } from '../helpers/workflows.ts';

const log = callLogPath();
const yaml = configYaml({
  connectors: testConnectorYaml(log, '\n    concurrency: 4'),
  extra: 'policy:\n  confirmation_ttl: 1h',
  workflows: [
    NAP_WORKFLOW,
    `
  impatient:
    description: a read that must answer within 300 ms
    inputs: { type: object }
    steps:
      - id: nap
        call: test.slow
        timeout: 300ms
        retry: { attempts: 2, backoff: 50ms }
        with: { ms: 600000 }
  pay:
    description: a gated write
    inputs: { type: object, required: [name], properties: { name: { type: string } } }
    steps:
      - id: write
        call: test.record
        with: { name: "\${{ inputs.name }}" }`,
  ],
});

const it = appTest({ yaml, workers: { sweepEveryMs: 100 } });

describe('cancellation and timeouts', () => {
  const activeJobs = async (app: App, runId: string) =>
    (await app.queues.get('test').getJobs(['active', 'waiting', 'delayed'])).filter((j) => j.data.runId === runId);

  it('cancels a running run: the read in flight is aborted, its job ends, and the next step never runs', async ({ app }) => {
    const { run } = await app.engine.trigger('nap', { ms: 600_000, tag: 'never' });
    await waitForStatus(app, run.id, ['running']);
    while (!readCalls(log).some((c) => c.tool === 'slow' && c.args.ms === 600_000)) await sleep(20);
    const cancelled = await app.engine.cancel(run.id, 'test');
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.error).toEqual({ code: 'CANCELLED', message: 'Cancelled by test' });
    // The worker notices within its poll interval and lets go of the call instead of waiting ten minutes.
    await expect
      .poll(async () => (await app.store.readEvents(run.id)).map((e) => e.type), { timeout: 10_000 })
      .toContain('step.aborted');
    await expect.poll(() => activeJobs(app, run.id), { timeout: 10_000 }).toEqual([]);
    expect(readCalls(log).filter((c) => c.tool === 'echo' && c.args.text === 'never')).toEqual([]);
    const after = await app.store.requireRun(run.id);
    expect(after.status).toBe('cancelled');
    expect(after.steps.nap.status).toBe('skipped');
    expect(after.steps.after.status).toBe('pending');
  });

  it('aborts a call that outlives its step timeout, retries it, then fails the step with STEP_TIMEOUT', async ({ app }) => {
    const { run } = await app.engine.trigger('impatient', {});
    const done = await waitForStatus(app, run.id, ['failed', 'succeeded']);
    expect(done.steps.nap.status).toBe('failed');
    expect(done.steps.nap.attempts).toBe(2);
    expect(done.error?.code).toBe('STEP_TIMEOUT');
    expect(done.error?.message).toMatch(/did not answer within 300 ms.*gave up after 2 attempts/);
    // The outcome is recorded before BullMQ files the job as failed, so the job may linger a moment.
    await expect.poll(() => activeJobs(app, run.id)).toEqual([]);
  });

  it('cancels a run paused at a confirmation: the confirmation is withdrawn and can no longer be approved', async ({ app }) => {
    const { run } = await app.engine.trigger('pay', { name: 'cancel-me' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const cid = paused.steps.write.confirmationId!;
    await app.engine.cancel(run.id, 'test');
    const conf = await app.store.requireConfirmation(cid);
    expect(conf.status).toBe('cancelled');
    const late = await app.engine.approve(cid, conf.argumentsHash).catch((e: unknown) => e);
    expect((late as InterlockError).code).toBe('ALREADY_DECIDED');
    expect((await app.store.listConfirmations({ status: 'pending' })).confirmations.map((c) => c.id)).not.toContain(cid);
    await sleep(300);
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'cancel-me')).toEqual([]);
    const again = await app.engine.cancel(run.id).catch((e: unknown) => e);
    expect((again as InterlockError).code).toBe('RUN_FINISHED');
  });

  it('expires a confirmation nobody decides: the run fails and the write is never sent', async ({ app }) => {
    await withConfirmationTtl(app, 200, async () => {
      const { run } = await app.engine.trigger('pay', { name: 'too-late' });
      const done = await waitForStatus(app, run.id, ['failed', 'succeeded']);
      expect(done.error?.code).toBe('CONFIRMATION_EXPIRED');
      expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'too-late')).toEqual([]);
    });
  });
});
