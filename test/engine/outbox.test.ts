import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestAPI, describe, expect, vi } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { Reconciler } from '../../src/worker/reconciler.ts';
import { stepJobId } from '../../src/worker/queues.ts';
import type { App } from '../../src/app.ts';
import { LOOK_WORKFLOW, PAY_WORKFLOW, callLogPath, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { clusterTest, openClusterApp } from '../helpers/cluster.ts';
import { openApp, test } from '../helpers/fixtures.ts';
import { httpStatus } from '../../src/server/status.ts';

// The workers these tests start run their reconciler only at start, so each pass here is the test's own.
process.env.INTERLOCK_RECONCILE_EVERY_MS = '3600000';

const yaml = `
connectors:${testConnectorYaml(callLogPath())}
policy:
  confirmation_ttl: 1h
workflows:
${LOOK_WORKFLOW}
${PAY_WORKFLOW}
`;

/** A test whose `app` (a fresh one each test, without workers until a test starts them) is on a single Redis or on a cluster. */
const onRedis = test.extend<{ app: App }>({ app: async ({ redis }, use) => openApp(redis, { yaml, workers: false }, use) });
const onCluster = clusterTest.extend<{ app: App }>({
  app: async ({ cluster }, use) => openClusterApp(cluster, { yaml, workers: false }, use),
});

/** Everything a test in this file checks, on a single Redis and on a cluster alike. */
function outboxSuite(kind: string, it: TestAPI<{ app: App }>) {
  const reconciler = (app: App) =>
    new Reconciler({ store: app.store, queues: app.queues, logger: silentLogger(), everyMs: 60_000 });
  const markerOf = async (app: App, runId: string) => (await app.store.getRunHash(runId))?.hash.ready;

  it(`${kind}: a trigger marks its first step ready with its run, and the reconciler enqueues a lost job once`, async ({
    app,
  }) => {
    const { run } = await app.engine.trigger('look', { name: 'x' });
    expect(await markerOf(app, run.id)).toBe('say');
    expect(await app.redis.client.zscore(app.store.keys.readyIndex(), run.id)).not.toBeNull();
    const q = app.queues.get('test');
    const id = stepJobId(run.id, 'say', '0');
    expect(await q.getJob(id)).toBeDefined();
    await q.remove(id);
    // Younger than the grace period: left to the fast path.
    expect((await reconciler(app).pass())?.enqueued).toEqual([]);
    await sleep(1100);
    const r = reconciler(app);
    expect((await r.pass())?.enqueued).toContain(id);
    expect(await q.getJob(id)).toBeDefined();
    // Looked at again only later; a second pass now enqueues nothing.
    expect((await r.pass())?.enqueued).toEqual([]);
    await app.startWorkers();
    expect((await waitForStatus(app, run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect(await markerOf(app, run.id)).toBeUndefined();
  });

  it(`${kind}: one pass at a time across processes`, async ({ app }) => {
    const token = 'someone-else';
    expect(await app.store.ready.takeLock(token, 10_000)).toBe(true);
    expect(await reconciler(app).pass()).toBeUndefined();
    await app.store.ready.releaseLock(token);
    expect(await reconciler(app).pass()).toBeDefined();
  });

  it(`${kind}: a pause indexes its confirmation with it, and a pass puts back one the index lost and expires one overdue`, async ({
    app,
  }) => {
    await app.startWorkers();
    const [one, two] = await Promise.all(['p1', 'p2'].map(async (name) => (await app.engine.trigger('pay', { name })).run.id));
    const [r1, r2] = await Promise.all([one, two].map((id) => waitForStatus(app, id, ['awaiting_confirmation'])));
    const c1 = r1.steps.write.confirmationId ?? '';
    const c2 = r2.steps.write.confirmationId ?? '';
    expect(await app.store.pendingIndexed(c1)).toBe(true);
    expect(await markerOf(app, one)).toBeUndefined();
    // Drift an earlier version could leave: c1 missing from the index, c2 past its deadline and unindexed too.
    const k = app.store.keys;
    await app.redis.client.zrem(k.pendingConfirmations(), c1, c2);
    await app.redis.client.hset(k.run(two), `c${c2.slice(c2.lastIndexOf('_') + 1)}:expiresAt`, String(Date.now() - 600_000));
    const pass = await reconciler(app).pass();
    expect(pass?.repaired.join('\n')).toContain(`${one} confirmation_not_indexed`);
    expect(pass?.repaired.join('\n')).toContain(`${two} confirmation_overdue`);
    expect(await app.store.pendingIndexed(c1)).toBe(true);
    expect((await app.store.requireRun(two)).status).toBe('failed');
    await app.engine.approve(c1, (await app.store.requireConfirmation(c1)).argumentsHash, { by: 'test' });
    expect((await waitForStatus(app, one, ['succeeded', 'failed'])).status).toBe('succeeded');
  });

  it(`${kind}: a pass's scan reads an ended run whole only when it was left a ready marker, and clears that marker`, async ({
    app,
  }) => {
    await app.startWorkers();
    const [done, stale] = await Promise.all(
      ['d1', 'd2'].map(async (name) => (await app.engine.trigger('look', { name })).run.id),
    );
    for (const id of [done, stale]) expect((await waitForStatus(app, id, ['succeeded', 'failed'])).status).toBe('succeeded');
    // A pass of the test's own, once the workers' first passes (at their start) have let the lock go,
    // so none of them finds the marker left below. Its clock a minute ahead, it also drops what the
    // ready index still holds for the two runs: on a cluster a marker's index entry is dropped by a
    // pass, not when the marker clears, and the pass measured below would otherwise read the run
    // whole (and clear the marker) for that entry, before its scan.
    while (!(await reconciler(app).pass(Date.now() + 60_000))) await sleep(20);
    // Drift: a marker left on an ended run, outside the ready index (only the scan finds it).
    await app.redis.client.hset(
      app.store.keys.run(stale),
      'ready',
      'say',
      'ready:gen',
      '0',
      'ready:at',
      String(Date.now() - 60_000),
    );
    const read = vi.spyOn(app.store, 'getRunHash');
    try {
      const pass = await reconciler(app).pass();
      expect(pass?.repaired.join('\n')).toContain(`${stale} ready_stale`);
      const whole = read.mock.calls.map(([id]) => id);
      expect(whole).toContain(stale);
      expect(whole).not.toContain(done);
    } finally {
      read.mockRestore();
    }
    expect(await markerOf(app, stale)).toBeUndefined();
  });

  it(`${kind}: an Idempotency-Key answers its run, refuses another body or caller, and a key left without its run writes it`, async ({
    app,
  }) => {
    await app.startWorkers();
    const key = `k-${randomUUID()}`;
    const first = await app.engine.trigger('look', { name: 'i' }, { idempotencyKey: key, principal: 'alice' });
    const again = await app.engine.trigger('look', { name: 'i' }, { idempotencyKey: key, principal: 'alice' });
    expect(again).toMatchObject({ created: false, run: { id: first.run.id } });
    for (const [inputs, opts] of [
      [{ name: 'other' }, { principal: 'alice' }],
      [{ name: 'i' }, { principal: 'bob' }],
      [{ name: 'i' }, { principal: 'alice', session: 's2' }],
    ] as const) {
      const err = await app.engine.trigger('look', inputs, { idempotencyKey: key, ...opts }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InterlockError);
      expect((err as InterlockError).code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(httpStatus(err as InterlockError)).toBe(422);
    }
    // A key whose run was never written (a crash between the two, or an earlier version's bare run id).
    const dangling = `k-${randomUUID()}`;
    await app.redis.client.set(app.store.keys.triggerIdempotency(`look:${dangling}`), 'rlost0000000000000000', 'EX', 60);
    const repaired = await app.engine.trigger('look', { name: 'd' }, { idempotencyKey: dangling });
    expect(repaired).toMatchObject({ created: false, run: { id: 'rlost0000000000000000' } });
    expect((await waitForStatus(app, 'rlost0000000000000000', ['succeeded', 'failed'])).status).toBe('succeeded');
  });
}

describe('the outbox of hand-offs on a single Redis', () => {
  outboxSuite('single Redis', onRedis);
});

describe('the outbox of hand-offs on a Redis Cluster', () => {
  outboxSuite('cluster', onCluster);
});
