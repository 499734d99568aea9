/**
 * Redis round trips and commands per step, from two independent views:
 * - round trips: socket writes to Redis counted inside the worker process and the bench's engine
 *   (bench/lib/probe.ts); one write is one command or one whole pipeline / MULTI;
 * - commands: MONITOR, by connection and script name, with the commands scripts run inside Redis.
 * A quiet window first measures what a worker does when idle (sweeper, blocking waits), which is
 * subtracted in proportion to each window's length. Runs go one at a time, as in the latency phase.
 */
import { RunStore } from '../../src/runs/store.ts';
import { CHAIN, waitRun, type BenchContext } from '../lib/context.ts';
import { CommandMonitor, perUnit, scriptNames, tally, type Tally } from '../lib/monitor.ts';
import { probeSnapshot, type ProbeSnapshot } from '../lib/probe.ts';
import type { Child } from '../lib/procs.ts';
import type { MonitorEntry } from '../lib/monitor.ts';
import { round, summarize } from '../lib/stats.ts';

export interface SideCounts {
  roundTrips: number;
  commands: Tally;
}

export interface CountsResult {
  idle: { seconds: number; workerRoundTripsPerSecond: number; workerCommandsPerSecond: number };
  /** a step in the middle of a chain: pick-up, load, start, call, commit, enqueue of the next */
  chainStep: { worker: SideCounts };
  /** a one-step run end to end */
  oneStepRun: { worker: SideCounts; engineTrigger: SideCounts };
  /** a gated write: pause, approve, resume and finish */
  gatedRun: { worker: SideCounts; engineApprove: SideCounts };
  samples: { oneStep: number; chain: number; gated: number };
  /**
   * One chain step as Redis saw it: each worker command between tool call k arriving at the
   * server and call k+1, at its median offset (ms) from call k. MONITOR slows Redis a little, so
   * the offsets run long; the order and the shares are the point.
   */
  stepTimeline: { label: string; ms: number }[];
}

const EMPTY: Tally = { commands: {}, total: 0, inner: {}, innerTotal: 0 };

const writes = (s: ProbeSnapshot, ports?: Set<number>): number =>
  s.sockets.filter((c) => !ports || ports.has(c.localPort)).reduce((a, c) => a + c.writes, 0);

export async function measureCounts(
  ctx: BenchContext,
  worker: Child,
  o: { oneStep: number; chain: number; gated: number; idleMs: number },
): Promise<CountsResult> {
  // Lookups between measured calls go through a store on the admin connection, which no tally counts.
  const side = new RunStore(ctx.admin, ctx.prefix);
  const engine = new Set([(ctx.app.redis.client as unknown as { stream: { localPort: number } }).stream.localPort]);
  const gatedRun = async (text: string): Promise<void> => {
    const { run } = await ctx.app.engine.trigger('gated', { text });
    if ((await waitRun(ctx, run.id)) !== 'confirmation.requested') throw new Error('gated run did not pause');
    const cid = (await side.requireRun(run.id)).steps.s1.confirmationId ?? '';
    const hash = (await side.requireConfirmation(cid)).argumentsHash;
    await ctx.app.engine.approve(cid, hash, { by: 'bench' });
    if ((await waitRun(ctx, run.id, 1)) !== 'run.succeeded') throw new Error('approved run did not succeed');
  };
  // Every script loaded once before counting, so no EVALSHA → NOSCRIPT → EVAL shows up below.
  await gatedRun('cnt-warm');

  // The reconciler's pass (every 5 s, one worker at a time) reads up to 200 runs to look for
  // drift; landing in one window and not another it would swing every figure below (one pass in
  // the quiet window made a chain step look like 0.6 round trips). The bench holds its lock while
  // counting, so no pass runs; its cost is its own, and the README gives it.
  const markers = side.ready;
  const lockToken = `bench-counts-${Date.now()}`;
  for (let i = 0; !(await markers.takeLock(lockToken, 120_000)); i++) {
    if (i >= 200) throw new Error('the reconciler lock stayed taken for 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const mon = new CommandMonitor(ctx.redis.url, await scriptNames());
  await mon.start();
  try {
    type Mark = { w: ProbeSnapshot; e: number; i: number; t: number };
    const mark = async (): Promise<Mark> => ({
      w: await worker.probe(),
      e: writes(probeSnapshot(false), engine),
      i: await mon.mark(ctx.admin),
      t: performance.now(),
    });
    const workerPorts = (m: Mark) => new Set(m.w.sockets.map((s) => s.localPort));

    const m0 = await mark();
    await new Promise((r) => setTimeout(r, o.idleMs));
    const m1 = await mark();
    const idleSec = (m1.t - m0.t) / 1000;
    const idleTally = tally(mon.entries, m0.i, m1.i, workerPorts(m1));
    const idleRt = writes(m1.w) - writes(m0.w);
    const workerSide = (a: Mark, b: Mark, n: number): SideCounts => {
      const scale = (b.t - a.t) / 1000 / idleSec;
      return {
        roundTrips: round((writes(b.w) - writes(a.w) - idleRt * scale) / n),
        commands: perUnit(tally(mon.entries, a.i, b.i, workerPorts(b)), idleTally, scale, n),
      };
    };
    const engineSide = (a: Mark, b: Mark, n: number): SideCounts => ({
      roundTrips: round((b.e - a.e) / n),
      commands: perUnit(tally(mon.entries, a.i, b.i, engine), EMPTY, 0, n),
    });

    for (let i = 0; i < o.oneStep; i++) {
      const { run } = await ctx.app.engine.trigger('one', { text: `cnt-one-${i}` });
      if ((await waitRun(ctx, run.id)) !== 'run.succeeded') throw new Error('count run failed');
    }
    const m2 = await mark();
    for (let i = 0; i < o.chain; i++) {
      const { run } = await ctx.app.engine.trigger('chain', { text: `cnt-chain-${i}` });
      if ((await waitRun(ctx, run.id)) !== 'run.succeeded') throw new Error('count chain failed');
    }
    const m3 = await mark();
    const stepTimeline = timeline(ctx, mon.entries.slice(m2.i, m3.i), workerPorts(m3), o.chain);
    for (let i = 0; i < o.gated; i++) await gatedRun(`cnt-gated-${i}`);
    const m4 = await mark();

    // A chain run is a one-step run plus nine more steps (each with the enqueue of its successor),
    // so subtracting one-step runs leaves steps 2…10.
    const chainAll = workerSide(m2, m3, 1);
    const oneAll = workerSide(m1, m2, 1);
    const k = o.chain / o.oneStep;
    const steps = o.chain * (CHAIN - 1);
    // Approvals: the engine's traffic in the gated window minus its triggers (same as one-step triggers).
    const trig = engineSide(m1, m2, 1);
    const gatedEngine = engineSide(m3, m4, 1);
    const g = o.gated / o.oneStep;
    return {
      idle: {
        seconds: round(idleSec),
        workerRoundTripsPerSecond: round(idleRt / idleSec),
        workerCommandsPerSecond: round(idleTally.total / idleSec),
      },
      chainStep: {
        worker: {
          roundTrips: round((chainAll.roundTrips - oneAll.roundTrips * k) / steps),
          commands: perUnit(chainAll.commands, oneAll.commands, k, steps),
        },
      },
      oneStepRun: { worker: workerSide(m1, m2, o.oneStep), engineTrigger: engineSide(m1, m2, o.oneStep) },
      gatedRun: {
        worker: workerSide(m3, m4, o.gated),
        engineApprove: {
          roundTrips: round((gatedEngine.roundTrips - trig.roundTrips * g) / o.gated),
          commands: perUnit(gatedEngine.commands, trig.commands, g, o.gated),
        },
      },
      samples: { oneStep: o.oneStep, chain: o.chain, gated: o.gated },
      stepTimeline,
    };
  } finally {
    await markers.releaseLock(lockToken);
    mon.stop();
  }
}

function timeline(
  ctx: BenchContext,
  entries: MonitorEntry[],
  ports: Set<number>,
  chains: number,
): { label: string; ms: number }[] {
  ctx.log.poll();
  const offsets = new Map<string, number[]>();
  const gaps: number[] = [];
  for (let i = 0; i < chains; i++) {
    const t = ctx.log.timesFor('echo', 'text', `cnt-chain-${i}`);
    for (let k = 0; k + 1 < t.length; k++) {
      gaps.push(t[k + 1] - t[k]);
      const seen = new Map<string, number>();
      for (const e of entries) {
        const ms = e.time * 1000 - t[k];
        if (!ports.has(e.port) || ms <= 0 || e.time * 1000 >= t[k + 1]) continue;
        const n = (seen.get(e.label) ?? 0) + 1;
        seen.set(e.label, n);
        const key = n > 1 ? `${e.label} #${n}` : e.label;
        offsets.set(key, [...(offsets.get(key) ?? []), ms]);
      }
    }
  }
  const steps = gaps.length;
  return (
    [...offsets]
      // Commands seen in fewer than half the steps are background (stall checks, idle wake-ups).
      .filter(([, v]) => v.length >= steps / 2)
      .map(([label, v]) => ({ label, ms: round(summarize(v).p50, 2) }))
      .concat([{ label: 'next tool call at the server', ms: round(summarize(gaps).p50, 2) }])
      .sort((a, b) => a.ms - b.ms)
  );
}
