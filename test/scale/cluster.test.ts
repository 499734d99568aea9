import { describe, expect } from 'vitest';
import type { ToolInfo } from '../../src/connectors/types.ts';
import { parseClusterNodes } from '../../src/runs/redis.ts';
import type { ConfirmationRecord, RunRecord } from '../../src/runs/records.ts';
import { PAY_WORKFLOW, callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { NAP_WORKFLOW } from '../helpers/workflows.ts';
import { clusterAppTest } from './cluster-rig.ts';

/**
 * Interlock on a real Redis Cluster (three masters started here), through the same wiring a
 * deployment uses: App.create with cluster nodes, the HTTP server, and the CLI reading
 * REDIS_CLUSTER_NODES. Every multi-key script, MULTI and BullMQ call must stay in one slot, or the
 * cluster answers CROSSSLOT; and pipelines over keys on different masters are refused by the client.
 */
const TOKENS = {
  reader: 'tok-cluster-reader-71',
  trigger: 'tok-cluster-trigger-72',
  approver: 'tok-cluster-approver-73',
  admin: 'tok-cluster-admin-74',
};
const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log, '\n    concurrency: 4')}
policy:
  confirmation_ttl: 1h
tokens:
  - { name: reader, token: "\${env:IL_CL_READER}", scopes: [read] }
  - { name: trigger, token: "\${env:IL_CL_TRIGGER}", scopes: [read, trigger] }
  - { name: approver, token: "\${env:IL_CL_APPROVER}", scopes: [read, confirm] }
  - { name: admin, token: "\${env:IL_CL_ADMIN}", scopes: [read, trigger, confirm, admin] }
workflows:
  chain:
    description: three reads, each reading the previous one's output
    inputs: { type: object, required: [a, b], properties: { a: { type: number }, b: { type: number } } }
    steps:
      - id: add
        call: test.add
        with: { a: "\${{ inputs.a }}", b: "\${{ inputs.b }}" }
      - id: twice
        call: test.add
        with: { a: "\${{ steps.add.output.sum }}", b: "\${{ steps.add.output.sum }}" }
      - id: say
        call: test.echo
        with: { text: "total \${{ steps.twice.output.sum }}" }
${NAP_WORKFLOW}
${PAY_WORKFLOW}
`;

const it = clusterAppTest(yaml, TOKENS);

describe('REDIS_CLUSTER_NODES', () => {
  it('takes host:port entries or URLs; credentials given once apply to every node and are never shown', () => {
    const t = parseClusterNodes(' 10.0.0.1:7000, redis://app:s3cr%40t@10.0.0.2:7001 ,[::1]:7002,node4');
    expect(t.nodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
      { host: 'node4', port: 6379 },
    ]);
    expect(t.redisOptions).toEqual({ username: 'app', password: 's3cr@t' });
    expect(t.describe).toBe('Redis Cluster (10.0.0.1:7000, 10.0.0.2:7001, [::1]:7002, node4:6379)');
    expect(parseClusterNodes('rediss://:pw@h:1').describe).toBe('Redis Cluster (h:1, TLS)');
    expect(parseClusterNodes('rediss://:pw@h:1').redisOptions).toEqual({ password: 'pw', tls: {} });
    expect(() => parseClusterNodes(' , ')).toThrow(/empty/);
    expect(() => parseClusterNodes('http://u:pw@h:1')).toThrow(/entry 1 must be/);
    let message = '';
    try {
      parseClusterNodes('h:1,redis://u:s3cret@h:99999');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/entry 2 is not/);
    expect(message).not.toContain('s3cret');
  });
});

describe('Redis Cluster: three masters, runs end to end', () => {
  it('connects through a cluster client and says so without credentials', async ({ app, cluster, server }) => {
    expect(app.redis.client.isCluster).toBe(true);
    expect(app.redis.describe).toBe(`Redis Cluster (${cluster.nodes.split(',').join(', ')})`);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  const chains: RunRecord[] = [];

  it('runs chains of reads, each step on whichever master holds its run', async ({ app }) => {
    const started = await Promise.all(Array.from({ length: 12 }, (_, i) => app.engine.trigger('chain', { a: i, b: 1 })));
    for (const [i, { run }] of started.entries()) {
      const done = await waitForStatus(app, run.id, ['succeeded', 'failed', 'needs_attention'], 20_000);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(done.steps.say.output).toEqual({ text: `total ${2 * (i + 1)}` });
      chains.push(done);
    }
  });

  it('follows a run with a blocking read on a duplicate cluster client (the CLI, from REDIS_CLUSTER_NODES)', async ({
    app,
    cli,
  }) => {
    const { stdout } = await cli([
      'run',
      'chain',
      '--input',
      'a=20',
      '--input',
      'b=1',
      '--wait',
      '--no-interactive',
      '--timeout',
      '20',
    ]);
    expect(stdout).toContain('step.succeeded');
    expect(stdout).toContain('total 42');
    const waited = await app.engine.waitFor(chains[0].id, { blocking: app.redis.duplicate(), timeoutMs: 1000 });
    expect(waited.status).toBe('succeeded');
  });

  it('pauses a gated write, lists it as pending, and calls the tool once approved', async ({ app, api, paused }) => {
    const { run, conf } = await paused('approve-me');
    const pending = (await (await api('/api/v1/confirmations?status=pending', 'reader')).json()) as {
      confirmations: ConfirmationRecord[];
    };
    expect(pending.confirmations.map((c) => c.id)).toContain(conf.id);
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'approve-me')).toEqual([]);
    // The event stream waits on a blocking XREAD (its own cluster client) and ends with the run.
    const sse = await api(`/api/v1/runs/${run.id}/events`, 'reader', { signal: AbortSignal.timeout(20_000) });
    expect(sse.status).toBe(200);
    const streamed = sse.text();
    const res = await api(`/api/v1/confirmations/${conf.id}/approve`, 'approver', {
      method: 'POST',
      json: { argumentsHash: conf.argumentsHash },
    });
    expect(res.status).toBe(200);
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed'], 20_000);
    expect(done.status).toBe('succeeded');
    const events = await streamed;
    for (const type of ['confirmation.requested', 'confirmation.approved', 'step.succeeded', 'run.succeeded'])
      expect(events).toContain(`"type":"${type}"`);
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'approve-me')).toHaveLength(1);
    const after = (await (await api('/api/v1/confirmations?status=pending', 'reader')).json()) as {
      confirmations: ConfirmationRecord[];
    };
    expect(after.confirmations.map((c) => c.id)).not.toContain(conf.id);
  });

  it('approves from the CLI too', async ({ app, cli, paused }) => {
    const { run, conf } = await paused('cli-approves');
    await cli(['approve', conf.id]);
    expect((await waitForStatus(app, run.id, ['succeeded', 'failed'], 20_000)).status).toBe('succeeded');
  });

  it('denies a gated write: the run ends denied and the tool is never called', async ({ app, api, paused }) => {
    const { run, conf } = await paused('deny-me');
    const res = await api(`/api/v1/confirmations/${conf.id}/deny`, 'approver', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const done = await waitForStatus(app, run.id, ['denied', 'succeeded', 'failed'], 20_000);
    expect(done.status).toBe('denied');
    const all = (await (await api('/api/v1/confirmations?limit=500', 'reader')).json()) as {
      confirmations: ConfirmationRecord[];
    };
    expect(all.confirmations.find((c) => c.id === conf.id)?.status).toBe('denied');
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'deny-me')).toEqual([]);
  });

  it('cancels a running run and one paused at a confirmation', async ({ app, api, paused }) => {
    const { run } = await app.engine.trigger('nap', { ms: 600_000, tag: 'never' });
    await waitForStatus(app, run.id, ['running'], 20_000);
    while (!readCalls(log).some((c) => c.tool === 'slow')) await new Promise((r) => setTimeout(r, 20));
    const res = await api(`/api/v1/runs/${run.id}/cancel`, 'trigger', { method: 'POST' });
    expect(res.status).toBe(200);
    await expect
      .poll(async () => (await app.store.readEvents(run.id)).map((e) => e.type), { timeout: 10_000 })
      .toContain('step.aborted');
    expect((await app.store.requireRun(run.id)).steps.after.status).toBe('pending');

    const { run: gated, conf } = await paused('cancel-me');
    expect((await app.engine.cancel(gated.id, 'test')).status).toBe('cancelled');
    expect((await app.store.requireConfirmation(conf.id)).status).toBe('cancelled');
    expect((await app.store.listConfirmations({ status: 'pending' })).confirmations.map((c) => c.id)).not.toContain(conf.id);
  });

  it('lists runs from the index with their records read from every master', async ({ api, server }) => {
    const page = (await (await api('/api/v1/runs?limit=100', 'reader')).json()) as { runs: RunRecord[] };
    const ids = new Set(page.runs.map((r) => r.id));
    for (const r of chains) expect(ids.has(r.id)).toBe(true);
    const byStatus = (s: string) => page.runs.filter((r) => r.status === s).length;
    expect(byStatus('succeeded')).toBe(chains.length + 3);
    expect(byStatus('denied')).toBe(1);
    expect(byStatus('cancelled')).toBe(2);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('interlock_runs{status="succeeded"} 15');
  });

  it('pins tools, keeps a changed definition for review, and approves it', async ({ app }) => {
    const tools = await app.pool.listTools('test');
    for (const t of tools) expect(['pinned', 'same']).toContain((await app.store.pins.observe(t)).status);
    const echo = tools.find((t) => t.name === 'echo') as ToolInfo;
    const changed = await app.store.pins.observe({ ...echo, description: 'Echoes, and also refunds everything.' });
    expect(changed.status).toBe('changed');
    expect(await app.store.pins.changedKeys()).toEqual(['test.echo']);
    const review = await app.store.pins.review('test', 'echo');
    const approved = await app.store.pins.approve('test', 'echo', review.pending!.hash, 'test');
    expect(approved.outcome).toBe('approved');
    expect(await app.store.pins.changedKeys()).toEqual([]);
  });

  it('shows the connector queue in bull-board', async ({ api }) => {
    const res = await api('/admin/queues/api/queues?activeQueue=test&status=latest&page=1&jobsPerPage=10', 'admin');
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as { queues: { name: string }[] };
    expect(queues.map((q) => q.name).sort()).toEqual(['awaiting-confirmation', 'test', 'triggers.schedules']);
  });

  it('spreads the keys over more than one master, each run whole on one of them', async ({ app, cluster }) => {
    const { prefix } = app;
    const masters = [cluster.node(0), cluster.node(1), cluster.node(2)];
    try {
      const perNode = await Promise.all(
        masters.map(async (m) => {
          const keys: string[] = [];
          let cursor = '0';
          do {
            const [next, batch] = await m.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
            cursor = next;
            keys.push(...batch);
          } while (cursor !== '0');
          return keys;
        }),
      );
      const runsOn = perNode.map((keys) => keys.filter((k) => k.startsWith(`${prefix}:run:`) && !k.endsWith(':events')).length);
      expect(runsOn.filter((n) => n > 0).length).toBeGreaterThan(1);
      for (const r of chains) {
        const holders = perNode.flatMap((keys, i) =>
          keys.includes(app.store.keys.run(r.id)) && keys.includes(app.store.keys.events(r.id)) ? [i] : [],
        );
        expect(holders).toHaveLength(1);
      }
      // The queue's keys all sit in one slot, so on one master.
      const queueOn = perNode.map((keys) => keys.filter((k) => k.startsWith(`${prefix}:q:{test}:test:`)).length);
      expect(queueOn.filter((n) => n > 0)).toHaveLength(1);
    } finally {
      for (const m of masters) m.disconnect();
    }
  });
});
