/**
 * Steps per second. Work is queued while the queue is paused, then released at once, so the
 * clock measures processing only, for Interlock and for raw BullMQ alike:
 * - Interlock: ten-step chains of `echo` (each step runs in place in the job of the one before,
 *   or enqueues it), on 1 or 2 worker processes, over streamable HTTP (one shared test server) or
 *   stdio (a server per worker); and hundred-step chains over stdio;
 * - raw BullMQ: empty jobs, or jobs making the same `echo` call, same Redis, same concurrency,
 *   same job options, 1 or 2 processes;
 * - the MCP ceiling: the same `echo` called directly with the same concurrency.
 * CPU time of every process is read from /proc, so each rate comes with where the time went.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CHAIN, LONG_CHAIN, openJobs, type BenchContext } from '../lib/context.ts';
import { childPids, cpuMs, startRawWorker, startWorker, type Child } from '../lib/procs.ts';
import { mapLimit, round } from '../lib/stats.ts';

export type Transport = 'http' | 'stdio';

export interface InterlockRate {
  transport: Transport;
  /** steps per run */
  chain: number;
  processes: number;
  runs: number;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  roundTripsPerStep: number;
  /** CPU ms per step, by process: where the time goes */
  cpuMsPerStep: CpuShare;
}

export interface CpuShare {
  workers: number;
  redis: number;
  testServer: number;
  bench: number;
}

export interface RawRate {
  /** empty jobs, or jobs that make the same MCP call over this transport */
  kind: 'empty' | Transport;
  processes: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  roundTripsPerJob: number;
  cpuMsPerJob: CpuShare;
}

/**
 * CPU used by every process of the run, so a rate can be read as "who was busy". The MCP server
 * is the shared HTTP one, or, over stdio, the servers the workers started as their children.
 */
function cpuNow(ctx: BenchContext, children: Child[], transport: Transport | 'empty'): CpuShare {
  const own = process.cpuUsage();
  const mcp =
    transport === 'stdio'
      ? children.flatMap((c) => childPids(c.pid)).reduce((a, pid) => a + cpuMs(pid), 0)
      : cpuMs(ctx.serverPid);
  return {
    workers: children.reduce((a, c) => a + cpuMs(c.pid), 0),
    redis: cpuMs(ctx.redis.pid),
    testServer: mcp,
    bench: (own.user + own.system) / 1000,
  };
}

function cpuPer(a: CpuShare, b: CpuShare, n: number): CpuShare {
  return {
    workers: round((b.workers - a.workers) / n, 3),
    redis: round((b.redis - a.redis) / n, 3),
    testServer: round((b.testServer - a.testServer) / n, 3),
    bench: round((b.bench - a.bench) / n, 3),
  };
}

const writes = async (children: Child[]): Promise<number> =>
  (await Promise.all(children.map((c) => c.probe()))).reduce((a, s) => a + s.sockets.reduce((x, c) => x + c.writes, 0), 0);

export async function interlockRate(
  ctx: BenchContext,
  workers: Child[],
  runs: number,
  tag: string,
  transport: Transport = 'http',
  chain = CHAIN,
): Promise<InterlockRate> {
  const q = ctx.app.queues.get(transport === 'http' ? 'test' : 'io');
  const workflow = transport === 'http' ? 'chain' : chain === LONG_CHAIN ? 'chain100io' : 'chainio';
  if (transport === 'http' && chain !== CHAIN) throw new Error(`no ${chain}-step chain over http`);
  await q.pause();
  const ids = await mapLimit(
    Array.from({ length: runs }, (_, i) => i),
    50,
    async (i) => (await ctx.app.engine.trigger(workflow, { text: `${tag}-${i}` })).run.id,
  );
  ctx.log.poll();
  const before = ctx.log.calls.length;
  const rt0 = await writes(workers);
  const cpu0 = cpuNow(ctx, workers, transport);
  const t0 = performance.now();
  await q.resume();
  await ctx.log.until((calls) => calls.length >= before + runs * chain, 300_000);
  let left = ids;
  while (left.length) {
    const p = ctx.admin.pipeline();
    for (const id of left) p.hget(ctx.app.store.keys.run(id), 'status');
    const res = (await p.exec()) ?? [];
    const failed = left.filter((_, i) => ['failed', 'needs_attention', 'cancelled', 'denied'].includes(String(res[i]?.[1])));
    if (failed.length) throw new Error(`${failed.length} throughput runs did not succeed, e.g. ${failed[0]}`);
    left = left.filter((_, i) => res[i]?.[1] !== 'succeeded');
    if (left.length) await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = cpuNow(ctx, workers, transport);
  const rt = (await writes(workers)) - rt0;
  const steps = runs * chain;
  return {
    transport,
    chain,
    processes: workers.length,
    runs,
    steps,
    seconds: round(seconds, 3),
    stepsPerSecond: round(steps / seconds, 0),
    roundTripsPerStep: round(rt / steps),
    cpuMsPerStep: cpuPer(cpu0, cpu1, steps),
  };
}

const rawQueue = (kind: RawRate['kind'], processes: number): string => `raw-${kind}-${processes}`;

/**
 * Two raw BullMQ processes for every raw measurement: the first serves the one-process queues
 * and the two-process ones, the second only the two-process ones. Their stdio servers log each
 * call, to a file of their own, as the servers Interlock's workers start do.
 */
export function startRawPair(ctx: BenchContext, concurrency: number): Child[] {
  const kinds = ['empty', 'http', 'stdio'] as const;
  return [
    startRawWorker(
      'raw-a',
      ctx.redis,
      'bench-raw',
      kinds.flatMap((k) => [`${k}:${rawQueue(k, 1)}`, `${k}:${rawQueue(k, 2)}`]),
      concurrency,
      ctx.serverUrl,
      `${ctx.log.path}.raw`,
    ),
    startRawWorker(
      'raw-b',
      ctx.redis,
      'bench-raw',
      kinds.map((k) => `${k}:${rawQueue(k, 2)}`),
      concurrency,
      ctx.serverUrl,
      `${ctx.log.path}.raw`,
    ),
  ];
}

export async function rawRate(
  ctx: BenchContext,
  pair: Child[],
  kind: RawRate['kind'],
  processes: 1 | 2,
  jobs: number,
): Promise<RawRate> {
  const conn = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
  const name = rawQueue(kind, processes);
  const queue = new Queue(name, { connection: conn, prefix: 'bench-raw' });
  const children = pair.slice(0, processes);
  try {
    await queue.pause();
    const opts = { removeOnComplete: true, removeOnFail: { count: 1000 }, attempts: 1 };
    for (let i = 0; i < jobs; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, jobs - i) }, (_, j) => ({
          name: kind,
          data: kind === 'empty' ? {} : { text: `${name}-${i + j}` },
          opts,
        })),
      );
    }
    const rt0 = await writes(children);
    const cpu0 = cpuNow(ctx, children, kind);
    const t0 = performance.now();
    await queue.resume();
    for (;;) {
      const c = await queue.getJobCounts('wait', 'active', 'paused', 'prioritized');
      if (Object.values(c).every((v) => v === 0)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuNow(ctx, children, kind);
    const rt = (await writes(children)) - rt0;
    return {
      kind,
      processes,
      jobs,
      seconds: round(seconds, 3),
      jobsPerSecond: round(jobs / seconds, 0),
      roundTripsPerJob: round(rt / jobs),
      cpuMsPerJob: cpuPer(cpu0, cpu1, jobs),
    };
  } finally {
    // The bench's own scratch queue; what is left of it on failure lives under a prefix nothing else reads.
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    conn.disconnect();
  }
}

export interface DirectRate {
  calls: number;
  concurrency: number;
  callsPerSecond: number;
  /** CPU ms per call: the MCP SDK client (in the bench) and the test server */
  cpuMsPerCall: { client: number; testServer: number };
}

export async function directRate(ctx: BenchContext, client: Client, calls: number, concurrency: number): Promise<DirectRate> {
  const c0 = cpuNow(ctx, [], 'http');
  const t0 = performance.now();
  await mapLimit(
    Array.from({ length: calls }, (_, i) => i),
    concurrency,
    async (i) => {
      const r = await client.callTool({ name: 'echo', arguments: { text: `rate-${i}` } });
      if (r.isError) throw new Error('direct echo failed');
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const c = cpuPer(c0, cpuNow(ctx, [], 'http'), calls);
  return {
    calls,
    concurrency,
    callsPerSecond: round(calls / seconds, 0),
    cpuMsPerCall: { client: c.bench, testServer: c.testServer },
  };
}

export interface ThroughputResult {
  interlock: InterlockRate[];
  raw: RawRate[];
  directMcp: DirectRate;
  ratios: {
    transport: string;
    chain: number;
    processes: number;
    ratio: number;
    ratioToBullmqWithCall: number;
    /** each attempt's Interlock rate over the raw rate measured right beside it (the spread of one run) */
    attemptsToBullmqWithCall?: number[];
  }[];
}

/**
 * Every rate of the table on 2 and then 1 worker processes (the second worker is started once and
 * then stopped). Other load on the machine only ever slows a rate down, so `tries` > 1 keeps the
 * best attempt; each Interlock rate is measured right beside the raw BullMQ rates it is compared
 * with, attempt by attempt, so a machine that speeds up or slows down during the phase moves both.
 */
export async function measureThroughput(
  ctx: BenchContext,
  w1: Child,
  direct: Client,
  n: { runs: number; raw: number; rawCall: number; directRate: number; warm: number; tries: number },
  concurrency: number,
): Promise<ThroughputResult> {
  await drained(ctx);
  const faster = <T extends { seconds: number }>(a: T | undefined, b: T): T => (!a || b.seconds < a.seconds ? b : a);
  const pair = startRawPair(ctx, concurrency);
  const rates: InterlockRate[] = [];
  const raw: RawRate[] = [];
  const attempts = new Map<string, number[]>();
  const pairKey = (transport: string, chain: number, processes: number): string => `${transport}/${chain}/${processes}`;
  const pairUp = (x: InterlockRate, y: RawRate): void => {
    const k = pairKey(x.transport, x.chain, x.processes);
    attempts.set(k, [...(attempts.get(k) ?? []), x.stepsPerSecond / y.jobsPerSecond]);
  };
  // The long chains carry four times the steps of the short ones in fewer runs (one run's steps go
  // one at a time): four runs per place, so the last runs, which finish with places left idle
  // (nothing else is queued), weigh on the rate as little as the short chains' last runs do.
  const longRuns = Math.max(20, Math.round((4 * n.runs * CHAIN) / LONG_CHAIN));
  const measure = async (procs: Child[]): Promise<void> => {
    const p = procs.length as 1 | 2;
    for (const transport of ['http', 'stdio'] as const) {
      let mine: InterlockRate | undefined;
      let long: InterlockRate | undefined;
      let theirs: RawRate | undefined;
      for (let i = 0; i < n.tries; i++) {
        const a = await interlockRate(ctx, procs, n.runs, `tp-${transport}${p}-${i}-${Date.now()}`, transport);
        const b = await rawRate(ctx, pair, transport, p, n.rawCall);
        mine = faster(mine, a);
        theirs = faster(theirs, b);
        pairUp(a, b);
        if (transport === 'stdio') {
          const c = await interlockRate(ctx, procs, longRuns, `tpl-${p}-${i}-${Date.now()}`, transport, LONG_CHAIN);
          long = faster(long, c);
          pairUp(c, b);
        }
      }
      if (mine) rates.push(mine);
      if (long) rates.push(long);
      if (theirs) raw.push(theirs);
    }
    let empty: RawRate | undefined;
    for (let i = 0; i < n.tries; i++) empty = faster(empty, await rawRate(ctx, pair, 'empty', p, n.raw));
    if (empty) raw.push(empty);
  };
  try {
    await Promise.all(pair.map((x) => x.ready));
    const w2 = startWorker('worker-2', ctx.configFile, ctx.redis, ctx.prefix);
    try {
      await w2.ready;
      await interlockRate(ctx, [w1, w2], n.warm, `tp2-warm-${Date.now()}`);
      await interlockRate(ctx, [w1, w2], n.warm, `tpio2-warm-${Date.now()}`, 'stdio');
      await measure([w1, w2]);
    } finally {
      await w2.stop();
    }
    await measure([w1]);
  } finally {
    await Promise.all(pair.map((x) => x.stop()));
  }
  rates.sort((a, b) => a.processes - b.processes || a.transport.localeCompare(b.transport) || a.chain - b.chain);
  const kinds = ['empty', 'http', 'stdio'];
  raw.sort((a, b) => kinds.indexOf(a.kind) - kinds.indexOf(b.kind) || a.processes - b.processes);
  const directMcp = await directRate(ctx, direct, n.directRate, concurrency);
  const rate = (kind: RawRate['kind'], p: number) =>
    raw.find((y) => y.kind === kind && y.processes === p)?.jobsPerSecond ?? Number.NaN;
  return {
    interlock: rates,
    raw,
    directMcp,
    ratios: rates.map((x) => ({
      transport: x.transport,
      chain: x.chain,
      processes: x.processes,
      ratio: x.stepsPerSecond / rate('empty', x.processes),
      ratioToBullmqWithCall: x.stepsPerSecond / rate(x.transport, x.processes),
      attemptsToBullmqWithCall: attempts.get(pairKey(x.transport, x.chain, x.processes)) ?? [],
    })),
  };
}

export async function drained(ctx: BenchContext, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await openJobs(ctx, 'test')) + (await openJobs(ctx, 'io')) > 0) {
    if (Date.now() > deadline) throw new Error('step queue did not drain');
    await new Promise((r) => setTimeout(r, 50));
  }
}
