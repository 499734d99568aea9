import { appTest } from '../helpers/fixtures.ts';
import { describe, expect } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import { PAY_WORKFLOW, callLogPath, readCalls, testConnectorYaml, waitForStatus, withConfirmationTtl } from '../helpers/app.ts';

const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log, '\n    concurrency: 8')}
  everything:
    transport: stdio
    command: ${process.execPath}
    args: [${process.cwd()}/node_modules/@modelcontextprotocol/server-everything/dist/index.js, stdio]
policy:
  confirmation_ttl: 1h
workflows:
  chain:
    description: add on our server, sum on server-everything, echo the sentence back
    inputs: { type: object, required: [a, b], properties: { a: { type: number }, b: { type: number } } }
    steps:
      - id: add
        call: test.add
        with: { a: "\${{ inputs.a }}", b: "\${{ inputs.b }}" }
      - id: sum
        call: everything.get-sum
        with: { a: "\${{ steps.add.output.sum }}", b: 10 }
      - id: say
        call: test.echo
        with: { text: "\${{ steps.sum.output[0].text }}" }
${PAY_WORKFLOW}
  broken:
    description: a tool that reports an error
    inputs: { type: object }
    steps:
      - id: boom
        call: test.fail
        with: { message: "card declined" }
`;

const it = appTest({ yaml, workers: { sweepEveryMs: 100 } });

describe('engine: runs over real MCP servers and a real Redis', () => {
  it("chains our server and server-everything, each step reading the previous one's output", async ({ app }) => {
    const { run } = await app.engine.trigger('chain', { a: 2, b: 3 });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.add.output).toEqual({ sum: 5 });
    expect(done.steps.say.output).toMatchObject({ text: 'The sum of 5 and 10 is 15.' });
  });

  it('rejects inputs that do not match the schema, naming the field', async ({ app }) => {
    const err = await app.engine.trigger('chain', { a: 'two', b: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterlockError);
    expect((err as InterlockError).code).toBe('INPUT_INVALID');
    expect((err as InterlockError).message).toMatch(/a/);
  });

  it('fails a step with the tool’s own message when the tool returns isError', async ({ app }) => {
    const { run } = await app.engine.trigger('broken', {});
    const done = await waitForStatus(app, run.id, ['failed']);
    expect(done.steps.boom.status).toBe('failed');
    expect(done.steps.boom.error?.message).toContain('card declined');
  });

  it('pauses at a write holding no job, refuses a stale hash, and resumes on approval', async ({ app }) => {
    const { run } = await app.engine.trigger('pay', { name: 'ada' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const cid = paused.steps.write.confirmationId!;
    const conf = await app.store.requireConfirmation(cid);
    expect(conf).toMatchObject({
      status: 'pending',
      connector: 'test',
      tool: 'record',
      arguments: { name: 'ada', value: 'ada' },
      runId: run.id,
      stepId: 'write',
      reason: 'write',
    });
    expect(conf.argumentsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(conf.description).toBeTruthy();
    expect(conf.annotations).toBeDefined();

    // While paused, nothing of the run is in any queue (the job that opened the gate ends a
    // moment after the run's status changes, so look until it has).
    const jobsOfRun = async () => {
      const all = await Promise.all(
        app.queues.all().map((q) => q.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused'])),
      );
      return all
        .flat()
        .filter((j) => j.data.runId === run.id)
        .map((j) => j.id);
    };
    await expect.poll(jobsOfRun, { timeout: 5000 }).toEqual([]);
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'ada')).toEqual([]);

    const stale = await app.engine.approve(cid, 'f'.repeat(64)).catch((e: unknown) => e);
    expect((stale as InterlockError).code).toBe('HASH_MISMATCH');
    await app.engine.approve(cid, conf.argumentsHash, { by: 'test' });
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    const calls = readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'ada');
    expect(calls).toHaveLength(1);
    expect(calls[0].idempotencyKey).toContain(run.id);
    const second = await app.engine.approve(cid, conf.argumentsHash).catch((e: unknown) => e);
    expect((second as InterlockError).code).toBe('ALREADY_DECIDED');
  });

  it('answers an approval with the record a read finds after it (made without reading it back)', async ({ app }) => {
    const { run } = await app.engine.trigger('pay', { name: 'lin' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const conf = await app.store.requireConfirmation(paused.steps.write.confirmationId!);
    const answered = await app.engine.approve(conf.id, conf.argumentsHash, { by: 'test', channel: 'api' });
    expect(answered).toMatchObject({ status: 'approved', decidedBy: 'test', channel: 'api' });
    expect(answered).toEqual(await app.store.requireConfirmation(conf.id));
    await waitForStatus(app, run.id, ['succeeded']);
  });

  it('a step job sent behind a decision that does not approve (another came first) calls nothing', async ({ app }) => {
    const { run } = await app.engine.trigger('pay', { name: 'trudy' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const conf = await app.store.requireConfirmation(paused.steps.write.confirmationId!);
    await app.engine.deny(conf.id, { by: 'test' });
    // As engine.approve sends it when the confirmation it read was still pending.
    const r = await app.store.decide(
      conf.id,
      'approve',
      { argumentsHash: conf.argumentsHash, by: 'late' },
      { enqueue: () => app.queues.enqueue(run.definition, run.id, run.session, 'write', conf.id) },
    );
    expect(r).toMatchObject({ outcome: 'decided', status: 'denied' });
    const jobId = `${run.id}.write.${conf.id}`;
    await expect.poll(async () => app.queues.get('test').getJob(jobId), { timeout: 5000 }).toBeUndefined();
    const done = await app.store.requireRun(run.id);
    expect(done.status).toBe('denied');
    expect(done.steps.write.status).toBe('denied');
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'trudy')).toEqual([]);
  });

  it('never calls the tool when the write is denied', async ({ app }) => {
    const { run } = await app.engine.trigger('pay', { name: 'mallory' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    await app.engine.deny(paused.steps.write.confirmationId!, { by: 'test' });
    const done = await waitForStatus(app, run.id, ['denied']);
    expect(done.steps.write.status).toBe('denied');
    await new Promise((r) => setTimeout(r, 300));
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'mallory')).toEqual([]);
  });

  it('remembers an approval for its session only', async ({ app }) => {
    const first = await app.engine.trigger('pay', { name: 'grace' }, { session: 'conv-1' });
    const p1 = await waitForStatus(app, first.run.id, ['awaiting_confirmation']);
    const c1 = await app.store.requireConfirmation(p1.steps.write.confirmationId!);
    await app.engine.approve(c1.id, c1.argumentsHash, { remember: 'session' });
    await waitForStatus(app, first.run.id, ['succeeded']);

    // "session" remembers the exact payload: the same call again in the session goes through.
    const again = await app.engine.trigger('pay', { name: 'grace' }, { session: 'conv-1' });
    const same = await waitForStatus(app, again.run.id, ['succeeded', 'awaiting_confirmation']);
    expect(same.status).toBe('succeeded');

    const other = await app.engine.trigger('pay', { name: 'grace' }, { session: 'conv-2' });
    const asked = await waitForStatus(app, other.run.id, ['succeeded', 'awaiting_confirmation']);
    expect(asked.status).toBe('awaiting_confirmation');
    await app.engine.cancel(other.run.id, 'test');
  });

  it('fails the run with a clear code when nobody decides in time', async ({ app }) => {
    await withConfirmationTtl(app, 200, async () => {
      const { run } = await app.engine.trigger('pay', { name: 'late' });
      const done = await waitForStatus(app, run.id, ['failed']);
      expect(done.error?.code).toBe('CONFIRMATION_EXPIRED');
      const conf = await app.store.requireConfirmation(done.steps.write.confirmationId!);
      expect(conf.status).toBe('expired');
      expect(readCalls(log).filter((c) => c.args.name === 'late' && c.tool === 'record')).toEqual([]);
    });
  });

  it('keeps later steps behind earlier commits under concurrency (the server’s own call order)', async ({ app }) => {
    const runs = await Promise.all(Array.from({ length: 30 }, (_, i) => app.engine.trigger('chain', { a: i, b: 1000 })));
    await Promise.all(runs.map(({ run }) => waitForStatus(app, run.id, ['succeeded'])));
    const calls = readCalls(log);
    for (let i = 0; i < 30; i++) {
      const add = calls.find((c) => c.tool === 'add' && c.args.a === i && c.args.b === 1000);
      const say = calls.find((c) => c.tool === 'echo' && c.args.text === `The sum of ${i + 1000} and 10 is ${i + 1010}.`);
      expect(add && say).toBeTruthy();
      expect(calls.indexOf(add!)).toBeLessThan(calls.indexOf(say!));
    }
  });

  it('pins the definition a run started with', async ({ app }) => {
    const { run } = await app.engine.trigger('pay', { name: 'pinned' });
    await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const original = app.config;
    const edited = structuredClone(original);
    edited.workflows.pay.steps[1].with = { name: 'changed', value: 'changed' };
    await app.source.set(edited);
    try {
      const r = await app.store.requireRun(run.id);
      const conf = await app.store.requireConfirmation(r.steps.write.confirmationId!);
      await app.engine.approve(conf.id, conf.argumentsHash);
      const done = await waitForStatus(app, run.id, ['succeeded']);
      expect(done.steps.write.arguments).toEqual({ name: 'pinned', value: 'pinned' });
    } finally {
      await app.source.set(original);
    }
  });
});
