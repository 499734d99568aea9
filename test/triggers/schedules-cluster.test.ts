import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import { childServerTest } from '../helpers/fixtures.ts';
import { callLogPath } from '../helpers/app.ts';
import { unsucceeded } from '../helpers/processes.ts';
import { httpConnectorYaml } from '../helpers/workflows.ts';

// Three `interlock worker` processes share one Redis and one schedule ticking every 200 ms. Each
// process upserts the schedule's job scheduler at start and takes tick jobs; BullMQ makes one job
// per tick, and the tick's job id is the run's idempotency key, so each tick is exactly one run
// whichever process takes it, however often.

const TICKS = 20;
const log = callLogPath();
const yaml = (url: string) => `
connectors:${httpConnectorYaml(url)}
workflows:
  heartbeat:
    description: one read per tick
    inputs: { type: object, required: [tick], properties: { tick: { type: string }, at: { type: integer } } }
    triggers:
      - name: fast
        every: 200ms
        inputs: { tick: "\${{ tick.id }}", at: "\${{ tick.ms }}" }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.tick }}" }
`;

const it = childServerTest(yaml, log);

describe('a schedule over three worker processes', () => {
  it(`makes exactly one run per tick over ${TICKS} ticks`, async ({ app, processes }) => {
    await processes.start(3);
    const queue = app.triggers.schedules.queue;
    // Ticks are counted by BullMQ's own record of the jobs it made and finished.
    for (let i = 0; i < 600; i++) {
      if ((await queue.getCompletedCount()) >= TICKS) break;
      await sleep(100);
    }
    await app.triggers.pause('heartbeat.fast', 'test');
    // A tick taken just before the pause finishes on its own; wait until nothing is active.
    for (let i = 0; i < 100 && (await queue.getActiveCount()) > 0; i++) await sleep(100);

    // A tick job's return value is what it did: a tick taken after the pause started nothing.
    const done = await queue.getCompleted(0, -1);
    const outcomes = done.map((j) => (j.returnvalue as { outcome: string; reason?: string }) ?? { outcome: 'none' });
    expect(outcomes.filter((o) => o.outcome !== 'started').map((o) => o.reason ?? o.outcome)).toEqual(
      outcomes.filter((o) => o.outcome === 'skipped' && o.reason === 'paused').map(() => 'paused'),
    );
    const ticks = done.filter((_, i) => outcomes[i].outcome === 'started').map((j) => j.id ?? '');
    expect(ticks.length).toBeGreaterThanOrEqual(TICKS);
    expect(new Set(ticks).size).toBe(ticks.length);

    const { runs } = await app.store.listRuns({ limit: 1000, workflow: 'heartbeat' });
    const runTicks = runs.map((r) => String(r.inputs.tick));
    // One run per tick: as many runs as ticks, each naming its own tick, none twice.
    expect(new Set(runTicks).size).toBe(runTicks.length);
    expect(runTicks.sort()).toEqual([...ticks].sort());
    expect(runs.every((r) => r.owner === 'schedule:heartbeat.fast')).toBe(true);

    const left = await unsucceeded(
      app,
      runs.map((r) => r.id),
      60_000,
    );
    expect(left).toEqual([]);
  }, 300_000);
});
