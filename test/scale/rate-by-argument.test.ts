import { describe, expect } from 'vitest';
import { childServerTest } from '../helpers/fixtures.ts';
import { callLogPath, readCalls, type LoggedCall } from '../helpers/app.ts';
import { busiestWindow, unsucceeded } from '../helpers/processes.ts';
import { LOOK_WORKFLOW, httpConnectorYaml } from '../helpers/workflows.ts';

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
connectors:${httpConnectorYaml(serverUrl, '\n    concurrency: 4')}
    rate_limit:
      - { max: ${CONNECTOR.max}, per: ${CONNECTOR.perMs}ms }
      - { max: ${PER_TEXT.max}, per: ${PER_TEXT.perMs}ms, tool: echo, by: text }
workflows:${LOOK_WORKFLOW}
`;
}

const it = childServerTest(yaml, log);

describe('a rate limit per argument value, across two worker processes', () => {
  it('never lets one text through more than max times per window, while other texts go on meanwhile', {
    // 60 s for the test and 60 s for the setup that now runs inside it (the file's fixtures)
    timeout: 120_000,
  }, async ({ app, processes }) => {
    await processes.start(2);

    const ids: string[] = [];
    for (let i = 0; i < RUNS_PER_TEXT; i++) {
      for (const text of TEXTS) ids.push((await app.engine.trigger('look', { name: text })).run.id);
      ids.push((await app.engine.trigger('look', { name: HOT })).run.id);
    }
    const left = await unsucceeded(app, ids, 45_000);
    expect(left, `${left.length} runs did not succeed`).toEqual([]);

    const calls: Array<LoggedCall & { sessionId?: string }> = readCalls(log).filter((c) => c.tool === 'echo');
    for (const text of TEXTS)
      expect(calls.filter((c) => c.args.text === text).length, text).toBeGreaterThanOrEqual(
        text === HOT ? 2 * RUNS_PER_TEXT : RUNS_PER_TEXT,
      );
    // Both processes called the server, each over its own MCP session.
    expect(new Set(calls.map((c) => c.sessionId)).size).toBeGreaterThanOrEqual(2);

    // Per text: never more than max within any window of per, at the server.
    for (const text of TEXTS) {
      const busiest = busiestWindow(
        calls.filter((c) => c.args.text === text).map((c) => c.time),
        PER_TEXT.perMs,
      );
      expect(
        busiest.count,
        `${busiest.count} calls of "${text}" within ${PER_TEXT.perMs} ms from ${new Date(busiest.start).toISOString()}`,
      ).toBeLessThanOrEqual(PER_TEXT.max);
    }
    // The connector's own limit holds over all texts together, taken in the same step as theirs.
    const all = busiestWindow(
      calls.map((c) => c.time),
      CONNECTOR.perMs,
    );
    expect(
      all.count,
      `${all.count} calls within ${CONNECTOR.perMs} ms; the connector limit is ${CONNECTOR.max}`,
    ).toBeLessThanOrEqual(CONNECTOR.max);
    // Yet more than one text's max arrived within one window: the texts did not share one window.
    expect(all.count).toBeGreaterThan(PER_TEXT.max);
  });
});
