/**
 * The processes a bench run starts: its own redis-server, the project's MCP test server over
 * streamable HTTP, `interlock worker` children and raw BullMQ worker children. Every child is
 * started with process.execPath (the Node 24 that runs the bench) and stopped by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../../test/helpers/redis.ts';
import { REDIS_LAYOUT_ARGS } from '../../src/runs/redis.ts';
import type { TraceSteps } from './trace.ts';
import type { ProbeSnapshot } from './probe.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
const PROBE = pathToFileURL(join(ROOT, 'bench/lib/probe.ts')).href;
const TRACE = pathToFileURL(join(ROOT, 'bench/lib/trace.ts')).href;

export type Fsync = 'always' | 'everysec' | 'no';

/** CPU time (user + system) a process has used so far, in ms, from /proc; NaN where there is no /proc. */
export function cpuMs(pid: number): number {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Pids of a process's children (its stdio MCP servers), from /proc; empty where there is no /proc. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

export class BenchRedis {
  port = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'interlock-bench-redis-'));
  private proc: ChildProcess | undefined;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  async start(fsync: Fsync): Promise<this> {
    this.port = await freePort();
    const persistence = fsync === 'no' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync];
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        // The same layout as Interlock's private Redis (and docs/scaling.md): each run has a small stream.
        ...REDIS_LAYOUT_ARGS,
        ...persistence,
      ],
      { stdio: 'ignore' },
    );
    const c = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return this;
      } catch {
        c.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A child whose stderr is scanned for a ready line and for probe answers. */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  private err = '';
  private probeWaiters: ((s: ProbeSnapshot) => void)[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  /** what the worker's trace (trace.ts) saw between the last two probes; printed just before the probe's line */
  lastTrace: TraceSteps | undefined;

  constructor(name: string, proc: ChildProcess, readyText: string) {
    this.name = name;
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    this.ready = new Promise<void>((resolveReady, reject) => {
      let buf = '';
      proc.stderr?.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('BENCH_TRACE ')) {
            this.lastTrace = JSON.parse(line.slice('BENCH_TRACE '.length)) as TraceSteps;
            continue;
          }
          if (line.startsWith('BENCH_PROBE ')) {
            const snap = JSON.parse(line.slice('BENCH_PROBE '.length)) as ProbeSnapshot;
            this.probeWaiters.shift()?.(snap);
            continue;
          }
          this.err = `${this.err + line}\n`.slice(-4000);
          if (line.includes(readyText)) resolveReady();
        }
      });
      proc.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready: ${this.err}`)));
    });
    // Whoever awaits `ready` hears the failure; this only keeps an early exit from being unhandled.
    this.ready.catch(() => {});
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  /** Asks the child's probe for counters and memory (after a GC). */
  probe(): Promise<ProbeSnapshot> {
    return new Promise((resolveProbe, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name} did not answer the probe: ${this.err}`)), 10_000);
      this.probeWaiters.push((s) => {
        clearTimeout(t);
        resolveProbe(s);
      });
      this.proc.kill('SIGUSR2');
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

export interface TestServerChild {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** The project's MCP test server over streamable HTTP on loopback, logging every call to `log`. */
export async function startTestServer(log: string): Promise<TestServerChild> {
  const child = spawn(process.execPath, [join(ROOT, 'test/fixtures/test-server.ts'), '--http', '0'], {
    env: { ...process.env, TEST_SERVER_LOG: log },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('http'));
      if (line) res(line.trim());
    });
    child.once('exit', (code) => rej(new Error(`test server exited with ${code}`)));
  });
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function startWorker(name: string, configFile: string, redis: BenchRedis, prefix: string): Child {
  const proc = spawn(
    process.execPath,
    [
      '--expose-gc',
      // BENCH_CPU_PROF=<dir>: each worker writes a V8 CPU profile there when it stops (for profiling a phase).
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      // BENCH_HEAP_PROF=<dir>: the same for a sampling heap profile (what allocates, which is what the GC time follows).
      ...(process.env.BENCH_HEAP_PROF ? ['--heap-prof', `--heap-prof-dir=${process.env.BENCH_HEAP_PROF}`] : []),
      ...(process.env.BENCH_WORKER_FLAGS ? process.env.BENCH_WORKER_FLAGS.split(' ') : []),
      // The trace first, so its line reaches the bench before the probe's on each SIGUSR2.
      '--import',
      TRACE,
      '--import',
      PROBE,
      join(ROOT, 'src/cli.ts'),
      '--config',
      configFile,
      'worker',
    ],
    {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        INTERLOCK_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        BENCH_PROBE: '1',
        BENCH_TRACE: '1',
        BENCH_REDIS_PORT: String(redis.port),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return new Child(name, proc, 'worker ready');
}

/** `queues`: `kind:queue` pairs this process serves (see raw-worker.ts). */
export function startRawWorker(
  name: string,
  redis: BenchRedis,
  prefix: string,
  queues: string[],
  concurrency: number,
  mcpUrl: string,
  callLog?: string,
): Child {
  // The trace too, as in Interlock's workers: its hooks cost both sides the same.
  const proc = spawn(
    process.execPath,
    ['--expose-gc', '--import', TRACE, '--import', PROBE, join(ROOT, 'bench/lib/raw-worker.ts')],
    {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        RAW_PREFIX: prefix,
        RAW_QUEUES: queues.join(','),
        RAW_CONCURRENCY: String(concurrency),
        RAW_MCP_URL: mcpUrl,
        RAW_MCP_STDIO: join(ROOT, 'test/fixtures/test-server.ts'),
        // The stdio servers the raw workers start log each call as Interlock's do (see benchYaml), so
        // the server does the same work for a raw job's call as for a step's.
        ...(callLog ? { TEST_SERVER_LOG: callLog } : {}),
        BENCH_PROBE: '1',
        BENCH_TRACE: '1',
        BENCH_REDIS_PORT: String(redis.port),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return new Child(name, proc, 'raw worker ready');
}
