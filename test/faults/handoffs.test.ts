import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { startStripeSandbox, type StripeSandbox } from '../../src/sandbox/stripe/index.ts';
import { callLogPath, readCalls, testConnectorYaml } from '../helpers/app.ts';
import { TestRedis, freePort } from '../helpers/redis.ts';
import { WorkerProcess } from '../helpers/processes.ts';
import { builtinConnectorYaml } from '../helpers/workflows.ts';

/*
 * One test per hand-off. A real `interlock serve` or `worker` process is started with a fail point
 * armed as `<point>@20`: each of 20 runs reaches the point right after the Redis write that hands
 * its step on, stays there, and at the 20th the process SIGKILLs itself, so all 20 are left
 * exactly between the write and the enqueue. The process under test runs its reconciler only at
 * start (INTERLOCK_RECONCILE_EVERY_MS very long), so nothing moves them before the kill. Then a
 * fresh `interlock worker` with the default settings starts, and every run must reach its
 * correct state, each charge refunded once in the Stripe sandbox.
 */
const RUNS = 20;
const log = callLogPath();
const yaml = `
connectors:${builtinConnectorYaml('stripe', '30s', '\n    concurrency: 25')}
${testConnectorYaml(log, '\n    concurrency: 25')}
policy:
  confirmation_ttl: 1h
  allow_unconfirmed: [direct.refund, doubt.refund, test.send]
workflows:
  direct:
    description: look the charge up, then refund 100 cents of it
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: charge
        call: stripe.retrieve_charge
        with: { charge_id: "\${{ inputs.charge }}" }
      - id: refund
        call: stripe.create_refund
        confirm: never
        with: { charge_id: "\${{ steps.charge.output.id }}", amount: 100 }
  gated:
    description: the same, with the refund confirmed by a person
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: charge
        call: stripe.retrieve_charge
        with: { charge_id: "\${{ inputs.charge }}" }
      - id: refund
        call: stripe.create_refund
        with: { charge_id: "\${{ steps.charge.output.id }}", amount: 100 }
  doubt:
    description: a message whose answer is lost (the step ends in doubt), then the refund
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: send
        call: test.send
        confirm: never
        timeout: 300ms
        with: { to: "\${{ inputs.charge }}", hangOnce: true, delayMs: 30000 }
      - id: refund
        call: stripe.create_refund
        confirm: never
        with: { charge_id: "\${{ inputs.charge }}", amount: 100 }
`;

interface Row {
  handoff: string;
  runs: number;
  stuck: number;
  twice: number;
  recoveredMs: number;
  reconciled: number;
}

describe("faults: a process killed right after each hand-off's Redis write strands no run", () => {
  const redis = new TestRedis();
  let sandbox: StripeSandbox;
  let file: string;
  const procs: WorkerProcess[] = [];
  const apps: App[] = [];
  const rows: Row[] = [];
  let nextCharge = 100;

  beforeAll(async () => {
    await redis.start();
    sandbox = await startStripeSandbox({ port: 0 });
    file = join(mkdtempSync(join(tmpdir(), 'interlock-handoffs-')), 'workflows.yaml');
    writeFileSync(file, yaml);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await Promise.all(apps.map((a) => a.close()));
    await sandbox?.close();
    await redis.stop();
    if (rows.length) {
      console.log(
        [
          'test:faults — hand-offs killed right after their Redis write (20 runs each)',
          ...rows.map(
            (r) =>
              `  ${r.handoff.padEnd(14)} runs ${r.runs}  stuck ${r.stuck}  writes sent twice ${r.twice}  ` +
              `settled ${(r.recoveredMs / 1000).toFixed(1)} s after the fresh worker was ready  (steps the reconciler enqueued: ${r.reconciled})`,
          ),
        ].join('\n'),
      );
    }
  });

  /** An App in the test process (no workers) on its own prefix, a process env for it, 20 fresh charges. */
  async function setup(tag: string) {
    const prefix = `h${tag}${Date.now().toString(36)}`;
    const app = await App.create({ configFile: file, redisUrl: redis.url, prefix, logger: silentLogger() });
    apps.push(app);
    const env = { REDIS_URL: redis.url, INTERLOCK_CONFIG: file, INTERLOCK_PREFIX: prefix, INTERLOCK_STRIPE_API_URL: sandbox.url };
    const charges = Array.from({ length: RUNS }, () => `ch_seed_${nextCharge++}`);
    return { app, env, charges };
  }

  /** The process under test: the fail point armed for 20 hits, its reconciler only at start. */
  async function doomed(
    command: 'worker' | 'serve',
    env: Record<string, string>,
    point: string,
  ): Promise<{ p: WorkerProcess; url: string }> {
    const port = await freePort();
    const p = new WorkerProcess(
      { ...env, INTERLOCK_FAILPOINTS: `${point}@${RUNS}`, INTERLOCK_RECONCILE_EVERY_MS: '3600000', PORT: String(port) },
      command,
    );
    procs.push(p);
    await p.start();
    return { p, url: `http://127.0.0.1:${port}` };
  }

  async function triggerEach(app: App, workflow: string, charges: string[]): Promise<string[]> {
    return Promise.all(charges.map(async (charge) => (await app.engine.trigger(workflow, { charge })).run.id));
  }

  async function runs(app: App, ids: string[]): Promise<RunRecord[]> {
    return Promise.all(ids.map((id) => app.store.requireRun(id)));
  }

  async function waitAll(app: App, ids: string[], ok: (r: RunRecord) => boolean, timeoutMs = 60_000): Promise<RunRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rs = await runs(app, ids);
      if (rs.every(ok) || Date.now() > deadline) return rs;
      await sleep(100);
    }
  }

  const refundsOf = (charge: string) => Object.values(sandbox.state().refunds).filter((r) => r.charge === charge).length;

  /** After the kill: a fresh worker with default settings; every run must reach `ok`. */
  async function recover(
    handoff: string,
    app: App,
    env: Record<string, string>,
    ids: string[],
    charges: string[],
    ok: (r: RunRecord) => boolean,
    then?: () => Promise<void>,
  ): Promise<RunRecord[]> {
    const fresh = new WorkerProcess(env);
    procs.push(fresh);
    await fresh.start();
    const t0 = Date.now();
    await then?.();
    const rs = await waitAll(app, ids, ok);
    const recoveredMs = Date.now() - t0;
    const stuck = rs.filter((r) => !ok(r));
    const twice = charges.filter((c) => refundsOf(c) > 1).length;
    const reconciled = [...fresh.output.matchAll(/reconciler: enqueued (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    rows.push({ handoff, runs: rs.length, stuck: stuck.length, twice, recoveredMs, reconciled });
    expect(stuck.map((r) => `${r.id} ${r.status} ${JSON.stringify(r.steps)}`)).toEqual([]);
    expect(twice).toBe(0);
    for (const c of charges) expect(refundsOf(c), c).toBe(1);
    await fresh.terminate();
    return rs;
  }

  /** What every test checks right after the kill: the process died at its fail point and no refund went out. */
  async function died(p: WorkerProcess, charges: string[]): Promise<void> {
    expect(await p.exited).toBe('SIGKILL');
    expect(p.output).toContain('fail point');
    expect(charges.map(refundsOf).reduce((a, b) => a + b, 0)).toBe(0);
  }

  it('trigger: a run written but not enqueued runs, and its Idempotency-Key names it (after-create-run)', async () => {
    const { app, env, charges } = await setup('trig');
    const { p, url } = await doomed('serve', env, 'after-create-run');
    const post = (base: string, charge: string, inputs: Record<string, unknown> = { charge }) =>
      fetch(`${base}/api/v1/workflows/direct/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `key-${charge}` },
        body: JSON.stringify({ inputs }),
      });
    const answers = await Promise.allSettled(charges.map((c) => post(url, c)));
    await died(p, charges);
    expect(answers.every((a) => a.status === 'rejected')).toBe(true);
    const { runs: written } = await app.store.listRuns({ workflow: 'direct', limit: 100 });
    expect(written.length).toBe(RUNS);
    expect(written.every((r) => r.status === 'queued')).toBe(true);
    const ids = written.map((r) => r.id);
    await recover('trigger', app, env, ids, charges, (r) => r.status === 'succeeded');

    // Every key names the run it wrote: a retry answers it (not a 404), and another body is refused.
    const port = await freePort();
    const server = new WorkerProcess({ ...env, PORT: String(port) }, 'serve');
    procs.push(server);
    await server.start();
    const byCharge = new Map(written.map((r) => [r.inputs.charge as string, r.id]));
    for (const c of charges) {
      const res = await post(`http://127.0.0.1:${port}`, c);
      expect(res.status).toBe(200);
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      expect(((await res.json()) as RunRecord).id).toBe(byCharge.get(c));
    }
    const other = await post(`http://127.0.0.1:${port}`, charges[0], { charge: charges[1] });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await server.terminate();
    for (const c of charges) expect(refundsOf(c)).toBe(1);
  }, 180_000);

  it('approve: an approval recorded but not enqueued is carried out once (after-decide)', async () => {
    const { app, env, charges } = await setup('appr');
    const { p, url } = await doomed('serve', env, 'after-decide');
    const ids = await triggerEach(app, 'gated', charges);
    const paused = await waitAll(app, ids, (r) => r.status === 'awaiting_confirmation');
    const confs = await Promise.all(paused.map((r) => app.store.requireConfirmation(r.steps.refund.confirmationId ?? '')));
    await Promise.allSettled(
      confs.map((c) =>
        fetch(`${url}/api/v1/confirmations/${c.id}/approve`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ argumentsHash: c.argumentsHash }),
        }),
      ),
    );
    await died(p, charges);
    const left = await runs(app, ids);
    expect(left.every((r) => r.status === 'running' && r.steps.refund.status === 'pending')).toBe(true);
    await recover('approve', app, env, ids, charges, (r) => r.status === 'succeeded');
  }, 180_000);

  it('commit → next: a step committed before its successor was enqueued is followed (after-commit)', async () => {
    const { app, env, charges } = await setup('comm');
    const { p } = await doomed('worker', env, 'after-commit');
    const ids = await triggerEach(app, 'direct', charges);
    await died(p, charges);
    const left = await runs(app, ids);
    expect(left.every((r) => r.steps.charge.status === 'succeeded' && r.steps.refund.status === 'pending')).toBe(true);
    await recover('commit → next', app, env, ids, charges, (r) => r.status === 'succeeded');
  }, 180_000);

  it('open gate: a run paused by a process that died is listed, pending and approvable (after-open-gate)', async () => {
    const { app, env, charges } = await setup('gate');
    const { p } = await doomed('worker', env, 'after-open-gate');
    const ids = await triggerEach(app, 'gated', charges);
    await died(p, charges);
    const paused = await runs(app, ids);
    expect(paused.every((r) => r.status === 'awaiting_confirmation')).toBe(true);
    const { confirmations } = await app.store.listConfirmations({ status: 'pending', limit: 100 });
    const listed = new Set(confirmations.map((c) => c.runId));
    expect(ids.filter((id) => !listed.has(id))).toEqual([]);
    await recover(
      'open gate',
      app,
      env,
      ids,
      charges,
      (r) => r.status === 'succeeded',
      async () => {
        for (const c of confirmations) await app.engine.approve(c.id, c.argumentsHash, { by: 'test' });
      },
    );
  }, 180_000);

  it('resolve: a step resolved by an operator moves on once, and the doubtful write is not sent again (after-resolve)', async () => {
    const { app, env, charges } = await setup('reso');
    const { p, url } = await doomed('serve', env, 'after-resolve');
    const ids = await triggerEach(app, 'doubt', charges);
    const doubtful = await waitAll(app, ids, (r) => r.status === 'needs_attention');
    expect(doubtful.every((r) => r.steps.send.status === 'in_doubt')).toBe(true);
    await Promise.allSettled(
      ids.map((id) =>
        fetch(`${url}/api/v1/runs/${id}/steps/send/resolve`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ action: 'done', output: { sent: 1 }, reason: 'seen in the mail log' }),
        }),
      ),
    );
    await died(p, charges);
    const left = await runs(app, ids);
    expect(
      left.every((r) => r.status === 'running' && r.steps.send.status === 'succeeded' && r.steps.refund.status === 'pending'),
    ).toBe(true);
    await recover('resolve', app, env, ids, charges, (r) => r.status === 'succeeded');
    const sends = readCalls(log).filter((c) => c.tool === 'send');
    for (const c of charges) expect(sends.filter((s) => s.args.to === c).length, c).toBe(1);
  }, 180_000);

  it('unblock: runs paused at a changed tool continue once it is approved (after-unblock)', async () => {
    const { app, env, charges } = await setup('unbl');
    // The refund tool was first seen with another definition: the real one is a change to review.
    await app.store.pins.observe({
      connector: 'stripe',
      name: 'create_refund',
      description: 'Refunds a charge (as first pinned)',
      inputSchema: { type: 'object' },
      annotations: { idempotentHint: true },
    });
    const { p, url } = await doomed('serve', env, 'after-unblock');
    const ids = await triggerEach(app, 'direct', charges);
    const blocked = await waitAll(app, ids, (r) => r.status === 'needs_attention');
    expect(blocked.every((r) => r.error?.code === 'TOOL_CHANGED')).toBe(true);
    const pin = (await (await fetch(`${url}/api/v1/connectors/stripe/tools/create_refund/pin`)).json()) as {
      pending: { hash: string };
    };
    await fetch(`${url}/api/v1/connectors/stripe/tools/create_refund/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hash: pin.pending.hash }),
    }).catch(() => undefined);
    await died(p, charges);
    const left = await runs(app, ids);
    expect(left.every((r) => r.status === 'running' && r.steps.refund.status === 'pending')).toBe(true);
    await recover('unblock', app, env, ids, charges, (r) => r.status === 'succeeded');
  }, 180_000);
});
