/**
 * `npm run bench` (full, under ten minutes) and `npm run bench -- --quick` (under a minute, for CI
 * smoke). Starts its own redis-server, the project's MCP test server over streamable HTTP and
 * `interlock worker` children, measures, prints a table and writes bench/results/<timestamp>.json.
 * Exits 0 whatever the figures are; only a phase that breaks makes it exit 1.
 *
 *   --quick                 fewer samples (also `npm run bench --quick`, which npm passes as npm_config_quick)
 *   --fsync always|everysec|no   the redis-server's AOF policy (default everysec)
 *   --out <dir>             where the JSON goes (default bench/results)
 *   --only <a,b>            run only these phases (latency, round trips → counts, throughput, paused, approve, http);
 *                           approve needs paused. For profiling one phase, not for the README's table.
 */
// Imported first so the socket counter is in place before any Redis connection opens.
import { setProbePort } from './lib/probe.ts';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { makeContext, type BenchContext } from './lib/context.ts';
import { BenchRedis, ROOT, startTestServer, startWorker, type Child, type Fsync, type TestServerChild } from './lib/procs.ts';
import { render, verdicts, type BenchResults, type Machine } from './lib/report.ts';
import { measureCounts } from './phases/counts.ts';
import { measureHttp } from './phases/http.ts';
import { directClient, directStdioClient, measureLatency } from './phases/latency.ts';
import { measureApprove, measurePaused, pauseRuns } from './phases/paused.ts';
import { directRate, drained, interlockRate, rawRate, startRawPair, type InterlockRate, type RawRate } from './phases/throughput.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick') || process.env.npm_config_quick === 'true';
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const fsync = (arg('--fsync') ?? 'everysec') as Fsync;
if (!['always', 'everysec', 'no'].includes(fsync)) throw new Error(`--fsync must be always, everysec or no (got ${fsync})`);
const outDir = arg('--out') ?? join(ROOT, 'bench/results');
const PHASES = ['latency', 'counts', 'throughput', 'paused', 'approve', 'http'] as const;
const only = arg('--only')?.split(',').map((p) => p.trim());
const unknownPhase = only?.find((p) => !(PHASES as readonly string[]).includes(p));
if (unknownPhase) throw new Error(`--only: unknown phase '${unknownPhase}' (phases: ${PHASES.join(', ')})`);
const wanted = (name: typeof PHASES[number]): boolean => !only || only.includes(name) || (name === 'paused' && only.includes('approve'));

const N = quick
  ? { direct: 150, one: 40, chain: 10, counts: { oneStep: 10, chain: 3, gated: 5, idleMs: 1000 }, runs: 20, raw: 2000, rawCall: 200, directRate: 200, paused: 1000, approve: 40, http: 40 }
  : { direct: 1000, one: 300, chain: 100, counts: { oneStep: 30, chain: 10, gated: 10, idleMs: 3000 }, runs: 200, raw: 20000, rawCall: 2000, directRate: 3000, paused: 10000, approve: 300, http: 200 };
const CONCURRENCY = 20;
const SPACING_MS = 10;

function machine(redisVersion: string): Machine {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux: leave it unknown
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' + uncommitted src changes';
  } catch {
    // not a git checkout
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: redisVersion,
    redisPersistence: fsync === 'no' ? 'no persistence' : `appendonly, appendfsync ${fsync}`,
    loadAvgStart: loadavg(),
    commit,
  };
}

async function main(): Promise<number> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-bench-'));
  const redis = new BenchRedis();
  let server: TestServerChild | undefined;
  let ctx: BenchContext | undefined;
  let client: Client | undefined;
  const workers: Child[] = [];
  const results: BenchResults = { mode: quick ? 'quick' : 'full', startedAt: new Date().toISOString(), machine: machine('?'), concurrency: CONCURRENCY, errors: [] };
  const phase = async (name: string, fn: () => Promise<void>): Promise<void> => {
    const key = ({ 'round trips': 'counts', 'paused runs': 'paused', 'http trigger': 'http' } as Record<string, typeof PHASES[number]>)[name] ?? name as typeof PHASES[number];
    if (!wanted(key)) return;
    const t0 = performance.now();
    try {
      await fn();
    } catch (err) {
      results.errors.push({ phase: name, message: (err as Error).stack ?? String(err) });
    }
    process.stderr.write(`bench: ${name} ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  };
  try {
    await redis.start(fsync);
    setProbePort(redis.port);
    const log = join(dir, 'calls.jsonl');
    server = await startTestServer(log);
    ctx = await makeContext(redis, dir, { url: server.url, pid: server.child.pid ?? 0 }, log, CONCURRENCY);
    results.machine = machine(/redis_version:(\S+)/.exec(await ctx.admin.info('server'))?.[1] ?? '?');
    const c = ctx;
    const w1 = startWorker('worker-1', c.configFile, redis, c.prefix);
    workers.push(w1);
    await w1.ready;
    client = await directClient(server.url);
    const direct = client;
    process.stderr.write(`bench: setup ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

    await phase('latency', async () => {
      results.latency = await measureLatency(c, direct, { direct: N.direct, one: N.one, chain: N.chain });
      const stdio = await directStdioClient();
      try {
        results.latencyStdio = await measureLatency(c, stdio, { direct: N.direct, one: N.one, chain: N.chain }, { one: 'oneio', chain: 'chainio' });
      } finally {
        await stdio.close();
      }
    });
    await phase('round trips', async () => {
      results.counts = await measureCounts(c, w1, N.counts);
    });
    await phase('throughput', async () => {
      await drained(c);
      // Other load on the machine only ever slows a rate down, so the full run keeps the best of
      // two attempts of each measurement.
      const tries = quick ? 1 : 2;
      const best = async <T extends { seconds: number }>(fn: (attempt: number) => Promise<T>): Promise<T> => {
        let top: T | undefined;
        for (let i = 0; i < tries; i++) {
          const r = await fn(i);
          if (!top || r.seconds < top.seconds) top = r;
        }
        return top as T;
      };
      // Each Interlock rate is measured right beside the raw BullMQ rates it is compared with,
      // attempt by attempt, so a machine that speeds up or slows down during the phase moves both.
      const pair = startRawPair(c, CONCURRENCY);
      const rates: InterlockRate[] = [];
      const raw: RawRate[] = [];
      const faster = <T extends { seconds: number }>(a: T | undefined, b: T): T => (!a || b.seconds < a.seconds ? b : a);
      const measure = async (procs: Child[]): Promise<void> => {
        const p = procs.length as 1 | 2;
        for (const transport of ['http', 'stdio'] as const) {
          let mine: InterlockRate | undefined;
          let theirs: RawRate | undefined;
          for (let i = 0; i < tries; i++) {
            mine = faster(mine, await interlockRate(c, procs, N.runs, `tp-${transport}${p}-${i}`, transport));
            theirs = faster(theirs, await rawRate(c, pair, transport, p, N.rawCall));
          }
          if (mine) rates.push(mine);
          if (theirs) raw.push(theirs);
        }
        raw.push(await best(() => rawRate(c, pair, 'empty', p, N.raw)));
      };
      try {
        await Promise.all(pair.map((x) => x.ready));
        // Two processes first, so the second worker is started once and then stopped.
        const w2 = startWorker('worker-2', c.configFile, redis, c.prefix);
        workers.push(w2);
        await w2.ready;
        const warm = quick ? 5 : 40;
        await interlockRate(c, [w1, w2], warm, 'tp2-warm');
        await interlockRate(c, [w1, w2], warm, 'tpio2-warm', 'stdio');
        await measure([w1, w2]);
        await w2.stop();
        await measure([w1]);
      } finally {
        await Promise.all(pair.map((x) => x.stop()));
      }
      rates.sort((a, b) => a.processes - b.processes || a.transport.localeCompare(b.transport));
      const kinds = ['empty', 'http', 'stdio'];
      raw.sort((a, b) => kinds.indexOf(a.kind) - kinds.indexOf(b.kind) || a.processes - b.processes);
      const directMcp = await directRate(c, direct, N.directRate, CONCURRENCY);
      const rate = (kind: RawRate['kind'], p: number) => raw.find((y) => y.kind === kind && y.processes === p)?.jobsPerSecond ?? Number.NaN;
      results.throughput = {
        interlock: rates, raw, directMcp,
        ratios: rates.map((x) => ({
          transport: x.transport, processes: x.processes,
          ratio: x.stepsPerSecond / rate('empty', x.processes),
          ratioToBullmqWithCall: x.stepsPerSecond / rate(x.transport, x.processes),
        })),
      };
    });
    let pausedIds: string[] = [];
    await phase('paused runs', async () => {
      await drained(c);
      const { runIds, ...rest } = await measurePaused(c, w1, N.paused);
      pausedIds = runIds;
      results.paused = rest;
    });
    await phase('approve', async () => {
      if (pausedIds.length === 0) throw new Error('no paused runs to approve');
      results.approve = await measureApprove(c, pausedIds, N.approve, SPACING_MS);
      results.approveStdio = await measureApprove(c, await pauseRuns(c, 'gatedio', N.approve, 'approve-io'), N.approve, SPACING_MS);
    });
    await phase('http trigger', async () => {
      results.http = await measureHttp(c, N.http, SPACING_MS);
    });
  } catch (err) {
    results.errors.push({ phase: 'setup', message: (err as Error).stack ?? String(err) });
  } finally {
    await client?.close().catch(() => {});
    await Promise.all(workers.map((w) => w.stop()));
    if (ctx) {
      await ctx.app.close().catch(() => {});
      ctx.blocking.disconnect();
      ctx.admin.disconnect();
    }
    await server?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  results.machine.loadAvgEnd = loadavg();
  results.seconds = (performance.now() - started) / 1000;
  results.verdicts = verdicts(results);
  console.log(render(results));
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${results.startedAt.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
  return results.errors.length ? 1 : 0;
}

process.exitCode = await main();
