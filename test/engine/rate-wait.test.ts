import { appTest } from '../helpers/fixtures.ts';
import { describe, expect } from 'vitest';
import { callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';

// A call that must wait long for a rate-limit slot gives its concurrency place back (its job goes
// to the delayed set) instead of holding it: with one place, a call to another value of the `by`
// argument goes ahead of the backlog on a busy value. Only the order of arrival at the server is
// asserted; the 2 s window makes the busy value's second call wait.
const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(
  log,
  `
    concurrency: 1
    rate_limit:
      - { max: 1, per: 2s, tool: echo, by: text }`,
)}
workflows:
  say:
    description: one echo
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }
`;

const it = appTest({ yaml });

describe('waiting for a rate-limit slot', () => {
  it("does not hold the connector's only place while it waits, so other values go ahead", async ({ app }) => {
    const hot = [];
    for (let i = 0; i < 3; i++) hot.push((await app.engine.trigger('say', { text: 'hot' })).run.id);
    const cold = (await app.engine.trigger('say', { text: 'cold' })).run.id;
    for (const id of [...hot, cold])
      expect((await waitForStatus(app, id, ['succeeded', 'failed'], 30_000)).status).toBe('succeeded');
    const order = readCalls(log)
      .filter((c) => c.tool === 'echo')
      .map((c) => String(c.args.text));
    expect(order).toEqual(['hot', 'cold', 'hot', 'hot']);
    // The waits were spent delayed, not retried: each step was attempted once.
    for (const id of hot) expect((await app.store.requireRun(id)).steps.say.attempts).toBe(1);
  }, 40_000);
});
