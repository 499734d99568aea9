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
 * A rate limit per argument value, held by two `interlock worker` processes and measured where it
 * matters: in the arrival times the MCP test server logs. Each text may reach `echo` at most twice
 * in any window of 1 s, and the connector at most four times, both taken in one step (that the
 * step takes a slot in all windows or none is checked in test/engine/rate-slots.test.ts). One text
 * (HOT) has twice the runs, so its calls queue behind its own limit while other texts go on.
 * A slot counts until `per` after its call answered, so however late a call reaches the server
 * after taking its slot, no window there holds more than `max`.
 */
const PER_TEXT = { max: 2, perMs: 1000 };
const CONNECTOR = { max: 4, perMs: 1000 };
const TEXTS = ['alpha', 'beta', 'gamma', 'delta'];
const HOT = 'alpha';
const RUNS_PER_TEXT = 3;

const log = callLogPath();

function yaml(serverUrl: string): string {
  return `
connectors:
  test:
    transport: streamable-http
    url: ${serverUrl}
    concurrency: 4
    rate_limit:
      - { max: ${CONNECTOR.max}, per: ${CONNECTOR.perMs}ms }
      - { max: ${PER_TEXT.max}, per: ${PER_TEXT.perMs}ms, tool: echo, by: text }
workflows:
  say:
    description: one echo of the text
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }
`;
}

describe('a rate limit per argument value, across two worker processes', () => {
  const redis = new TestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-ratekey-'));
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

  it('never lets one text through more than max times per window, while other texts go on meanwhile', { timeout: 60_000 }, async () => {
    const started = [0, 1].map(() => startWorker(configFile, redis.url, app.prefix));
    workers.push(...started.map((w) => w.proc));
    await Promise.all(started.map((w) => w.ready));

    const ids: string[] = [];
    for (let i = 0; i < RUNS_PER_TEXT; i++) {
      for (const text of TEXTS) ids.push((await app.engine.trigger('say', { text })).run.id);
      ids.push((await app.engine.trigger('say', { text: HOT })).run.id);
    }
    const deadline = Date.now() + 45_000;
    let left = ids;
    while (left.length && Date.now() < deadline) {
      const p = app.redis.client.pipeline();
      for (const id of left) p.hget(app.store.keys.run(id), 'status');
      const res = (await p.exec()) ?? [];
      left = left.filter((_, i) => res[i]?.[1] !== 'succeeded');
      if (left.length) await sleep(100);
    }
    expect(left, `${left.length} runs did not succeed`).toEqual([]);

    const calls: Array<LoggedCall & { sessionId?: string }> = readCalls(log).filter((c) => c.tool === 'echo');
    for (const text of TEXTS) expect(calls.filter((c) => c.args.text === text).length, text).toBeGreaterThanOrEqual(text === HOT ? 2 * RUNS_PER_TEXT : RUNS_PER_TEXT);
    // Both processes called the server, each over its own MCP session.
    expect(new Set(calls.map((c) => c.sessionId)).size).toBeGreaterThanOrEqual(2);

    // Per text: never more than max within any window of per, at the server.
    for (const text of TEXTS) {
      const busiest = busiestWindow(calls.filter((c) => c.args.text === text).map((c) => c.time), PER_TEXT.perMs);
      expect(busiest.count, `${busiest.count} calls of "${text}" within ${PER_TEXT.perMs} ms from ${new Date(busiest.start).toISOString()}`)
        .toBeLessThanOrEqual(PER_TEXT.max);
    }
    // The connector's own limit holds over all texts together, taken in the same step as theirs.
    const all = busiestWindow(calls.map((c) => c.time), CONNECTOR.perMs);
    expect(all.count, `${all.count} calls within ${CONNECTOR.perMs} ms; the connector limit is ${CONNECTOR.max}`).toBeLessThanOrEqual(CONNECTOR.max);
    // Yet more than one text's max arrived within one window: the texts did not share one window.
    expect(all.count).toBeGreaterThan(PER_TEXT.max);
  });
});
