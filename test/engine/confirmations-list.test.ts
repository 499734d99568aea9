import { describe, expect } from 'vitest';
import type { ConfirmationRecord } from '../../src/runs/records.ts';
import { callLogPath, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';

// Confirmations other than pending ones are listed by walking the runs (there is no index of every
// confirmation ever opened): paging must still give each one once, newest run first.
const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log, '\n    concurrency: 4')}
workflows:
  two:
    description: two gated writes
    inputs: { type: object, required: [name], properties: { name: { type: string } } }
    steps:
      - id: first
        call: test.record
        with: { name: "\${{ inputs.name }}-1" }
      - id: second
        call: test.record
        with: { name: "\${{ inputs.name }}-2" }
`;

type Lister = (status?: ConfirmationRecord['status'], limit?: number) => Promise<ConfirmationRecord[]>;

const it = appTest({ yaml }).extend<{ runs: string[]; all: Lister }>({
  // Five runs: the first three get through both gates, the fourth is denied at its first,
  // the fifth waits at its first.
  runs: [
    async ({ app }, use) => {
      const runs: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { run } = await app.engine.trigger('two', { name: `u${i}` });
        runs.push(run.id);
        for (let gate = 0; gate < 2; gate++) {
          const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
          const cid = paused.steps[gate === 0 ? 'first' : 'second'].confirmationId!;
          if (i === 4) break;
          if (i === 3) {
            await app.engine.deny(cid, { by: 'test' });
            break;
          }
          await app.engine.approve(cid, (await app.store.requireConfirmation(cid)).argumentsHash, { by: 'test' });
        }
      }
      await waitForStatus(app, runs[2], ['succeeded']);
      await use(runs);
    },
    { scope: 'file' },
  ],
  all: async ({ app }, use) => {
    await use(async (status, limit = 2) => {
      const out: ConfirmationRecord[] = [];
      let cursor: number | undefined = 0;
      for (let pages = 0; cursor !== undefined && pages < 50; pages++) {
        const page: { confirmations: ConfirmationRecord[]; nextCursor?: number } = await app.store.listConfirmations({
          limit,
          cursor,
          ...(status ? { status } : {}),
        });
        expect(page.confirmations.length).toBeLessThanOrEqual(limit);
        out.push(...page.confirmations);
        cursor = page.nextCursor;
      }
      return out;
    });
  },
});

describe('listing confirmations', () => {
  it('pages through every confirmation once, newest run first, whatever the page size', async ({ runs, all }) => {
    for (const limit of [1, 2, 3, 500]) {
      const list = await all(undefined, limit);
      expect(list.map((c) => c.runId)).toEqual([runs[4], runs[3], runs[2], runs[2], runs[1], runs[1], runs[0], runs[0]]);
      expect(new Set(list.map((c) => c.id)).size).toBe(8);
      // Within a run, the newer confirmation comes first.
      expect(list[2].stepId).toBe('second');
      expect(list[3].stepId).toBe('first');
    }
  });

  it('filters by status and gives the full record', async ({ runs, all }) => {
    const approved = await all('approved');
    expect(approved).toHaveLength(6);
    expect(approved.every((c) => c.decidedBy === 'test' && c.connector === 'test' && c.tool === 'record')).toBe(true);
    expect((await all('denied')).map((c) => c.runId)).toEqual([runs[3]]);
    const pending = await all('pending');
    expect(pending.map((c) => c.runId)).toEqual([runs[4]]);
    expect(pending[0]).toMatchObject({
      workflow: 'two',
      session: `run-${runs[4]}`,
      stepId: 'first',
      arguments: { name: 'u4-1' },
    });
    expect(pending[0].argumentsHash).toMatch(/^[0-9a-f]{64}$/);
  });
});
