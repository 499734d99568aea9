import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { callLogPath, makeApp, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { silentLogger } from '../../src/logger.ts';
import { Reconciler } from '../../src/worker/reconciler.ts';

/*
 * A chain's next step runs in the job of the step before it (src/worker/chain.ts) when it is a call
 * on a connector the process serves: each commit answers what the next step needs, and the run's ready marker
 * names the job that holds it. What a step job did before still holds for such a step: its order,
 * a cancel between two steps, a retry with the step's own attempts, each connector's concurrency.
 */
const log = callLogPath();
const otherLog = callLogPath();
const echo = (id: string, text: string, connector = 'test') =>
  `      - id: ${id}\n        call: ${connector}.echo\n        with: { text: "${text}" }`;
const yaml = `
connectors:${testConnectorYaml(log, '\n    concurrency: 4')}${testConnectorYaml(otherLog, '\n    concurrency: 4').replace('test:', 'other:')}
policy:
  confirmation_ttl: 1h
  allow_unconfirmed: [slowwrite.write]
workflows:
  five:
    description: five reads, each fed by the one before; the last one reads the first one too
    inputs: { type: object, required: [tag], properties: { tag: { type: string } } }
    steps:
${echo('s1', '${{ inputs.tag }}-1')}
${echo('s2', '${{ steps.s1.output.text }}-2')}
${echo('s3', '${{ steps.s2.output.text }}-3')}
${echo('s4', '${{ steps.s3.output.text }}-4')}
${echo('s5', '${{ steps.s4.output.text }}-5 ${{ steps.s1.output.text }}')}
  across:
    description: a read, a read on another connector, a read back on the first
    inputs: { type: object, required: [tag], properties: { tag: { type: string } } }
    steps:
${echo('a', '${{ inputs.tag }}-a')}
${echo('b', '${{ steps.a.output.text }}-b', 'other')}
${echo('c', '${{ steps.b.output.text }}-c')}
  acrossslow:
    description: a read, a slow read on another connector, a read back on the first
    inputs: { type: object, required: [tag], properties: { tag: { type: string } } }
    steps:
${echo('a', '${{ inputs.tag }}-a')}
      - id: b
        call: other.slow
        with: { ms: 1500, once: "\${{ inputs.tag }}" }
${echo('c', '${{ inputs.tag }}-c')}
  slowwrite:
    description: a write that takes a while (it cannot be cut short), then a read
    inputs: { type: object, required: [tag], properties: { tag: { type: string } } }
    steps:
${echo('first', '${{ inputs.tag }}')}
      - id: write
        call: test.record
        confirm: never
        with: { name: "\${{ inputs.tag }}", delayMs: 1500 }
${echo('after', '${{ inputs.tag }}-after')}
  retried:
    description: a read, then a read that times out once and is retried, then a read
    inputs: { type: object, required: [tag], properties: { tag: { type: string } } }
    steps:
${echo('first', '${{ inputs.tag }}')}
      - id: flaky
        call: test.slow
        timeout: 300ms
        retry: { attempts: 2, backoff: 50ms }
        with: { ms: 5000, once: "\${{ inputs.tag }}" }
${echo('last', '${{ inputs.tag }}-last')}
`;

// A slice far longer than any test run here, so where a step ran never depends on the machine's speed.
const it = appTest({ yaml, workers: { sweepEveryMs: 100, chainSliceMs: 600_000 } });

/** The job a run's hash names last: the holder of a step run in place, or the step's own job. */
const lastJob = async (app: App, runId: string) => (await app.store.getRunHash(runId))?.hash.job;

describe('running a chain step in place of its own job', () => {
  it('runs a chain of reads on one connector in the first step’s job, in order, each fed by the ones before', async ({ app }) => {
    const { run } = await app.engine.trigger('five', { tag: 'inplace' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    // s1's output reached s5 although commits after s1's no longer carry it (the job holds it).
    expect(done.steps.s5.output).toEqual({ text: 'inplace-1-2-3-4-5 inplace-1' });
    const texts = readCalls(log)
      .filter((c) => c.tool === 'echo' && String(c.args.text).startsWith('inplace-'))
      .map((c) => c.args.text);
    expect(texts).toEqual(['inplace-1', 'inplace-1-2', 'inplace-1-2-3', 'inplace-1-2-3-4', 'inplace-1-2-3-4-5 inplace-1']);
    // Steps 2 to 5 were marked ready naming the job of step 1 as their holder: no job of their own.
    expect(await lastJob(app, run.id)).toBe(`${run.id}.s1.0`);
    const types = (await app.store.readEvents(run.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'step.succeeded')).toHaveLength(5);
    expect(types.at(-1)).toBe('run.succeeded');
  });

  it('runs the step on another connector this process serves in place too, and goes on in place after it', async ({ app }) => {
    const { run } = await app.engine.trigger('across', { tag: 'hop' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.c.output).toEqual({ text: 'hop-a-b-c' });
    expect(readCalls(otherLog).filter((c) => c.args.text === 'hop-a-b')).toHaveLength(1);
    expect(readCalls(log).filter((c) => c.args.text === 'hop-a-b-c')).toHaveLength(1);
    // b took one of `other`'s places in a's job, and c went on in that job: neither had a job of its own.
    expect(await lastJob(app, run.id)).toBe(`${run.id}.a.0`);
  });

  it("keeps to the other connector's concurrency: a step run there in place takes one of its places, or goes to its queue", async ({
    redis,
  }) => {
    // One place on `other`, four on `test`: six runs whose second step is a slow read on `other`.
    const otherYaml = testConnectorYaml(otherLog, '\n    concurrency: 4').replace('test:', 'other:');
    const narrow = yaml
      .replace(otherYaml, otherYaml.replace('concurrency: 4', 'concurrency: 1'))
      .replace('with: { ms: 1500, once:', 'with: { ms: 150, once:');
    expect(narrow).not.toBe(yaml);
    const app = await makeApp(narrow, redis.url);
    try {
      await app.startWorkers({ chainSliceMs: 600_000 });
      const tags = Array.from({ length: 6 }, (_, i) => `narrow${i}-${Date.now()}`);
      const runs = await Promise.all(tags.map(async (tag) => (await app.engine.trigger('acrossslow', { tag })).run.id));
      for (const id of runs) expect((await waitForStatus(app, id, ['succeeded', 'failed'])).status).toBe('succeeded');
      const starts = readCalls(otherLog)
        .filter((c) => c.tool === 'slow' && tags.includes(String(c.args.once)))
        .map((c) => c.time)
        .sort((x, y) => x - y);
      expect(starts).toHaveLength(6);
      // Never two of them at once: each started once the one before had answered (150 ms, a
      // millisecond's leeway for the timer), whichever job ran it.
      for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(149);
    } finally {
      await app.close();
    }
  });

  it("leaves a step another queue's job runs in place to that job: the reconciler enqueues no job for it", async ({ app }) => {
    const { run } = await app.engine.trigger('acrossslow', { tag: 'held' });
    while (!readCalls(otherLog).some((c) => c.tool === 'slow' && c.args.once === 'held')) await sleep(20);
    // Long past the marker's grace period, as far as the reconciler can tell, while b's call is under way.
    const reconciler = new Reconciler({ store: app.store, queues: app.queues, logger: silentLogger(), everyMs: 60_000 });
    expect((await reconciler.pass(Date.now() + 10_000))?.enqueued).toEqual([]);
    expect(await app.queues.get('other').getJob(`${run.id}.b.0`)).toBeUndefined();
    expect((await waitForStatus(app, run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect(readCalls(otherLog).filter((c) => c.tool === 'slow' && c.args.once === 'held')).toHaveLength(1);
    expect(await lastJob(app, run.id)).toBe(`${run.id}.a.0`);
  });

  it('stops between two steps when the run is cancelled during a write: the write is recorded, the next step never runs', async ({
    app,
  }) => {
    const { run } = await app.engine.trigger('slowwrite', { tag: 'cut' });
    while (!readCalls(log).some((c) => c.tool === 'record' && c.args.name === 'cut')) await sleep(20);
    const cancelled = await app.engine.cancel(run.id, 'test');
    expect(cancelled.status).toBe('cancelled');
    // The write answers after its delay and is committed (it did happen); the run stays cancelled.
    await expect.poll(async () => (await app.store.requireRun(run.id)).steps.write.status, { timeout: 10_000 }).toBe('succeeded');
    await sleep(500);
    const after = await app.store.requireRun(run.id);
    expect(after.status).toBe('cancelled');
    expect(after.steps.after.status).toBe('pending');
    expect(readCalls(log).filter((c) => c.tool === 'echo' && c.args.text === 'cut-after')).toEqual([]);
    expect(
      (await app.queues.get('test').getJobs(['active', 'waiting', 'delayed'])).filter((j) => j.data.runId === run.id),
    ).toEqual([]);
  });

  it('retries a step run in place in a job of its own, counting the attempt made in place', async ({ app }) => {
    const { run } = await app.engine.trigger('retried', { tag: 'again' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(readCalls(log).filter((c) => c.tool === 'slow' && c.args.once === 'again')).toHaveLength(2);
    const retrying = (await app.store.readEvents(run.id)).filter((e) => e.type === 'step.retrying');
    expect(retrying.map((e) => [e.stepId, e.data.attempt, e.data.of])).toEqual([['flaky', 1, 2]]);
    // The retry ran in flaky's own job, and `last` went on in place in that one.
    expect(await lastJob(app, run.id)).toBe(`${run.id}.flaky.0`);
  });

  it('hands a run whose slice is used up to the back of the queue when another job waits for the place', async ({ redis }) => {
    // One place on the connector, and a slice shorter than any step: the run goes on in place only
    // while nobody waits, so the one-step run queued behind it gets the place after its first step.
    const narrow = yaml.replace(/concurrency: 4/g, 'concurrency: 1').replace(
      '  five:',
      `  long:
    description: a slow read, then two reads
    inputs: { type: object, required: [tag], properties: { tag: { type: string } } }
    steps:
      - id: s1
        call: test.slow
        with: { ms: 300 }
${echo('s2', '${{ inputs.tag }}-2')}
${echo('s3', '${{ inputs.tag }}-3')}
  five:`,
    );
    const app = await makeApp(narrow, redis.url);
    try {
      await app.startWorkers({ chainSliceMs: 1 });
      const { run: long } = await app.engine.trigger('long', { tag: 'yield' });
      while (!readCalls(log).some((c) => c.tool === 'slow' && c.args.ms === 300)) await sleep(10);
      const { run: short } = await app.engine.trigger('five', { tag: 'queued' });
      expect((await waitForStatus(app, long.id, ['succeeded', 'failed'])).status).toBe('succeeded');
      expect((await waitForStatus(app, short.id, ['succeeded', 'failed'])).status).toBe('succeeded');
      const order = readCalls(log)
        .filter((c) => c.tool === 'echo' && /^(yield|queued)-/.test(String(c.args.text)))
        .map((c) => String(c.args.text));
      // The queued run's first step ran before the long run's second: the long run gave its place up.
      expect(order.indexOf('queued-1')).toBeLessThan(order.indexOf('yield-2'));
    } finally {
      await app.close();
    }
  });

  it('gives every step a job of its own when the slice is 0', async ({ app, redis, configFile }) => {
    const plain = await makeApp(yaml, redis.url, configFile);
    try {
      // The fixture's workers serve the other prefix; these are the only ones on this app's queues.
      await plain.startWorkers({ chainSliceMs: 0 });
      const { run } = await plain.engine.trigger('five', { tag: 'nochain' });
      expect((await waitForStatus(plain, run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
      expect(await lastJob(plain, run.id)).toBe(`${run.id}.s5.0`);
    } finally {
      await plain.close();
    }
    expect(app).toBeDefined();
  });
});
