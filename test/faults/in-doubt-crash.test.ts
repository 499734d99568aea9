import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { waitForStatus } from '../helpers/app.ts';
import { type WorkerProcesses, openApp, test, workerProcesses } from '../helpers/fixtures.ts';
import type { WorkerProcess } from '../helpers/processes.ts';
import { httpConnectorYaml } from '../helpers/workflows.ts';

// `send` ignores idempotency keys, like an email API: after a crash mid-call it must never be sent
// again by itself. Its first answer per address takes 300 ms, so kills land mid-write.
const yaml = (url: string) => `
connectors:${httpConnectorYaml(url, '\n    concurrency: 8', 'mail')}
policy:
  allow_unconfirmed: [mail.send]
workflows:
  notify:
    description: send one message
    inputs: { type: object, required: [to], properties: { to: { type: string } } }
    steps:
      - id: send
        call: mail.send
        confirm: never
        with: { to: "\${{ inputs.to }}", text: hello, hangOnce: true, delayMs: 300 }
`;

const RUNS = 60;
const SETTLED = new Set(['succeeded', 'failed', 'needs_attention', 'cancelled', 'denied']);

const it = test.extend<{ app: App; processes: WorkerProcesses; workers: WorkerProcess[] }>({
  app: [async ({ redis, mcpHttp }, use) => openApp(redis, { yaml: yaml(mcpHttp.url), workers: false }, use), { scope: 'file' }],
  processes: workerProcesses,
  workers: [async ({ processes }, use) => use(await processes.start(2)), { scope: 'file' }],
});

describe('faults: non-idempotent writes while workers are SIGKILLed', () => {
  it('ends each run succeeded or in doubt, never sends twice by itself, and an operator settles every doubt', async ({
    app,
    mcpHttp: mail,
    workers,
  }) => {
    const sends = (to: string) => mail.calls.filter((c) => c.tool === 'send' && c.args.to === to).length;
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) ids.push((await app.engine.trigger('notify', { to: `user${i}@example.com` })).run.id);
    const all = async () => Promise.all(ids.map((id) => app.store.requireRun(id)));
    const settled = async (n: number) => {
      for (;;) {
        const runs = await all();
        if (runs.filter((r) => SETTLED.has(r.status)).length >= n) return runs;
        await sleep(50);
      }
    };
    let kills = 0;
    for (const at of [5, 20, 35]) {
      await settled(at);
      const w = workers[kills % workers.length];
      await w.kill();
      kills++;
      await w.start();
    }
    const runs = await settled(RUNS);
    const by = (s: string) => runs.filter((r) => r.status === s);
    const doubt = by('needs_attention');
    for (const r of by('succeeded')) expect(sends(r.inputs.to as string), r.id).toBe(1);
    for (const r of doubt) {
      expect(r.steps.send.status).toBe('in_doubt');
      expect(sends(r.inputs.to as string), r.id).toBeLessThanOrEqual(1);
    }
    expect(by('succeeded').length + doubt.length).toBe(RUNS);
    expect(doubt.length, 'writes caught mid-call by a kill').toBeGreaterThan(0);

    // The operator checks the mail server for each doubt: sent → done, not sent → retry.
    const reached = doubt.filter((r) => sends(r.inputs.to as string) === 1);
    for (const r of doubt) {
      const sent = sends(r.inputs.to as string) === 1;
      await app.engine.resolve(
        r.id,
        'send',
        sent ? { action: 'done', output: { sent: -1 }, by: 'test' } : { action: 'retry', by: 'test' },
      );
    }
    const final: RunRecord[] = [];
    for (const id of ids) final.push(await waitForStatus(app, id, ['succeeded', 'failed'], 60_000));
    expect(final.every((r) => r.status === 'succeeded')).toBe(true);
    for (const r of final) expect(sends(r.inputs.to as string), r.id).toBe(1);

    console.log(
      [
        'test:faults — non-idempotent writes under crashes',
        `  runs: ${RUNS}, worker SIGKILLs: ${kills}`,
        `  succeeded on their own: ${by('succeeded').length}`,
        `  in doubt: ${doubt.length} (the write had reached the server in ${reached.length})`,
        `  after the operator resolved them: ${final.filter((r) => r.status === 'succeeded').length} succeeded, messages sent: ${mail.calls.filter((c) => c.tool === 'send').length}`,
      ].join('\n'),
    );
  }, 300_000);
});
