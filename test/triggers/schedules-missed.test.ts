import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { tickTime } from '../../src/triggers/schedules.ts';
import { callLogPath, testConnectorYaml } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';

// A tick that came due while no worker ran: `missed: run_once` runs it (once, however many ticks
// the outage spanned: BullMQ keeps one next job per scheduler), `missed: skip` records it as
// skipped and starts nothing. The app starts without workers, so the outage is real.

const schedule = (name: string, missed: string) => `
  ${name}:
    description: a tick
    inputs: { type: object, required: [at], properties: { at: { type: integer } } }
    triggers:
      - { name: tick, every: 1s, missed: ${missed}, grace: 300ms, inputs: { at: "\${{ tick.ms }}" } }
    steps:
      - { id: say, call: test.echo, with: { text: "tick" } }`;

const yaml = `
connectors:${testConnectorYaml(callLogPath())}
workflows:${schedule('catchup', 'run_once')}${schedule('strict', 'skip')}
`;

const test = appTest({ yaml, workers: false });

async function ticksOf(app: App, trigger: string) {
  const jobs = await app.triggers.schedules.queue.getCompleted(0, -1);
  return jobs
    .filter((j) => j.data.trigger === trigger)
    .map((j) => ({ due: tickTime(j.id, 0), outcome: j.returnvalue as { outcome: string; reason?: string; runId?: string } }));
}

describe('missed ticks', () => {
  test('run_once runs the tick missed during an outage once; skip starts nothing for it', async ({ app }) => {
    await app.triggers.sync();
    // Nothing takes ticks for a while: at least two come due for each schedule.
    await sleep(2500);
    const back = Date.now();
    await app.startWorkers();
    for (let i = 0; i < 300; i++) {
      const after = await Promise.all(
        ['catchup.tick', 'strict.tick'].map(async (t) => (await ticksOf(app, t)).some((x) => x.due >= back)),
      );
      if (after.every(Boolean)) break;
      await sleep(100);
    }
    await app.triggers.pause('catchup.tick', 'test');
    await app.triggers.pause('strict.tick', 'test');

    const missedCatchup = (await ticksOf(app, 'catchup.tick')).filter((t) => t.due < back);
    expect(missedCatchup.map((t) => t.outcome.outcome)).toEqual(['started']);
    const catchupRuns = (await app.store.listRuns({ limit: 100, workflow: 'catchup' })).runs;
    expect(catchupRuns.filter((r) => Number(r.inputs.at) < back).map((r) => r.id)).toEqual([missedCatchup[0].outcome.runId]);

    const missedStrict = (await ticksOf(app, 'strict.tick')).filter((t) => t.due < back);
    expect(missedStrict.map((t) => t.outcome.outcome)).toEqual(['skipped']);
    expect(missedStrict[0].outcome.reason).toMatch(/^missed: due /);
    const strictRuns = (await app.store.listRuns({ limit: 100, workflow: 'strict' })).runs;
    expect(strictRuns.filter((r) => Number(r.inputs.at) < back)).toEqual([]);
  });

  test('a paused schedule holds no scheduler; resume puts it back', async ({ app }) => {
    const schedulers = async () => (await app.triggers.schedules.queue.getJobSchedulers(0, -1)).map((s) => s.key).sort();
    expect(await schedulers()).toEqual([]);
    const listed = await app.triggers.list();
    expect(listed.map((t) => [t.id, t.paused, t.pausedBy])).toEqual([
      ['catchup.tick', true, 'test'],
      ['strict.tick', true, 'test'],
    ]);
    // A sync (a restart, a reload) keeps a paused schedule paused.
    await app.triggers.sync();
    expect(await schedulers()).toEqual([]);
    const resumed = await app.triggers.resume('strict.tick');
    expect(resumed.paused).toBe(false);
    expect(await schedulers()).toEqual(['strict.tick']);
    expect((await app.triggers.list()).find((t) => t.id === 'strict.tick')?.nextTick).toEqual(expect.any(Number));
    await app.triggers.pause('strict.tick', 'test');
  });
});
