/**
 * Orchestration overhead: the same `echo` call made directly with the MCP SDK client, as a
 * one-step workflow, and as a ten-step chain, all sequential so nothing queues behind anything.
 *
 * Per-step overhead is read at the server: in a chain, the time between two consecutive calls of
 * one run is one tool call plus everything Interlock does between them (commit, enqueue, pick-up,
 * load, resolve, gate, start). Subtracting the direct call's p50 leaves Interlock's share. A step
 * is committed, durably, before the next one starts: one write's round trip at the AOF policy
 * (measured here too, from the bench) is a floor under that share that no work in the worker removes.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, type Child } from '../lib/procs.ts';
import { CHAIN, waitRun, type BenchContext } from '../lib/context.ts';
import { summarize, wallNow, type Summary } from '../lib/stats.ts';
import { measureBareCommit, type BareCommitResult } from './bare-commit.ts';

export interface LatencyResult {
  /** one Redis round trip (PING) from the bench: the unit the per-step round-trip counts multiply */
  redisPingMs: Summary;
  /**
   * one durable write (SET) from the bench: acknowledged once the AOF policy allows, so at
   * `appendfsync always` after an fsync. A step commits once, so this is the floor under its overhead.
   */
  durableWriteMs: Summary;
  directCallMs: Summary;
  /**
   * a hand-written loop over the same direct client: the call, then one durable write of its answer
   * (SET, from the bench), then the next call; no queue, no orchestration. What any runner that
   * writes each step down before the next pays on this machine: the write, and the server and Redis
   * woken from idle once per step (a direct call in a tight loop finds them awake).
   */
  handWritten?: { stepGapMs: Summary; stepOverheadMs: Summary };
  /**
   * the same loop committing each step as the worker does (bare-commit.ts): what the commit itself
   * costs, apart from what the worker does around it
   */
  bareCommit?: BareCommitResult;
  oneStep: { e2eMs: Summary; overheadMs: Summary; triggerToCallMs: Summary };
  chain: {
    e2eMs: Summary;
    overheadPerStepPerRunMs: Summary;
    stepGapMs: Summary;
    stepOverheadMs: Summary;
    /**
     * the same chains with nobody following their events while they run (sequentialRuns,
     * unfollowedMs): the step to step gap without the bench woken at each step's commit
     */
    unfollowed?: { stepGapMs: Summary; stepOverheadMs: Summary };
    /** stepOverheadMs less the durable write's p50: what is left above the AOF floor */
    stepOverheadAboveFloorMs: Summary;
    triggerToFirstCallMs: Summary;
    lastCallToDoneMs: Summary;
    /**
     * inside the worker (bench/lib/trace.ts, stdio only), per step run in place: the server's answer
     * in → the commit out to Redis, the commit's round trip, Redis's answer in → the next call out
     */
    inside?: { steps: number; answerToCommitMs: Summary; commitRoundTripMs: Summary; replyToCallMs: Summary };
  };
}

export async function directClient(url: string): Promise<Client> {
  const client = new Client({ name: 'interlock-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/**
 * The same test server over stdio, as the `io` connector starts it. It logs each call to `logFile`
 * as the worker's server logs to the call log (a file append per call, before it answers), so the
 * direct call it is compared with pays that too (until 50ed927 it did not log).
 */
export async function directStdioClient(logFile: string): Promise<Client> {
  const client = new Client({ name: 'interlock-bench', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [join(ROOT, 'test/fixtures/test-server.ts'), '--stdio'],
      env: { ...getDefaultEnvironment(), TEST_SERVER_LOG: logFile },
      stderr: 'ignore',
    }),
  );
  return client;
}

export async function measureDirect(client: Client, n: number, warm: number): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < warm + n; i++) {
    const t0 = performance.now();
    const r = await client.callTool({ name: 'echo', arguments: { text: `direct-${i}` } });
    const dt = performance.now() - t0;
    if (r.isError) throw new Error('direct echo failed');
    if (i >= warm) samples.push(dt);
  }
  return summarize(samples);
}

/**
 * `chains` runs of CHAIN steps, each step the direct call then one durable SET of its answer; the
 * gap is from one call's start to the next's within a run, as step to step at the server is.
 */
export async function measureHandWritten(
  ctx: BenchContext,
  client: Client,
  chains: number,
  direct: number,
): Promise<NonNullable<LatencyResult['handWritten']>> {
  const gaps: number[] = [];
  const keys: string[] = [];
  for (let c = 0; c < chains + 2; c++) {
    const key = `bench:hand:${c}`;
    keys.push(key);
    let text = `hand-${c}`;
    let prev = Number.NaN;
    for (let k = 0; k < CHAIN; k++) {
      const t0 = performance.now();
      const r = await client.callTool({ name: 'echo', arguments: { text } });
      if (r.isError) throw new Error('hand-written echo failed');
      await ctx.admin.set(key, JSON.stringify(r.content));
      text = `hand-${c}-${k}`;
      // the first two runs warm the loop
      if (c >= 2 && k > 0) gaps.push(t0 - prev);
      prev = t0;
    }
  }
  await ctx.admin.del(...keys);
  return { stepGapMs: summarize(gaps), stepOverheadMs: summarize(gaps.map((g) => g - direct)) };
}

/** The gaps between consecutive calls of each run at the server. */
function stepGaps(ctx: BenchContext, runs: Timed[]): number[] {
  const gaps: number[] = [];
  for (const r of runs) {
    const times = ctx.log.timesFor('echo', 'text', r.text);
    if (times.length !== CHAIN) throw new Error(`chain ${r.text}: ${times.length} calls at the server, expected ${CHAIN}`);
    for (let k = 1; k < CHAIN; k++) gaps.push(times[k] - times[k - 1]);
  }
  return gaps;
}

interface Timed {
  text: string;
  t0: number;
  done: number;
}

/**
 * Runs `workflow` `n` times, one after the other. `unfollowedMs`: instead of following each run's
 * events from its trigger (woken at each step's commit, as a page or a client following the run
 * is), the bench sleeps that long first and then reads them, mostly in one go; the run's end is
 * then seen late, so only the figures read at the server count.
 */
async function sequentialRuns(ctx: BenchContext, workflow: string, tag: string, n: number, unfollowedMs = 0): Promise<Timed[]> {
  const out: Timed[] = [];
  for (let i = 0; i < n; i++) {
    const text = `${tag}-${i}`;
    const t0 = wallNow();
    const { run } = await ctx.app.engine.trigger(workflow, { text });
    if (unfollowedMs > 0) await sleep(unfollowedMs);
    const end = await waitRun(ctx, run.id);
    const done = wallNow();
    if (end !== 'run.succeeded') throw new Error(`run ${run.id} of ${workflow} ended with ${end}`);
    out.push({ text, t0, done });
  }
  return out;
}

/**
 * `workflows`: the one-step and ten-step workflows of one transport (`one`/`chain` over HTTP,
 * `oneio`/`chainio` over stdio). `pass` keeps the inputs of a second measurement apart from the
 * first's in the call log.
 */
export async function measureLatency(
  ctx: BenchContext,
  client: Client,
  o: { direct: number; one: number; chain: number },
  workflows: { one: string; chain: string } = { one: 'one', chain: 'chain' },
  pass = '',
  /** the worker, whose trace says where a step's time goes inside it (stdio) */
  worker?: Child,
): Promise<LatencyResult> {
  const tag = `${workflows.one}${pass}`;
  // Warm every path once: the worker's MCP session, the tool catalog, scripts, JIT.
  await sequentialRuns(ctx, workflows.one, `warm-${tag}`, 20);
  await sequentialRuns(ctx, workflows.chain, `warm-chain-${tag}`, 3);
  const ping: number[] = [];
  for (let i = 0; i < o.direct; i++) {
    const t0 = performance.now();
    await ctx.admin.ping();
    ping.push(performance.now() - t0);
  }
  const durable: number[] = [];
  for (let i = 0; i < o.direct; i++) {
    const t0 = performance.now();
    await ctx.admin.set('bench:durable-write', String(i));
    durable.push(performance.now() - t0);
  }
  const floor = summarize(durable);
  const direct = await measureDirect(client, o.direct, 50);
  const d = direct.p50;
  const handWritten = await measureHandWritten(ctx, client, o.chain, d);
  const bareCommit = await measureBareCommit(ctx, client, workflows.chain, o.chain, d);

  const ones = await sequentialRuns(ctx, workflows.one, `lat-${tag}`, o.one);
  // A probe starts the worker's trace window afresh; the one after the chains reads it.
  await worker?.probe();
  const chains = await sequentialRuns(ctx, workflows.chain, `lat-chain-${tag}`, o.chain);
  await worker?.probe();
  const trace = worker?.lastTrace;
  // The same chains again, the bench asleep while each runs (a little less than the followed ones' median).
  const followedMs = summarize(chains.map((r) => r.done - r.t0)).p50;
  const unfollowed = await sequentialRuns(ctx, workflows.chain, `lat-chain-quiet-${tag}`, o.chain, followedMs * 0.9);
  await ctx.log.until(
    (calls) => calls.length > 0 && ctx.log.timesFor('echo', 'text', unfollowed[unfollowed.length - 1].text).length === CHAIN,
    10_000,
  );
  const quietGaps = stepGaps(ctx, unfollowed);

  const oneE2e = ones.map((r) => r.done - r.t0);
  const oneTrig = ones.map((r) => (ctx.log.timesFor('echo', 'text', r.text)[0] ?? Number.NaN) - r.t0);
  const gaps = stepGaps(ctx, chains);
  const chainE2e = chains.map((r) => r.done - r.t0);
  const first = chains.map((r) => ctx.log.timesFor('echo', 'text', r.text)[0] - r.t0);
  const tail = chains.map((r) => r.done - ctx.log.timesFor('echo', 'text', r.text)[CHAIN - 1]);
  return {
    redisPingMs: summarize(ping),
    durableWriteMs: floor,
    directCallMs: direct,
    handWritten,
    bareCommit,
    oneStep: { e2eMs: summarize(oneE2e), overheadMs: summarize(oneE2e.map((v) => v - d)), triggerToCallMs: summarize(oneTrig) },
    chain: {
      e2eMs: summarize(chainE2e),
      overheadPerStepPerRunMs: summarize(chainE2e.map((v) => (v - CHAIN * d) / CHAIN)),
      stepGapMs: summarize(gaps),
      unfollowed: { stepGapMs: summarize(quietGaps), stepOverheadMs: summarize(quietGaps.map((g) => g - d)) },
      stepOverheadMs: summarize(gaps.map((g) => g - d)),
      stepOverheadAboveFloorMs: summarize(gaps.map((g) => g - d - floor.p50)),
      triggerToFirstCallMs: summarize(first),
      lastCallToDoneMs: summarize(tail),
      ...(trace?.steps
        ? {
            inside: {
              steps: trace.steps,
              answerToCommitMs: summarize(trace.answerToCommitMs),
              commitRoundTripMs: summarize(trace.commitRoundTripMs),
              replyToCallMs: summarize(trace.replyToCallMs),
            },
          }
        : {}),
    },
  };
}
