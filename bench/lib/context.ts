/**
 * What every bench phase shares: the config written to disk for worker children, the test
 * server's call log, the bench-side App (trigger, approve; no workers) and a way to wait for a
 * run to end by following its event stream.
 */
import { closeSync, openSync, readSync, fstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { loadConfig } from '../../src/workflows/load.ts';
import { excludeSocket } from './probe.ts';
import { ROOT, type BenchRedis } from './procs.ts';

export const CHAIN = 10;
/** the long chain of the throughput phase (stdio only): where the first step's job is spread thinnest */
export const LONG_CHAIN = 100;

/**
 * `one` and `chain` call the read tool `echo` over streamable HTTP (connector `test`); `chain`
 * feeds each step the previous output, so every call of one run carries the run's marker text.
 * `chainio`, `oneio` and `gatedio` are the same over stdio (connector `io`: each worker starts its
 * own server, logging to the same file). `chain100io` is the same chain, a hundred steps long. `gated` is
 * one write that pauses; `sleeping` waits an hour first.
 */
export function benchYaml(serverUrl: string, concurrency: number, logPath: string): string {
  const chain = (connector: string, length = CHAIN) =>
    Array.from({ length }, (_, i) =>
      [
        `      - id: s${i + 1}`,
        `        call: ${connector}.echo`,
        `        with: { text: "\${{ ${i === 0 ? 'inputs.text' : `steps.s${i}.output.text`} }}" }`,
      ].join('\n'),
    ).join('\n');
  const inputs = '    inputs: { type: object, required: [text], properties: { text: { type: string } } }';
  return `
connectors:
  test:
    transport: streamable-http
    url: ${serverUrl}
    concurrency: ${concurrency}
  io:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(join(ROOT, 'test/fixtures/test-server.ts'))}, --stdio]
    env: { TEST_SERVER_LOG: ${JSON.stringify(logPath)} }
    concurrency: ${concurrency}
workflows:
  one:
    description: one read
${inputs}
    steps:
      - id: s1
        call: test.echo
        with: { text: "\${{ inputs.text }}" }
  chain:
    description: ten reads, each fed by the one before
${inputs}
    steps:
${chain('test')}
  chainio:
    description: the same chain over stdio
${inputs}
    steps:
${chain('io')}
  chain100io:
    description: a hundred reads over stdio, each fed by the one before
${inputs}
    steps:
${chain('io', LONG_CHAIN)}
  oneio:
    description: one read over stdio
${inputs}
    steps:
      - id: s1
        call: io.echo
        with: { text: "\${{ inputs.text }}" }
  gatedio:
    description: one write over stdio, which waits for a person
${inputs}
    steps:
      - id: s1
        call: io.record
        with: { name: "\${{ inputs.text }}" }
  gated:
    description: one write, which waits for a person
${inputs}
    steps:
      - id: s1
        call: test.record
        with: { name: "\${{ inputs.text }}" }
  sleeping:
    description: a durable wait of an hour, then one write
${inputs}
    steps:
      - id: nap
        sleep: 1h
      - id: s1
        call: test.record
        with: { name: "\${{ inputs.text }}" }
`;
}

export interface LoggedCall {
  tool: string;
  args: Record<string, unknown>;
  time: number;
}

/** Reads the test server's call log as it grows, without reading it again from the start. */
export class CallLog {
  readonly path: string;
  private offset = 0;
  private rest = '';
  readonly calls: LoggedCall[] = [];
  constructor(path: string) {
    this.path = path;
  }

  poll(): LoggedCall[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    const fresh: LoggedCall[] = [];
    try {
      const size = fstatSync(fd).size;
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        readSync(fd, buf, 0, buf.length, this.offset);
        this.offset = size;
        const text = this.rest + buf.toString('utf8');
        const lines = text.split('\n');
        this.rest = lines.pop() ?? '';
        for (const l of lines) if (l) fresh.push(JSON.parse(l) as LoggedCall);
      }
    } finally {
      closeSync(fd);
    }
    this.calls.push(...fresh);
    return fresh;
  }

  /** Polls until `pred` holds for the calls seen so far. */
  async until(pred: (calls: LoggedCall[]) => boolean, timeoutMs: number, everyMs = 20): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      if (pred(this.calls)) return;
      if (Date.now() > deadline)
        throw new Error(`call log: condition not met within ${timeoutMs} ms (${this.calls.length} calls)`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Times of the calls whose argument `key` equals `value`, in arrival order. */
  timesFor(tool: string, key: string, value: string): number[] {
    return this.calls
      .filter((c) => c.tool === tool && c.args[key] === value)
      .map((c) => c.time)
      .sort((a, b) => a - b);
  }
}

export interface BenchContext {
  app: App;
  redis: BenchRedis;
  configFile: string;
  prefix: string;
  log: CallLog;
  /** a dedicated connection for blocking reads, left out of the round-trip counts */
  blocking: Redis;
  /** a plain connection for INFO and inspection, left out of the counts */
  admin: Redis;
  serverPid: number;
  serverUrl: string;
}

export async function makeContext(
  redis: BenchRedis,
  dir: string,
  server: { url: string; pid: number },
  logPath: string,
  concurrency: number,
): Promise<BenchContext> {
  const serverUrl = server.url;
  const configFile = join(dir, 'workflows.yaml');
  writeFileSync(configFile, benchYaml(serverUrl, concurrency, logPath));
  const prefix = 'ilb';
  const app = await App.create({ config: loadConfig(configFile), redisUrl: redis.url, prefix, logger: silentLogger() });
  const side = (): Redis => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: null });
    c.on('error', () => {});
    c.once('connect', () => excludeSocket((c as unknown as { stream: unknown }).stream));
    return c;
  };
  const blocking = side();
  const admin = side();
  await Promise.all([blocking.ping(), admin.ping()]);
  return { app, redis, configFile, prefix, log: new CallLog(logPath), blocking, admin, serverPid: server.pid, serverUrl };
}

const END_EVENTS = new Set([
  'run.succeeded',
  'run.failed',
  'run.denied',
  'run.cancelled',
  'run.needs_attention',
  'confirmation.requested',
]);

/**
 * Follows a run's event stream until it ends or pauses; returns the event type that ended it.
 * `pauses` counts the `confirmation.requested` events to read past (1 after one approval).
 */
export async function waitRun(ctx: BenchContext, runId: string, pauses = 0, timeoutMs = 30_000): Promise<string> {
  const key = ctx.app.store.keys.events(runId);
  const deadline = Date.now() + timeoutMs;
  let last = '0';
  let skip = pauses;
  for (;;) {
    const res = (await ctx.blocking.xread('BLOCK', 1000, 'STREAMS', key, last)) as [string, [string, string[]][]][] | null;
    for (const [, entries] of res ?? []) {
      for (const [id, fields] of entries) {
        last = id;
        const type = fields[fields.indexOf('type') + 1];
        if (type === 'confirmation.requested' && skip > 0) skip--;
        else if (END_EVENTS.has(type)) return type;
      }
    }
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end within ${timeoutMs} ms`);
  }
}

export async function usedMemory(admin: Redis): Promise<number> {
  const info = await admin.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Jobs of a queue that are not finished yet. */
export async function openJobs(ctx: BenchContext, connector = 'test'): Promise<number> {
  const c = await ctx.app.queues
    .get(connector)
    .getJobCounts('wait', 'active', 'paused', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(c).reduce((a, b) => a + b, 0);
}
