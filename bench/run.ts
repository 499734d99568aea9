/**
 * `npm run bench` (full, a few minutes) and `npm run bench -- --quick` (about a minute, for CI
 * smoke). Starts its own redis-server, the project's MCP test server over streamable HTTP and
 * `interlock worker` children, measures, prints a table and writes bench/results/<timestamp>.json.
 *
 * The headline figures are taken with Redis syncing its AOF as Interlock's private Redis does
 * (`appendfsync always`); every figure that depends on it (latency, throughput, approve, HTTP
 * trigger) is measured again right after with `appendfsync everysec` (CONFIG SET on the same
 * Redis) and printed beside it (--quick leaves throughput out of that). Exits 0 whatever the figures are; a phase that breaks makes it exit 1.
 *
 *   --quick                 fewer samples (also `npm run bench --quick`, which npm passes as npm_config_quick)
 *   --fsync always|everysec|no   the redis-server's AOF policy for the headline figures (default always)
 *   --beside everysec|always|none  the policy measured beside them (default everysec; none with --fsync no)
 *   --out <dir>             where the JSON goes (default bench/results)
 *   --only <a,b>            run only these phases (latency, counts, throughput, paused, approve, http).
 *                           For profiling one phase, not for the README's table.
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
import { render, verdicts, type BenchResults, type Figures, type Machine } from './lib/report.ts';
import { measureCounts } from './phases/counts.ts';
import { measureHttp, withApi } from './phases/http.ts';
import { directClient, directStdioClient, measureLatency } from './phases/latency.ts';
import { measureApprove, measurePaused, pauseRuns } from './phases/paused.ts';
import { measureThroughput } from './phases/throughput.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick') || process.env.npm_config_quick === 'true';
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const fsync = (arg('--fsync') ?? 'always') as Fsync;
if (!['always', 'everysec', 'no'].includes(fsync)) throw new Error(`--fsync must be always, everysec or no (got ${fsync})`);
const besideArg = arg('--beside') ?? (fsync === 'no' || fsync === 'everysec' ? 'none' : 'everysec');
if (!['always', 'everysec', 'none'].includes(besideArg))
  throw new Error(`--beside must be always, everysec or none (got ${besideArg})`);
if (besideArg !== 'none' && (fsync === 'no' || besideArg === fsync))
  throw new Error(`--beside ${besideArg} needs an AOF policy of its own beside --fsync ${fsync}`);
const beside = besideArg === 'none' ? undefined : (besideArg as Fsync);
const outDir = arg('--out') ?? join(ROOT, 'bench/results');
const PHASES = ['latency', 'counts', 'throughput', 'paused', 'approve', 'http'] as const;
type Phase = (typeof PHASES)[number];
const only = arg('--only')
  ?.split(',')
  .map((p) => p.trim());
const unknownPhase = only?.find((p) => !(PHASES as readonly string[]).includes(p));
if (unknownPhase) throw new Error(`--only: unknown phase '${unknownPhase}' (phases: ${PHASES.join(', ')})`);
const wanted = (name: Phase): boolean => !only || only.includes(name);

const N = quick
  ? {
      direct: 150,
      one: 40,
      chain: 10,
      counts: { oneStep: 10, chain: 3, gated: 5, idleMs: 1000 },
      runs: 20,
      raw: 2000,
      rawCall: 200,
      directRate: 200,
      paused: 1000,
      approve: 40,
      http: 40,
    }
  : {
      direct: 1000,
      one: 300,
      chain: 100,
      counts: { oneStep: 30, chain: 10, gated: 10, idleMs: 3000 },
      runs: 200,
      raw: 20000,
      rawCall: 2000,
      directRate: 3000,
      paused: 10000,
      approve: 300,
      http: 200,
    };
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
    redisPersistence:
      fsync === 'no' ? 'no persistence' : `appendonly, appendfsync ${fsync}${beside ? ` (${beside} beside)` : ''}`,
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
  const results: BenchResults = {
    mode: quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    machine: machine('?'),
    concurrency: CONCURRENCY,
    fsync: { headline: fsync, ...(beside ? { beside } : {}) },
    errors: [],
  };
  const phase = async (key: Phase, label: string, fn: () => Promise<void>): Promise<void> => {
    if (!wanted(key)) return;
    const t0 = performance.now();
    try {
      await fn();
    } catch (err) {
      results.errors.push({ phase: label, message: (err as Error).stack ?? String(err) });
    }
    process.stderr.write(`bench: ${label} ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
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

    const setFsync = async (policy: Fsync): Promise<void> => {
      if (fsync === 'no') return;
      await c.admin.config('SET', 'appendfsync', policy);
      const now = ((await c.admin.config('GET', 'appendfsync')) as string[])[1];
      if (now !== policy) throw new Error(`redis-server kept appendfsync ${now} after CONFIG SET ${policy}`);
    };
    // A figure that depends on how Redis syncs its AOF is taken at the headline policy, then right
    // after at the one beside it, so both see the same machine at nearly the same time.
    const twice = async (
      key: Phase,
      label: string,
      fn: (into: Figures, policy: Fsync) => Promise<void>,
      besideToo = true,
    ): Promise<void> => {
      await phase(key, label, async () => {
        await setFsync(fsync);
        await fn(results, fsync);
      });
      if (!beside || !besideToo) return;
      await phase(key, `${label} (${beside})`, async () => {
        await setFsync(beside);
        try {
          await fn((results.beside ??= {}), beside);
        } finally {
          await setFsync(fsync);
        }
      });
    };

    await twice('latency', 'latency', async (into, policy) => {
      into.latency = await measureLatency(c, direct, { direct: N.direct, one: N.one, chain: N.chain }, undefined, `-${policy}`);
      const stdio = await directStdioClient(join(dir, 'direct-calls.jsonl'));
      try {
        into.latencyStdio = await measureLatency(
          c,
          stdio,
          { direct: N.direct, one: N.one, chain: N.chain },
          { one: 'oneio', chain: 'chainio' },
          `-${policy}`,
          w1,
        );
      } finally {
        await stdio.close();
      }
    });
    await phase('counts', 'round trips', async () => {
      results.counts = await measureCounts(c, w1, N.counts);
    });
    await twice(
      'throughput',
      'throughput',
      async (into) => {
        into.throughput = await measureThroughput(
          c,
          w1,
          direct,
          { runs: N.runs, raw: N.raw, rawCall: N.rawCall, directRate: N.directRate, warm: quick ? 5 : 40, tries: quick ? 1 : 3 },
          CONCURRENCY,
        );
      },
      !quick,
    ); // the longest phase: --quick (a smoke test) takes it at the headline policy only
    await phase('paused', 'paused runs', async () => {
      results.paused = await measurePaused(c, w1, N.paused);
    });
    await twice('approve', 'approve', async (into, policy) => {
      await withApi(c, async (url) => {
        into.approve = await measureApprove(
          c,
          url,
          await pauseRuns(c, 'gated', 2 * N.approve, `approve-${policy}`),
          N.approve,
          SPACING_MS,
        );
        into.approveStdio = await measureApprove(
          c,
          url,
          await pauseRuns(c, 'gatedio', 2 * N.approve, `approve-io-${policy}`),
          N.approve,
          SPACING_MS,
          w1,
        );
      });
    });
    await twice('http', 'http trigger', async (into, policy) => {
      into.http = await withApi(c, (url) => measureHttp(c, url, N.http, SPACING_MS, `http-${policy}`));
    });
  } catch (err) {
    results.errors.push({ phase: 'setup', message: (err as Error).stack ?? String(err) });
  } finally {
    // Tear-down after the figures are taken; a failure here changes none of them (errors above are recorded).
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
