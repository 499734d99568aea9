import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { callLogPath, makeApp, readCalls, type LoggedCall } from '../helpers/app.ts';
import { busiestWindow, startTestServer, startWorker, stop } from '../helpers/processes.ts';
import { TestRedis } from '../helpers/redis.ts';

/**
 * Scale-out: three `interlock worker` processes share one Redis and nothing else. 300 runs of a
 * read followed by a write that policy lets through unconfirmed complete although one process is
 * SIGKILLed halfway, and the connector's rate limit is checked where it matters: at the MCP
 * server, from the arrival times in its call log, over every sliding window of `per`.
 *
 * BullMQ's limiter, which src/worker/worker.ts configures from `rate_limit`, is one counter in
 * Redis shared by every process, but it counts in fixed windows that open at the first job: with
 * a backlog, `max` jobs start at the end of one window and `max` more at the start of the next,
 * so a sliding window sees up to 2 × max. The strict check below is therefore expected to fail
 * until the limiter is made sliding (see docs/scaling.md); flip `it.fails` to `it` then.
 */
const RUNS = 300;
const STEPS = 2;
const LIMIT = { max: 40, perMs: 1000 };

const log = callLogPath();

function yaml(serverUrl: string): string {
  return `
connectors:
  test:
    transport: streamable-http
    url: ${serverUrl}
    concurrency: 5
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

describe('three worker processes on one Redis', () => {
  const redis = new TestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-scale-'));
  const configFile = join(dir, 'workflows.yaml');
  let server: ChildProcess | undefined;
  let app: App;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    await redis.start();
    const s = await startTestServer(log);
    server = s.proc;
    writeFileSync(configFile, yaml(s.url));
    app = await makeApp(yaml(s.url), redis.url, configFile);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => stop(w)));
    await app?.close();
    if (server) await stop(server);
    await redis.stop();
  });

  let calls: (LoggedCall & { sessionId?: string })[] = [];

  it('completes 300 runs with one of three processes killed midway, sharing the rate limit across processes', { timeout: 90_000 }, async () => {
    const started = [0, 1, 2].map(() => startWorker(configFile, redis.url, app.prefix));
    workers.push(...started.map((w) => w.proc));
    await Promise.all(started.map((w) => w.ready));

    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) ids.push((await app.engine.trigger('scale', { n: `n${i}` })).run.id);

    // Midway by calls at the server, the second process dies without a chance to clean up.
    while (readCalls(log).length < (RUNS * STEPS) / 2) await sleep(50);
    await stop(started[1].proc, 'SIGKILL');

    const deadline = Date.now() + 75_000;
    let left = ids;
    while (left.length && Date.now() < deadline) {
      const p = app.redis.client.pipeline();
      for (const id of left) p.hget(app.store.keys.run(id), 'status');
      const res = (await p.exec()) ?? [];
      left = left.filter((_, i) => res[i]?.[1] !== 'succeeded');
      if (left.length) await sleep(200);
    }
    const unfinished = await Promise.all(left.slice(0, 3).map(async (id) => {
      const run = await app.store.requireRun(id);
      return { id, status: run.status, steps: Object.fromEntries(Object.entries(run.steps).map(([k, s]) => [k, s.status])) };
    }));
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
    const busiest = busiestWindow(calls.map((c) => c.time), LIMIT.perMs);
    expect(busiest.count).toBeLessThanOrEqual(2 * LIMIT.max);
  });

  it('never lets more than max calls reach the server within any sliding window of per', () => {
    expect(calls.length).toBeGreaterThanOrEqual(RUNS * STEPS);
    const busiest = busiestWindow(calls.map((c) => c.time), LIMIT.perMs);
    expect(busiest.count, `${busiest.count} calls within ${LIMIT.perMs} ms from ${new Date(busiest.start).toISOString()}; the limit is ${LIMIT.max}`)
      .toBeLessThanOrEqual(LIMIT.max);
  });
});
