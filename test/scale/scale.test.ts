import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import { childServerTest } from '../helpers/fixtures.ts';
import { callLogPath, readCalls, type LoggedCall } from '../helpers/app.ts';
import { busiestWindow, unsucceeded } from '../helpers/processes.ts';
import { httpConnectorYaml } from '../helpers/workflows.ts';

/**
 * Scale-out: three `interlock worker` processes share one Redis and nothing else. 300 runs of a
 * read followed by a write that policy lets through unconfirmed complete although one process is
 * SIGKILLed halfway, and the connector's rate limit is checked where it matters: at the MCP
 * server, from the arrival times in its call log, over every sliding window of `per`.
 *
 * The limit is Interlock's own sliding window in Redis (takeRateSlots-n.lua), shared by every
 * process; a slot counts until `per` after its call answered, so the strict check below holds at
 * the server however unevenly calls travel. BullMQ's fixed-window limiter, used before, let up to
 * 2 × max through across a window boundary.
 */
const RUNS = 300;
const STEPS = 2;
const LIMIT = { max: 40, perMs: 1000 };

const log = callLogPath();

function yaml(serverUrl: string): string {
  return `
connectors:${httpConnectorYaml(serverUrl, '\n    concurrency: 5')}
    rate_limit: { max: ${LIMIT.max}, per: 1s }
policy:
  allow_unconfirmed: [test.record]
workflows:
  scale:
    description: a read, then a write the policy lets through without a confirmation
    inputs: { type: object, required: [n], properties: { n: { type: string } } }
    steps:
      - id: look
        call: test.echo
        with: { text: "\${{ inputs.n }}" }
      - id: write
        call: test.record
        confirm: never
        with: { name: "\${{ steps.look.output.text }}" }
`;
}

const it = childServerTest(yaml, log);

describe('three worker processes on one Redis', () => {
  let calls: (LoggedCall & { sessionId?: string })[] = [];

  it('completes 300 runs with one of three processes killed midway, sharing the rate limit across processes', {
    // 90 s for the test and 60 s for the setup that now runs inside it (the file's fixtures)
    timeout: 150_000,
  }, async ({ app, processes }) => {
    const started = await processes.start(3);

    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) ids.push((await app.engine.trigger('scale', { n: `n${i}` })).run.id);

    // Midway by calls at the server, the second process dies without a chance to clean up.
    while (readCalls(log).length < (RUNS * STEPS) / 2) await sleep(50);
    await started[1].kill();

    const left = await unsucceeded(app, ids, 75_000, 200);
    const unfinished = await Promise.all(
      left.slice(0, 3).map(async (id) => {
        const run = await app.store.requireRun(id);
        return { id, status: run.status, steps: Object.fromEntries(Object.entries(run.steps).map(([k, s]) => [k, s.status])) };
      }),
    );
    expect(unfinished, `${left.length} runs did not succeed`).toEqual([]);

    calls = readCalls(log);
    // Each run's write reached the server under its own idempotency key; a resend after the kill
    // carries the same key, so the server can tell it is a repeat.
    const keys = new Set(calls.filter((c) => c.tool === 'record').map((c) => c.idempotencyKey));
    expect(keys.size).toBe(RUNS);
    expect([...keys].every((k) => typeof k === 'string' && k.startsWith('interlock-'))).toBe(true);
    // The three processes each held their own MCP session and took a share of the work.
    expect(new Set(calls.map((c) => c.sessionId)).size).toBeGreaterThanOrEqual(3);
    // One limit for all processes, not one each (three would allow 3 × max in a window).
    const busiest = busiestWindow(
      calls.map((c) => c.time),
      LIMIT.perMs,
    );
    expect(busiest.count).toBeLessThanOrEqual(2 * LIMIT.max);
  });

  it('never lets more than max calls reach the server within any sliding window of per', () => {
    expect(calls.length).toBeGreaterThanOrEqual(RUNS * STEPS);
    const busiest = busiestWindow(
      calls.map((c) => c.time),
      LIMIT.perMs,
    );
    expect(
      busiest.count,
      `${busiest.count} calls within ${LIMIT.perMs} ms from ${new Date(busiest.start).toISOString()}; the limit is ${LIMIT.max}`,
    ).toBeLessThanOrEqual(LIMIT.max);
  });
});
