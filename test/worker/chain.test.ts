import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { callLogPath, makeApp, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';

/*
 * A chain's next step runs in the job of the step before it (src/worker/chain.ts) when it is a call
 * on the same connector: each commit answers what the next step needs, and the run's ready marker
 * names the job that holds it. What a step job did before still holds for such a step: its order,
 * a cancel between two steps, a retry with the step's own attempts, the queue for another connector.
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

  it('hands the step on another connector to that queue, and goes on in place after it', async ({ app }) => {
    const { run } = await app.engine.trigger('across', { tag: 'hop' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.c.output).toEqual({ text: 'hop-a-b-c' });
    expect(readCalls(otherLog).filter((c) => c.args.text === 'hop-a-b')).toHaveLength(1);
    // b had a job of its own on the `other` queue; c, on `test` again, had one too (b's job is on another queue).
    expect(await lastJob(app, run.id)).toBe(`${run.id}.c.0`);
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
