import { describe, expect } from 'vitest';
import { PAY_WORKFLOW, callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';

const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log)}
workflows:${PAY_WORKFLOW}
`;

const it = appTest({ yaml, workers: false });

describe('a paused run survives its worker process', () => {
  it('finishes after approval on a worker started after the first one died', async ({ app, processes }) => {
    const [first] = await processes.start();
    const { run } = await app.engine.trigger('pay', { name: 'restart' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    await first.kill();

    const conf = await app.store.requireConfirmation(paused.steps.write.confirmationId!);
    await app.engine.approve(conf.id, conf.argumentsHash, { by: 'test' });
    expect((await app.store.requireRun(run.id)).status).toBe('running');

    const [second] = await processes.start();
    try {
      const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
      expect(done.status).toBe('succeeded');
      expect(readCalls(log).filter((c) => c.tool === 'record')).toHaveLength(1);
    } finally {
      await second.terminate();
    }
  });
});
