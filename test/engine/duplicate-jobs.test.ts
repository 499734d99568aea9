import type { App } from '../../src/app.ts';
import { appTest, openApp } from '../helpers/fixtures.ts';
import { describe, expect } from 'vitest';
import { callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';

const log = callLogPath();
// `send` ignores idempotency keys: a second job that sends it again is a second message.
const yaml = `
connectors:${testConnectorYaml(log, '\n    concurrency: 8')}
workflows:
  notify:
    description: one gated write that ignores idempotency keys
    inputs: { type: object, required: [to], properties: { to: { type: string } } }
    steps:
      - id: send
        call: test.send
        with: { to: "\${{ inputs.to }}", text: hello }
`;

// `idle`: a second app on the same config without workers, so a step stays pending as both jobs saw it.
const it = appTest({ yaml }).extend<{ idle: App }>({
  idle: async ({ redis }, use) => openApp(redis, { yaml, workers: false }, use),
});

describe("two jobs of one approved write (a stalled job re-run beside the decision's)", () => {
  it('starts a write only for the job that saw the attempts still on record', async ({ idle }) => {
    const { run } = await idle.engine.trigger('notify', { to: 'cas@example.com' });
    const seen = run.steps.send.attempts;
    const first = await idle.store.startStep(run.id, 'send', {}, true, seen);
    const second = await idle.store.startStep(run.id, 'send', {}, true, seen);
    expect(first).toMatchObject({ ok: true, attempts: 1 });
    expect(second).toMatchObject({ ok: false, reason: 'step', status: 'running' });
    // A job that planned after the first start (a retry of the same job) still starts.
    expect(await idle.store.startStep(run.id, 'send', {}, true, 1)).toMatchObject({ ok: true, attempts: 2 });
  });

  it('sends the write once: the job that finds the step started by the other stops', async ({ app }) => {
    const tos = Array.from({ length: 12 }, (_, i) => `dup-${i}@example.com`);
    const runs = await Promise.all(tos.map(async (to) => (await app.engine.trigger('notify', { to })).run));
    const paused = await Promise.all(runs.map((r) => waitForStatus(app, r.id, ['awaiting_confirmation'])));
    await Promise.all(
      paused.map(async (r) => {
        const conf = await app.store.requireConfirmation(r.steps.send.confirmationId ?? '');
        // The decision's job and a second job of the same step reach the queue together.
        await Promise.all([
          app.engine.approve(conf.id, conf.argumentsHash, { by: 'test' }),
          app.engine.queues.enqueue(r.definition, r.id, r.session, 'send', 'stalled'),
        ]);
      }),
    );
    const done = await Promise.all(runs.map((r) => waitForStatus(app, r.id, ['succeeded', 'failed', 'needs_attention'])));
    for (const to of tos)
      expect(
        readCalls(log).filter((c) => c.tool === 'send' && c.args.to === to),
        to,
      ).toHaveLength(1);
    // Never silently lost: each run either succeeded or stopped for a person, with the one send on record.
    for (const r of done) expect(['succeeded', 'needs_attention']).toContain(r.status);
  });
});
