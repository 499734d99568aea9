/**
 * What a run paused at a gate costs: Redis bytes (INFO used_memory before and after many runs
 * pause, with a per-key breakdown from MEMORY USAGE) and worker memory (RSS, and heap after a
 * full GC, which is what the worker actually keeps). Then approve → call: runs paused for it, approved over
 * HTTP and in process.
 */
import type { Redis } from 'ioredis';
import { openJobs, usedMemory, type BenchContext } from '../lib/context.ts';
import type { Child } from '../lib/procs.ts';
import { mapLimit, round, summarize, wallNow, type Summary } from '../lib/stats.ts';
import { queuePrefix } from '../../src/worker/queues.ts';

export interface PausedResult {
  runs: number;
  secondsToPauseAll: number;
  redis: {
    usedMemoryBefore: number;
    usedMemoryAfter: number;
    bytesPerRun: number;
    keysPerRun: number;
    /** MEMORY USAGE per paused run, by what holds it */
    perRun: Record<string, number>;
    /** the same run data stored other ways, measured on copies (see layouts) */
    whatIf: Record<string, number>;
  };
  worker: { rssBefore: number; rssAfter: number; heapUsedBefore: number; heapUsedAfter: number; heapBytesPerRun: number };
  openJobsAfter: number;
  /** runs waiting in `sleep`: what they hold (a delayed job each, nothing active or waiting, no worker heap) */
  sleeping?: SleepingResult;
}

export interface SleepingResult {
  runs: number;
  secondsToSleepAll: number;
  /** flow-queue jobs in wait, active or prioritized once every run sleeps */
  activeOrWaiting: number;
  delayed: number;
  /** INFO used_memory before and after, per sleeping run (run hash, events, its delayed job, its ready marker) */
  redisBytesPerRun: number;
  worker: { rssBefore: number; rssAfter: number; heapUsedBefore: number; heapUsedAfter: number };
  heapBytesPerRun: number;
}

/** Runs paused (or put to sleep) before the baseline is taken: the worker's first use, not per run. */
const WARM_RUNS = 100;

async function memoryUsage(r: Redis, key: string): Promise<number> {
  return Number((await r.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
}

async function sumMatching(r: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let total = 0;
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) total += await memoryUsage(r, k);
  } while (cursor !== '0');
  return total;
}

export async function measurePaused(ctx: BenchContext, worker: Child, runs: number): Promise<PausedResult> {
  const { admin, app } = ctx;
  const k = app.store.keys;
  const indexKeys = { runsIndex: k.runsIndex(), pendingIndex: k.pendingConfirmations() };
  const queuePattern = `${queuePrefix(app.queues.prefix, 'test')}:test:*`;
  const sizes = async () => ({
    ...Object.fromEntries(
      await Promise.all(Object.entries(indexKeys).map(async ([n, key]) => [n, await memoryUsage(admin, key)] as const)),
    ),
    queueKeys: await sumMatching(admin, queuePattern),
  });

  // A worker's first runs load and compile what every later run reuses (modules, schemas, the
  // connector's session): paused before the baseline, so the figures are per run, not start-up.
  await pauseRuns(ctx, 'gated', WARM_RUNS, 'paused-warm');
  while ((await openJobs(ctx)) > 0) await new Promise((r) => setTimeout(r, 50));
  const pending0 = await admin.zcard(indexKeys.pendingIndex);
  const keys0 = await admin.dbsize();
  const sizes0 = await sizes();
  const w0 = await worker.probe();
  const used0 = await usedMemory(admin);

  const t0 = performance.now();
  const runIds = await mapLimit(
    Array.from({ length: runs }, (_, i) => i),
    100,
    async (i) => (await app.engine.trigger('gated', { text: `paused-${i}` })).run.id,
  );
  const deadline = Date.now() + 300_000;
  while ((await admin.zcard(indexKeys.pendingIndex)) < pending0 + runs) {
    if (Date.now() > deadline) throw new Error('paused runs did not all reach their gate');
    await new Promise((r) => setTimeout(r, 100));
  }
  const secondsToPauseAll = (performance.now() - t0) / 1000;
  while ((await openJobs(ctx)) > 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));

  const used1 = await usedMemory(admin);
  const w1 = await worker.probe();
  const keys1 = await admin.dbsize();
  const sizes1 = await sizes();
  const sample = runIds.filter((_, i) => i % Math.max(1, Math.floor(runs / 50)) === 0);
  let hash = 0;
  let events = 0;
  for (const id of sample) {
    hash += await memoryUsage(admin, k.run(id));
    events += await memoryUsage(admin, k.events(id));
  }
  const perRun: Record<string, number> = {
    runHash: round(hash / sample.length, 0),
    eventsStream: round(events / sample.length, 0),
  };
  for (const n of Object.keys(sizes1) as (keyof typeof sizes1)[]) perRun[n] = round((sizes1[n] - sizes0[n]) / runs, 1);
  const whatIf = await layouts(
    admin,
    sample.slice(0, 20).map((id) => [k.run(id), k.events(id)] as const),
  );

  return {
    runs,
    secondsToPauseAll: round(secondsToPauseAll, 2),
    redis: {
      usedMemoryBefore: used0,
      usedMemoryAfter: used1,
      bytesPerRun: round((used1 - used0) / runs, 0),
      keysPerRun: round((keys1 - keys0) / runs, 2),
      perRun,
      whatIf,
    },
    worker: {
      rssBefore: w0.rss,
      rssAfter: w1.rss,
      heapUsedBefore: w0.heapUsed,
      heapUsedAfter: w1.heapUsed,
      heapBytesPerRun: round((w1.heapUsed - w0.heapUsed) / runs, 1),
    },
    openJobsAfter: await openJobs(ctx),
    sleeping: await measureSleeping(ctx, worker, runs),
  };
}

/**
 * Runs that sleep hold a delayed job and a ready marker due at their time, and nothing in a worker:
 * no job in active or waiting, and the worker's heap after a full GC does not grow with them.
 */
async function measureSleeping(ctx: BenchContext, worker: Child, runs: number): Promise<SleepingResult> {
  const flow = ctx.app.queues.get('flow');
  await putToSleep(ctx, WARM_RUNS, 'sleeping-warm', (await flow.getJobCounts('delayed')).delayed ?? 0);
  const delayed0 = (await flow.getJobCounts('delayed')).delayed ?? 0;
  const w0 = await worker.probe();
  const used0 = await usedMemory(ctx.admin);
  const t0 = performance.now();
  await putToSleep(ctx, runs, 'sleeping', delayed0);
  const secondsToSleepAll = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const w1 = await worker.probe();
  const used1 = await usedMemory(ctx.admin);
  const c = await flow.getJobCounts('wait', 'active', 'prioritized', 'delayed');
  return {
    runs,
    secondsToSleepAll: round(secondsToSleepAll, 2),
    activeOrWaiting: (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0),
    delayed: (c.delayed ?? 0) - delayed0,
    redisBytesPerRun: round((used1 - used0) / runs, 0),
    worker: { rssBefore: w0.rss, rssAfter: w1.rss, heapUsedBefore: w0.heapUsed, heapUsedAfter: w1.heapUsed },
    heapBytesPerRun: round((w1.heapUsed - w0.heapUsed) / runs, 1),
  };
}

/** Starts `runs` runs of `sleeping` and waits until each holds a delayed job and none is active or waiting. */
async function putToSleep(ctx: BenchContext, runs: number, tag: string, delayedBefore: number): Promise<void> {
  const flow = ctx.app.queues.get('flow');
  await mapLimit(
    Array.from({ length: runs }, (_, i) => i),
    100,
    async (i) => (await ctx.app.engine.trigger('sleeping', { text: `${tag}-${i}` })).run.id,
  );
  const deadline = Date.now() + 300_000;
  for (;;) {
    const c = await flow.getJobCounts('wait', 'active', 'prioritized', 'delayed');
    if ((c.delayed ?? 0) >= delayedBefore + runs && (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`sleeping runs did not all go to sleep: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Copies sample runs into scratch keys under other layouts and measures them, so proposals for
 * the store come with figures: the run hash as a listpack (hash-max-listpack-value raised); the
 * events as a stream with small nodes
 * (stream-node-max-bytes 512, since Redis preallocates 4 KB per new stream node) or as a list.
 * The config is restored afterwards.
 */
async function layouts(r: Redis, keys: (readonly [string, string])[]): Promise<Record<string, number>> {
  const cfg = async (name: string): Promise<string> => ((await r.config('GET', name)) as string[])[1];
  const oldHash = await cfg('hash-max-listpack-value');
  const oldNode = await cfg('stream-node-max-bytes');
  const sums = { hashListpack: 0, eventsStreamSmallNodes: 0, eventsList: 0 };
  const tmp = `bench:layout:${process.pid}`;
  try {
    await r.config('SET', 'hash-max-listpack-value', '4096');
    await r.config('SET', 'stream-node-max-bytes', '512');
    for (const [runKey, evKey] of keys) {
      const h = await r.hgetall(runKey);
      await r.del(tmp);
      await r.hset(tmp, h);
      sums.hashListpack += await memoryUsage(r, tmp);
      await r.del(tmp);
      const entries = await r.xrange(evKey, '-', '+');
      for (const [, fields] of entries) await r.xadd(tmp, '*', ...fields);
      sums.eventsStreamSmallNodes += await memoryUsage(r, tmp);
      await r.del(tmp);
      if (entries.length) await r.rpush(tmp, ...entries.map(([id, fields]) => JSON.stringify([id, fields])));
      sums.eventsList += await memoryUsage(r, tmp);
      await r.del(tmp);
    }
  } finally {
    await r.config('SET', 'hash-max-listpack-value', oldHash);
    await r.config('SET', 'stream-node-max-bytes', oldNode);
    await r.del(tmp);
  }
  return Object.fromEntries(Object.entries(sums).map(([n, v]) => [n, round(v / keys.length, 0)]));
}

export interface ApproveResult {
  approvals: number;
  /** POST /api/v1/confirmations/{id}/approve (what a person's page or client sends) → the call at the server */
  httpApproveToCallMs: Summary;
  /** how long the route took to answer 200 */
  httpResponseMs: Summary;
  /** engine.approve() in process → the call at the server */
  approveToCallMs: Summary;
  /** how long engine.approve itself took to return */
  approveReturnMs: Summary;
  /**
   * Over stdio, from the worker's trace (bench/lib/trace.ts): BullMQ's blocking connection woken by
   * the approved step's job → the call written to the server's pipe, the part of it the worker
   * spent waiting on Redis (taking the job, loading the step, recording its start: each write
   * answered after the AOF sync), how many such waits, and the rest, the worker's own time.
   */
  inWorker?: { approvals: number; wakeToCallMs: Summary; redisWaitMs: Summary; ownMs: Summary; redisWaits: number };
}

/** Pauses `n` runs of a gated workflow (one write) and returns their ids once all wait at the gate. */
export async function pauseRuns(ctx: BenchContext, workflow: string, n: number, tag: string): Promise<string[]> {
  const ids = await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    20,
    async (i) => (await ctx.app.engine.trigger(workflow, { text: `${tag}-${i}` })).run.id,
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = ctx.admin.pipeline();
    for (const id of ids) p.hget(ctx.app.store.keys.run(id), 'status');
    const res = (await p.exec()) ?? [];
    if (res.every((r) => r[1] === 'awaiting_confirmation')) return ids;
    if (Date.now() > deadline) throw new Error(`${workflow}: runs did not all reach their gate`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Approves paused runs one at a time, spaced out so no approval waits behind another, alternately
 * over HTTP (`POST /api/v1/confirmations/{id}/approve` on the real server at `apiUrl`) and with
 * engine.approve() in process, so both see the same machine. Needs 2 × `n` paused runs.
 */
export async function measureApprove(
  ctx: BenchContext,
  apiUrl: string,
  runIds: string[],
  n: number,
  spacingMs: number,
  /** the one worker process, when its trace can tell where its part of the time goes (stdio) */
  worker?: Child,
): Promise<ApproveResult> {
  const { app } = ctx;
  if (runIds.length < 2 * n) throw new Error(`approve: ${runIds.length} paused runs, ${2 * n} needed`);
  const picked: { text: string; cid: string; hash: string }[] = [];
  for (const id of runIds.slice(0, 2 * n)) {
    const run = await app.store.requireRun(id);
    const cid = run.steps.s1.confirmationId ?? '';
    picked.push({ text: String(run.inputs.text), cid, hash: (await app.store.requireConfirmation(cid)).argumentsHash });
  }
  const viaHttp = async (p: (typeof picked)[number]): Promise<void> => {
    const res = await fetch(`${apiUrl}/api/v1/confirmations/${encodeURIComponent(p.cid)}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ argumentsHash: p.hash }),
    });
    if (res.status !== 200) throw new Error(`POST confirmations/${p.cid}/approve answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  const sent: { text: string; http: boolean; t0: number; ms: number }[] = [];
  // A probe starts the worker's trace window afresh; the one after the calls reads it.
  await worker?.probe();
  for (const [i, p] of picked.entries()) {
    const http = i % 2 === 0;
    const t0 = wallNow();
    if (http) await viaHttp(p);
    else await app.engine.approve(p.cid, p.hash, { by: 'bench' });
    sent.push({ text: p.text, http, t0, ms: wallNow() - t0 });
    await new Promise((r) => setTimeout(r, spacingMs));
  }
  const names = new Set(picked.map((p) => p.text));
  await ctx.log.until(
    (calls) => calls.filter((c) => c.tool === 'record' && names.has(String(c.args.name))).length >= picked.length,
    30_000,
  );
  await worker?.probe();
  const wakes = worker?.lastTrace?.wakes;
  const toCall = (s: (typeof sent)[number]): number => (ctx.log.timesFor('record', 'name', s.text)[0] ?? Number.NaN) - s.t0;
  const overHttp = sent.filter((s) => s.http);
  const inProcess = sent.filter((s) => !s.http);
  return {
    approvals: sent.length,
    httpApproveToCallMs: summarize(overHttp.map(toCall)),
    httpResponseMs: summarize(overHttp.map((s) => s.ms)),
    approveToCallMs: summarize(inProcess.map(toCall)),
    approveReturnMs: summarize(inProcess.map((s) => s.ms)),
    ...(wakes?.wakeToCallMs.length
      ? {
          inWorker: {
            approvals: wakes.wakeToCallMs.length,
            wakeToCallMs: summarize(wakes.wakeToCallMs),
            redisWaitMs: summarize(wakes.redisWaitMs),
            ownMs: summarize(wakes.wakeToCallMs.map((t, i) => t - (wakes.redisWaitMs[i] ?? 0))),
            redisWaits: round(wakes.waits.reduce((a, b) => a + b, 0) / wakes.waits.length),
          },
        }
      : {}),
  };
}
