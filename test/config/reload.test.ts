import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { App } from '../../src/app.ts';
import { ConfigError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { TEST_SERVER, callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { WorkerProcess } from '../helpers/processes.ts';
import { appTest } from '../helpers/fixtures.ts';

// One config source: editing the file and reloading reaches the step path. A connector whose
// timeout and rate limit changed gets a new session and its calls see both; an unchanged
// connector keeps its session; a file that does not validate changes nothing.
const log = callLogPath();
const otherLog = callLogPath();

/** `test` with the given extra lines (timeout, rate_limit), `other` never changed. */
const yaml = (testExtra: string) => `
connectors:${testConnectorYaml(log, testExtra)}
  other:
    transport: stdio
    command: ${process.execPath}
    args: [${TEST_SERVER}, --stdio]
    env: { TEST_SERVER_LOG: ${otherLog} }
workflows:
  nap:
    description: one slow read
    inputs: { type: object, required: [ms], properties: { ms: { type: integer } } }
    steps:
      - { id: nap, call: test.slow, with: { ms: "\${{ inputs.ms }}" } }
  say:
    description: one echo
    inputs: { type: object, required: [text], properties: { text: { type: string } } }
    steps:
      - { id: say, call: test.echo, with: { text: "\${{ inputs.text }}" } }
  who:
    description: which server process answers each connector
    inputs: { type: object }
    steps:
      - { id: test, call: test.whoami, with: {} }
      - { id: other, call: other.whoami, with: {} }
`;

const it = appTest({ yaml: yaml('\n    timeout: 30s') });

/** The pid of the server process that answers each connector. */
async function pids(app: App) {
  const { run } = await app.engine.trigger('who', {});
  const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
  expect(done.status).toBe('succeeded');
  return { test: (done.steps.test.output as { pid: number }).pid, other: (done.steps.other.output as { pid: number }).pid };
}

describe('reloading the config file', () => {
  it('gives a step the new timeout and rate limit of a connector, on a new session, and leaves other connectors alone', async ({
    app,
    configFile,
  }) => {
    const before = await pids(app);
    // Before: a 1.5 s read fits in the 30 s timeout, and nothing limits echo.
    const slow = await app.engine.trigger('nap', { ms: 1500 });
    expect((await waitForStatus(app, slow.run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
    const free = await Promise.all([1, 2, 3].map(async (i) => (await app.engine.trigger('say', { text: `free-${i}` })).run.id));
    for (const id of free) expect((await waitForStatus(app, id, ['succeeded', 'failed'])).status).toBe('succeeded');

    writeFileSync(configFile, yaml('\n    timeout: 300ms\n    rate_limit: { max: 2, per: 10m, tool: echo }'));
    const changes = await app.source.reload();
    expect(changes.connectors).toEqual({ added: [], removed: [], changed: ['test'] });
    expect(changes.workflows).toEqual({ added: [], removed: [], changed: [] });
    expect(app.engine.currentConfig.connectors.test.timeoutMs).toBe(300);

    const after = await pids(app);
    expect(after.test).not.toBe(before.test);
    expect(after.other).toBe(before.other);

    // The same read now outlives the connector's new timeout.
    const late = await app.engine.trigger('nap', { ms: 1500 });
    const failed = await waitForStatus(app, late.run.id, ['succeeded', 'failed']);
    expect(failed.status).toBe('failed');
    expect(failed.steps.nap.error?.code).toBe('STEP_TIMEOUT');
    expect(failed.steps.nap.error?.message).toContain('within 300 ms');

    // The new limit holds: two echoes in the window reach the server, the third waits for a slot.
    const limited = [];
    for (const i of [1, 2, 3]) limited.push((await app.engine.trigger('say', { text: `limited-${i}` })).run.id);
    await expect
      .poll(() => readCalls(log).filter((c) => c.tool === 'echo' && String(c.args.text).startsWith('limited-')).length, {
        timeout: 20_000,
      })
      .toBe(2);
    const runs = await Promise.all(limited.map((id) => app.store.requireRun(id)));
    expect(runs.filter((r) => r.status === 'succeeded')).toHaveLength(2);
    const waiting = runs.find((r) => r.status !== 'succeeded');
    expect(waiting?.steps.say.status).not.toBe('failed');
    await expect
      .poll(async () => (await app.queues.get('test').getJobs(['delayed'])).some((j) => j.data.runId === waiting?.id), {
        timeout: 10_000,
      })
      .toBe(true);
    expect(readCalls(log).filter((c) => c.tool === 'echo' && String(c.args.text).startsWith('limited-'))).toHaveLength(2);
    await app.engine.cancel(waiting!.id, 'test');
  });

  it('changes nothing when the file does not validate, and names file:line:col', async ({ app, configFile }) => {
    const current = app.config;
    let heard = 0;
    const unsubscribe = app.source.subscribe(() => void heard++);
    try {
      const broken = yaml('\n    timeout: soon');
      writeFileSync(configFile, broken);
      const line = broken.split('\n').findIndex((l) => l.includes('timeout: soon')) + 1;
      const err = await app.source.reload().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues;
      expect(issues[0]).toMatchObject({ file: configFile, line, col: 14 });
      expect((err as ConfigError).message).toContain(`${configFile}:${line}:14:`);
      expect(app.config).toBe(current);
      expect(app.engine.currentConfig).toBe(current);
      expect(heard).toBe(0);
      // The connector still has the last good timeout.
      const late = await app.engine.trigger('nap', { ms: 1500 });
      expect((await waitForStatus(app, late.run.id, ['succeeded', 'failed'])).steps.nap.error?.code).toBe('STEP_TIMEOUT');
    } finally {
      unsubscribe();
    }
  });

  it('reaches an `interlock worker` process on SIGHUP', async ({ redis }) => {
    const workerFile = join(mkdtempSync(join(tmpdir(), 'interlock-reload-worker-')), 'workflows.yaml');
    writeFileSync(workerFile, yaml('\n    timeout: 30s'));
    const client = await App.create({ configFile: workerFile, redisUrl: redis.url, prefix: 'reload-w', logger: silentLogger() });
    const worker = new WorkerProcess({ INTERLOCK_CONFIG: workerFile, REDIS_URL: redis.url, INTERLOCK_PREFIX: 'reload-w' });
    try {
      await worker.start();
      const fits = await client.engine.trigger('nap', { ms: 1500 });
      expect((await waitForStatus(client, fits.run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
      writeFileSync(workerFile, yaml('\n    timeout: 300ms'));
      worker.signal('SIGHUP');
      await expect.poll(() => worker.output, { timeout: 20_000 }).toContain('connectors changed: test');
      const late = await client.engine.trigger('nap', { ms: 1500 });
      const failed = await waitForStatus(client, late.run.id, ['succeeded', 'failed']);
      expect(failed.steps.nap.error?.code).toBe('STEP_TIMEOUT');
      expect(failed.steps.nap.error?.message).toContain('within 300 ms');
    } finally {
      await worker.terminate();
      await client.close();
    }
  });
});
