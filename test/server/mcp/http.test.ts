import { describe, expect } from 'vitest';
import { loadConfigFromString } from '../../../src/workflows/load.ts';
import { callLogPath, readCalls, waitForStatus } from '../../helpers/app.ts';
import { approve, connectClient, decline, facadeYaml, routeTest, serveRoute } from './helpers.ts';

const log = callLogPath();
const it = routeTest(facadeYaml({ log }));

describe('MCP facade over streamable HTTP: workflows from a chat client, writes confirmed by a person', () => {
  const writes = () => readCalls(log).filter((c) => c.tool === 'record');

  it('lists the built-in tools and one tool per exposed workflow, each honest about what it does', async ({ app, srv }) => {
    const c = await connectClient(srv.url);
    try {
      const { tools } = await c.client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t]));
      expect([...byName.keys()].sort()).toEqual(['get_run', 'greet', 'list_workflows', 'pay', 'run_workflow']);
      expect(byName.get('get_run')?.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get('list_workflows')?.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get('run_workflow')?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      expect(byName.get('pay')?.annotations?.readOnlyHint).toBe(false);
      expect(byName.get('pay')?.inputSchema).toEqual(app.config.workflows.pay.inputs);
      for (const t of tools) {
        expect(t.outputSchema?.type, t.name).toBe('object');
        expect(t.description?.length, t.name).toBeGreaterThan(80);
      }
      expect(byName.get('run_workflow')?.description).toMatch(/^Starts a durable run/);
      expect(byName.get('greet')?.description).toContain('text (string, required): what to say');

      const listed = await c.client.callTool({ name: 'list_workflows', arguments: {} });
      const names = (listed.structuredContent as { workflows: Array<{ name: string; tool?: string }> }).workflows;
      expect(names).toContainEqual(expect.objectContaining({ name: 'nap' }));
      expect(names).toContainEqual(expect.objectContaining({ name: 'pay', tool: 'pay' }));
    } finally {
      await c.close();
    }
  });

  it('runs a read-only workflow and answers with its result in the same call', async ({ app, srv }) => {
    const c = await connectClient(srv.url);
    try {
      const { result, view } = await c.call('run_workflow', { workflow: 'greet', inputs: { text: 'hello' } });
      expect(result.isError).toBeFalsy();
      expect(view).toMatchObject({ workflow: 'greet', status: 'succeeded', done: true });
      expect(view.steps).toEqual([
        expect.objectContaining({ id: 'say', call: 'test.echo', status: 'succeeded', output: { text: 'hello' } }),
      ]);
      const run = await app.store.requireRun(view.runId);
      expect(run.session).toBe(`mcp-${c.transport.sessionId}`);
    } finally {
      await c.close();
    }
  });

  it('asks the person through elicitation, approves exactly the shown hash, and finishes the run in the same call', async ({
    app,
    srv,
  }) => {
    const before = writes().length;
    const c = await connectClient(srv.url, { elicit: approve() });
    try {
      const { view } = await c.call('pay', { name: 'ada', amount: 42 });
      expect(view.status).toBe('succeeded');
      expect(c.asked).toHaveLength(1);
      const message = c.asked[0].params.message;
      const conf = await app.store.requireConfirmation((await app.store.requireRun(view.runId)).steps.write.confirmationId ?? '');
      expect(message).toContain('Connector: test');
      expect(message).toContain('Tool: record');
      expect(message).toContain(JSON.stringify({ name: 'ada', value: { amount: 42 } }, null, 2));
      expect(message).toContain(`argumentsHash: ${conf.argumentsHash}`);
      expect(conf).toMatchObject({ status: 'approved', decidedBy: 'local', channel: 'mcp-elicitation' });
      const params = c.asked[0].params;
      if (!('requestedSchema' in params)) throw new Error('expected a form elicitation');
      expect(Object.keys(params.requestedSchema.properties).sort()).toEqual([
        'decision',
        'remember',
        'remember_fields',
        'remember_for',
      ]);
      for (const p of Object.values(params.requestedSchema.properties)) expect(['string', 'boolean']).toContain(p.type);
      expect(writes().length - before).toBe(1);
      expect(writes().at(-1)?.args).toEqual({ name: 'ada', value: { amount: 42 } });
    } finally {
      await c.close();
    }
  });

  it('denies the write when the person declines: the run ends denied and the tool is never called', async ({ srv }) => {
    const before = writes().length;
    const c = await connectClient(srv.url, { elicit: decline });
    try {
      const { view, result } = await c.call('run_workflow', { workflow: 'pay', inputs: { name: 'bob', amount: 7 } });
      expect(view.status).toBe('denied');
      expect(view.steps.find((s) => s.id === 'write')?.status).toBe('denied');
      expect(result.content).toContainEqual(expect.objectContaining({ type: 'text', text: expect.stringContaining('denied') }));
      expect(writes().length).toBe(before);
    } finally {
      await c.close();
    }
  });

  it('leaves the write pending when the elicitation gets no usable answer, and says where else to decide', async ({
    app,
    srv,
  }) => {
    const before = writes().length;
    const c = await connectClient(srv.url, { elicit: () => ({ action: 'accept', content: { remember: true } }) });
    try {
      const { view } = await c.call('pay', { name: 'ian', amount: 8 });
      expect(c.asked).toHaveLength(1);
      expect(view.status).toBe('awaiting_confirmation');
      expect(view.confirmation?.status).toBe('pending');
      expect(view.next).toContain('stays pending');
      expect(writes().length).toBe(before);
      await app.engine.deny(view.confirmation?.id ?? '', { by: 'test-person' });
    } finally {
      await c.close();
    }
  });

  it('gives a client without elicitation the pending confirmation; the run waits until a person approves elsewhere', async ({
    app,
    srv,
  }) => {
    const before = writes().length;
    const c = await connectClient(srv.url);
    try {
      const { view } = await c.call('pay', { name: 'cy', amount: 3 });
      expect(view.status).toBe('awaiting_confirmation');
      const conf = view.confirmation;
      expect(conf).toMatchObject({
        connector: 'test',
        tool: 'record',
        status: 'pending',
        arguments: { name: 'cy', value: { amount: 3 } },
        approveUrl: `${srv.origin}/ui/confirmations/${conf?.id}`,
        approveCommand: `npx interlock approve ${conf?.id}`,
      });
      expect(conf?.argumentsHash).toMatch(/\w{8,}/);
      expect(writes().length).toBe(before);

      await app.engine.approve(conf?.id ?? '', conf?.argumentsHash ?? '', { by: 'test-person' });
      await waitForStatus(app, view.runId, ['succeeded']);
      const { view: later } = await c.call('get_run', { runId: view.runId });
      expect(later).toMatchObject({ status: 'succeeded', done: true });
      expect(later.confirmation).toBeUndefined();
      expect(writes().length - before).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('"remember for this conversation" covers the next matching write in the same MCP session, and no other session', async ({
    app,
    srv,
  }) => {
    const a = await connectClient(srv.url, { elicit: approve(true) });
    const b = await connectClient(srv.url, { elicit: approve(false) });
    try {
      expect((await a.call('pay', { name: 'dee', amount: 1 })).view.status).toBe('succeeded');
      expect(a.asked).toHaveLength(1);
      // "Remember" in a form is the exact payload: the same call again goes through.
      const second = await a.call('pay', { name: 'dee', amount: 1 });
      expect(second.view.status).toBe('succeeded');
      expect(a.asked).toHaveLength(1);
      const events = await app.store.readEvents(second.view.runId);
      expect(events.map((e) => e.type)).toContain('confirmation.remembered');

      // A label from the model stays inside this session, so the grant does not reach it either.
      const labelled = await a.call('run_workflow', {
        workflow: 'pay',
        inputs: { name: 'dee', amount: 3 },
        session: 'side-task',
      });
      expect(labelled.view.status).toBe('succeeded');
      expect(a.asked).toHaveLength(2);
      expect((await app.store.requireRun(labelled.view.runId)).session).toBe(`mcp-${a.transport.sessionId}:side-task`);

      expect((await b.call('pay', { name: 'dee', amount: 4 })).view.status).toBe('succeeded');
      expect(b.asked).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('answers a long run with its id and status for polling, or with progress when the client asked for it', async ({ app }) => {
    const quick = await serveRoute(app, { facade: { waitMs: 300 } });
    const c = await connectClient(quick.url);
    try {
      const { view } = await c.call('run_workflow', { workflow: 'nap', inputs: { ms: 1500 } });
      expect(['queued', 'running']).toContain(view.status);
      expect(view.done).toBe(false);
      expect(view.next).toContain('get_run');
      await waitForStatus(app, view.runId, ['succeeded']);
      expect((await c.call('get_run', { runId: view.runId })).view.status).toBe('succeeded');

      const progress: string[] = [];
      const res = await c.client.callTool(
        { name: 'run_workflow', arguments: { workflow: 'nap', inputs: { ms: 800 } } },
        undefined,
        {
          onprogress: (p) => progress.push(p.message ?? ''),
          resetTimeoutOnProgress: true,
        },
      );
      expect((res.structuredContent as { status: string }).status).toBe('succeeded');
      expect(progress).toContain('step.started (step sleep)');
    } finally {
      await c.close();
      await quick.close();
    }
  });

  it("describes a workflow tool as non-destructive once the connector's catalog shows no destructive write", async ({ srv }) => {
    const c = await connectClient(srv.url);
    try {
      // Earlier tests ran steps, so the pool has listed the test server's tools by now.
      const pay = (await c.client.listTools()).tools.find((t) => t.name === 'pay');
      expect(pay?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
      expect(pay?.description).toContain('test.record (a write: asks a person first)');
    } finally {
      await c.close();
    }
  });

  it('answers bad calls without starting anything: unknown workflow, invalid inputs, unknown run', async ({ srv }) => {
    const c = await connectClient(srv.url);
    try {
      const unknown = await c.call('run_workflow', { workflow: 'nope', inputs: {} });
      expect(unknown.result.isError).toBe(true);
      expect(JSON.stringify(unknown.result.content)).toContain("No workflow named 'nope'");
      const invalid = await c.call('pay', { name: 'x', amount: 'lots' });
      expect(invalid.result.isError).toBe(true);
      expect(JSON.stringify(invalid.result.content)).toContain('amount');
      const missing = await c.call('get_run', { runId: 'rnothere' });
      expect(missing.result.isError).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('tells open sessions that the tool list changed when a reload exposes a workflow', async ({ app, srv }) => {
    const c = await connectClient(srv.url);
    const original = app.engine.currentConfig;
    try {
      const next = loadConfigFromString(
        facadeYaml({
          log,
          extra: `  tell-customer:\n    description: Tell a customer something\n    expose: true\n    inputs: { type: object }\n    steps:\n      - { id: say, call: test.echo, with: { text: hi } }\n`,
        }),
        original.file,
      );
      await expect.poll(() => srv.getStreams.has(c.transport.sessionId ?? '')).toBe(true);
      await app.source.set(next);
      await expect.poll(() => c.listChanged).toBeGreaterThan(0);
      const { tools } = await c.client.listTools();
      expect(tools.map((t) => t.name)).toContain('tell-customer');
      const { view } = await c.call('tell-customer', {});
      expect(view.status).toBe('succeeded');
    } finally {
      await app.source.set(original);
      await c.close();
    }
  });
});
