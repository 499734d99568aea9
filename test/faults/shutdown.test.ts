import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { TestServerHttp } from '../fixtures/test-server.ts';
import { waitForStatus } from '../helpers/app.ts';
import { type WorkerProcesses, openApp, test, workerProcesses } from '../helpers/fixtures.ts';
import type { WorkerProcess } from '../helpers/processes.ts';
import { httpConnectorYaml } from '../helpers/workflows.ts';

const yaml = (url: string) => `
connectors:${httpConnectorYaml(url)}
workflows:
  nap:
    description: a slow read, then an echo
    inputs: { type: object, required: [ms, once], properties: { ms: { type: integer }, once: { type: string } } }
    steps:
      - id: nap
        call: test.slow
        with: { ms: "\${{ inputs.ms }}", once: "\${{ inputs.once }}" }
      - id: after
        call: test.echo
        with: { text: "slept \${{ steps.nap.output.sleptMs }}" }
`;

/*
 * The MCP server runs in this process over streamable HTTP, so its state (which `once` values it
 * has seen) outlives the worker processes: a step handed back is answered at once next time.
 */
const it = test.extend<{ app: App; processes: WorkerProcesses; worker: (grace: number) => Promise<WorkerProcess> }>({
  app: [async ({ redis, mcpHttp }, use) => openApp(redis, { yaml: yaml(mcpHttp.url), workers: false }, use), { scope: 'file' }],
  processes: workerProcesses,
  // Each test starts its own workers, SIGKILLed when it ends.
  worker: async ({ processes }, use) => {
    await use(async (grace) => (await processes.start(1, { env: { INTERLOCK_SHUTDOWN_GRACE_MS: String(grace) } }))[0]);
    await processes.killAll();
  },
});

describe('SIGTERM on `interlock worker`: in-flight steps finish or are handed back', () => {
  async function untilCalled(mcp: TestServerHttp, once: string): Promise<void> {
    while (!mcp.calls.some((c) => c.tool === 'slow' && c.args.once === once)) await sleep(20);
  }

  it('lets a step that ends within the grace period finish, then exits 0', async ({ app, mcpHttp: mcp, worker }) => {
    const w = await worker(60_000);
    const { run } = await app.engine.trigger('nap', { ms: 1500, once: 'finish' });
    await untilCalled(mcp, 'finish');
    expect(await w.terminate()).toBe(0);
    const mid = await app.store.requireRun(run.id);
    expect(mid.steps.nap.status).toBe('succeeded');
    await worker(60_000);
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.steps.after.output).toEqual({ text: 'slept 1500' });
    const events = await app.store.readEvents(run.id);
    expect(events.map((e) => e.type)).not.toContain('step.handed_back');
  });

  it('hands a read that outlasts the grace period back to the queue, and another worker finishes the run', async ({
    app,
    mcpHttp: mcp,
    worker,
  }) => {
    const w = await worker(200);
    const { run } = await app.engine.trigger('nap', { ms: 600_000, once: 'handback' });
    await untilCalled(mcp, 'handback');
    expect(await w.terminate()).toBe(0);
    const mid = await app.store.requireRun(run.id);
    expect(mid.status).toBe('running');
    const events = await app.store.readEvents(run.id);
    expect(events.map((e) => e.type)).toContain('step.handed_back');
    const jobs = await app.queues.get('test').getJobs(['waiting', 'delayed', 'prioritized']);
    expect(jobs.map((j) => j.data.runId)).toContain(run.id);

    await worker(200);
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.nap.attempts).toBe(2);
    expect(mcp.calls.filter((c) => c.tool === 'slow' && c.args.once === 'handback')).toHaveLength(2);
  });
});
