import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStripeSandbox, type StripeSandbox } from '../../src/sandbox/stripe/index.ts';
import { ROOT } from '../helpers/app.ts';
import { TestRedis, freePort } from '../helpers/redis.ts';
import { WorkerProcess } from '../helpers/processes.ts';

/* One write that waits for approval: a refund of 100 cents on a seeded sandbox charge. */
const yaml = `
connectors:
  stripe: { transport: stdio, command: interlock, args: [connector, stripe] }
policy:
  confirmation_ttl: 1h
workflows:
  refund:
    description: refund 100 cents of a charge, once a person approves
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: refund
        call: stripe.create_refund
        with: { charge_id: "\${{ inputs.charge }}", amount: 100, reason: requested_by_customer }
`;

const GRACE_MS = 3000;
const COMMAND_TIMEOUT_MS = 1000;
/** A bound on each request during the outage: the client gives up after it, so an answer must come first. */
const ANSWER_WITHIN_MS = 1000;

/** `interlock serve` as a child process, as users run it. */
class ServeProcess {
  proc: ChildProcess | undefined;
  output = '';
  url = '';
  private readonly env: NodeJS.ProcessEnv;
  constructor(env: NodeJS.ProcessEnv) {
    this.env = env;
  }

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const p = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'serve'], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...this.env, PORT: String(port), HOST: '127.0.0.1' },
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = p;
    await new Promise<void>((resolve, reject) => {
      p.stderr?.on('data', (b: Buffer) => {
        this.output += b.toString();
        if (this.output.includes('Interlock serving on')) resolve();
      });
      p.stdout?.on('data', (b: Buffer) => (this.output += b.toString()));
      p.once('exit', (code, sig) => reject(new Error(`serve exited (${code ?? sig}) before it was ready:\n${this.output}`)));
    });
  }

  /** Sends `signal` and waits for the exit, up to `boundMs`; undefined if it was still running then. */
  async signal(signal: NodeJS.Signals, boundMs: number): Promise<number | null | undefined> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    return Promise.race([exited, sleep(boundMs).then(() => undefined)]);
  }

  kill(): void {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Sends `signal` to a child started elsewhere and waits for it to be gone, up to `boundMs`; undefined if it was still there. */
async function signalPid(pid: number | undefined, signal: NodeJS.Signals, boundMs: number): Promise<true | undefined> {
  if (pid === undefined) return true;
  process.kill(pid, signal);
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(50);
  }
  return undefined;
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string }; status?: string } | undefined;
}

describe('faults: Redis outages are answered at once, never carried out later, and do not stop shutdown', () => {
  const redis = new TestRedis();
  let sandbox: StripeSandbox;
  let serve: ServeProcess;
  let env: Record<string, string>;
  const others: WorkerProcess[] = [];

  beforeAll(async () => {
    await redis.start();
    sandbox = await startStripeSandbox({ port: 0 });
    const file = join(mkdtempSync(join(tmpdir(), 'interlock-outage-')), 'workflows.yaml');
    writeFileSync(file, yaml);
    env = {
      REDIS_URL: redis.url,
      INTERLOCK_CONFIG: file,
      INTERLOCK_STRIPE_API_URL: sandbox.url,
      INTERLOCK_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      INTERLOCK_REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    };
    serve = new ServeProcess(env);
    await serve.start();
  }, 60_000);

  // A test that failed during an outage must not leave the next one without Redis.
  let redisDown = false;
  const stopRedis = async () => {
    await redis.kill();
    redisDown = true;
  };
  const startRedis = async () => {
    if (!redisDown) return;
    await redis.start();
    redisDown = false;
  };
  afterEach(startRedis);

  afterAll(async () => {
    serve?.kill();
    await Promise.all(others.map((w) => w.kill()));
    await sandbox?.close();
    await redis.stop();
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    withinMs = ANSWER_WITHIN_MS,
  ): Promise<Answer> {
    const res = await fetch(`${serve.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(withinMs),
    });
    const text = await res.text();
    let parsed: Answer['body'];
    try {
      parsed = JSON.parse(text) as Answer['body'];
    } catch {
      parsed = undefined;
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: parsed };
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; serve said:\n${serve.output}`);
      await sleep(100);
    }
  }

  const ready = (want: number) =>
    until(`/readyz ${want}`, async () => ((await call('GET', '/readyz')).status === want ? true : undefined));

  async function pendingConfirmation(runId: string): Promise<{ id: string; argumentsHash: string }> {
    return until(`run ${runId} to wait for approval`, async () => {
      const run = await call('GET', `/api/v1/runs/${runId}`);
      const b = run.body;
      if (b?.status !== 'awaiting_confirmation') return undefined;
      const list = await call('GET', '/api/v1/confirmations?status=pending');
      const items = (list.body as unknown as { confirmations: Array<{ id: string; runId: string; argumentsHash: string }> })
        .confirmations;
      return items.find((c) => c.runId === runId);
    });
  }

  async function trigger(charge: string): Promise<string> {
    const r = await call('POST', '/api/v1/workflows/refund/runs', { inputs: { charge } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return (r.body as unknown as { id: string }).id;
  }

  const refundsOf = (charge: string) => Object.values(sandbox.state().refunds).filter((r) => r.charge === charge);

  it('answers 100 requests across the API with 503 REDIS_UNAVAILABLE and Retry-After, carries none of them out, and works again in the same process', async () => {
    // A run paused at its write before the outage gives the routes real ids to ask about.
    const runId = await trigger('ch_seed_100');
    const conf = await pendingConfirmation(runId);

    const logFrom = serve.output.length;
    await stopRedis();
    await ready(503);

    const routes: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['GET', '/api/v1/workflows'],
      ['POST', '/api/v1/workflows/refund/runs', { inputs: { charge: 'ch_seed_101' } }],
      ['POST', '/api/v1/workflows/refund/runs', { inputs: { charge: 'ch_seed_102' } }, { 'idempotency-key': 'outage-key' }],
      ['GET', '/api/v1/runs'],
      ['GET', `/api/v1/runs?status=awaiting_confirmation`],
      ['GET', `/api/v1/runs/${runId}`],
      ['GET', `/api/v1/runs/${runId}/events`],
      ['POST', `/api/v1/runs/${runId}/cancel`],
      ['GET', '/api/v1/confirmations?status=pending'],
      ['GET', `/api/v1/confirmations/${conf.id}`],
      ['POST', `/api/v1/confirmations/${conf.id}/approve`, { argumentsHash: conf.argumentsHash }],
      ['POST', `/api/v1/confirmations/${conf.id}/deny`, {}],
      ['GET', '/api/v1/connectors'],
      ['GET', '/api/v1/connectors/stripe/tools'],
      ['POST', '/api/v1/connectors/stripe/refresh'],
      ['PATCH', '/api/v1/connectors/stripe/tools/create_refund', { enabled: false }],
      ['POST', `/api/v1/runs/${runId}/steps/refund/resolve`, { action: 'fail' }],
    ];
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const [method, path, body, headers] = routes[i % routes.length];
      const a = await call(method, path, body, headers);
      expect(a.status, `${method} ${path}: ${JSON.stringify(a.body)}`).toBe(503);
      expect(a.body?.error?.code).toBe('REDIS_UNAVAILABLE');
      expect(a.body?.error?.message).toMatch(/Redis is unavailable/);
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      seen.add(i % routes.length);
    }
    expect(seen.size).toBe(routes.length);
    // The probes say so too: alive, not ready.
    expect((await call('GET', '/healthz')).status).toBe(200);
    const readyz = await call('GET', '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.body?.status).toBe('unavailable');
    // An outage of a few seconds: before, every reconnect attempt of every connection logged a warning (~12/s).
    await sleep(3000);

    await startRedis();
    await ready(200);
    // Whatever was answered 503 stays undone once Redis is back: no offline queue replays it.
    await sleep(1500);
    const runs = await call('GET', '/api/v1/runs');
    expect((runs.body as unknown as { runs: Array<{ id: string }> }).runs.map((r) => r.id)).toEqual([runId]);
    const stillPending = await call('GET', `/api/v1/confirmations/${conf.id}`);
    expect((stillPending.body as unknown as { status: string }).status).toBe('pending');
    expect(refundsOf('ch_seed_100')).toHaveLength(0);
    expect(refundsOf('ch_seed_101')).toHaveLength(0);
    expect(refundsOf('ch_seed_102')).toHaveLength(0);
    const connectors = await call('GET', '/api/v1/connectors/stripe/tools');
    expect(JSON.stringify(connectors.body)).toContain('create_refund');

    // The same process, no restart: approve the paused write and a fresh trigger → approve → succeed.
    const approved = await call('POST', `/api/v1/confirmations/${conf.id}/approve`, { argumentsHash: conf.argumentsHash });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const second = await trigger('ch_seed_103');
    const conf2 = await pendingConfirmation(second);
    expect((await call('POST', `/api/v1/confirmations/${conf2.id}/approve`, { argumentsHash: conf2.argumentsHash })).status).toBe(
      200,
    );
    for (const id of [runId, second]) {
      await until(`run ${id} to succeed`, async () =>
        (await call('GET', `/api/v1/runs/${id}`)).body?.status === 'succeeded' ? true : undefined,
      );
    }
    expect(refundsOf('ch_seed_100')).toHaveLength(1);
    expect(refundsOf('ch_seed_103')).toHaveLength(1);
    const outageLog = serve.output
      .slice(logFrom)
      .split('\n')
      .filter((l) => l.startsWith('{'));
    console.log(
      `test:faults — Redis outage: ${outageLog.length} log lines from the outage to the end of the test:\n${outageLog.join('\n')}`,
    );
    // The outage was logged once when it began and once when it ended, not once per reconnect attempt
    // or per request answered 503.
    expect(outageLog.filter((l) => l.includes('is unavailable'))).toHaveLength(1);
    expect(outageLog.filter((l) => l.includes('is available again'))).toHaveLength(1);
    expect(outageLog).toHaveLength(2);
  }, 120_000);

  it('answers at once while Redis hangs without closing the connection (SIGSTOP), once one command has timed out', async () => {
    const admin = new Redis(redis.url);
    const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    const before = await admin.dbsize();
    admin.disconnect();
    process.kill(pid, 'SIGSTOP');
    try {
      // Nothing tells a hung Redis from a slow one before the command timeout; that first answer waits for it.
      const first = await call('GET', '/api/v1/runs', undefined, {}, COMMAND_TIMEOUT_MS + 2000);
      expect(first.status).toBe(503);
      expect(first.body?.error?.code).toBe('REDIS_UNAVAILABLE');
      for (let i = 0; i < 20; i++) {
        const [method, path, body] =
          i % 2 === 0
            ? (['POST', '/api/v1/workflows/refund/runs', { inputs: { charge: 'ch_seed_107' } }] as const)
            : (['GET', '/api/v1/confirmations?status=pending'] as const);
        const a = await call(method, path, body);
        expect(a.status, `${method} ${path}`).toBe(503);
        expect(Number(a.retryAfter)).toBeGreaterThan(0);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await ready(200);
    await sleep(1000);
    const check = new Redis(redis.url);
    expect(await check.dbsize()).toBe(before);
    check.disconnect();
    expect(refundsOf('ch_seed_107')).toHaveLength(0);
    const runId = await trigger('ch_seed_108');
    await pendingConfirmation(runId);
  }, 60_000);

  it('answers an MCP tool call with an error result naming Redis, not a protocol error or a hang', async () => {
    const client = new Client({ name: 'outage-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${serve.url}/mcp`)));
    try {
      await stopRedis();
      await ready(503);
      for (const [name, args] of [
        ['run_workflow', { workflow: 'refund', inputs: { charge: 'ch_seed_104' } }],
        ['get_run', { runId: 'run_missing' }],
      ] as const) {
        const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 5000 })) as CallToolResult;
        expect(r.isError, name).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(/Redis is unavailable/);
      }
    } finally {
      await client.close();
      await startRedis();
      await ready(200);
    }
    expect(refundsOf('ch_seed_104')).toHaveLength(0);
  }, 60_000);

  it('makes a CLI command exit non-zero with the message within a few seconds', async () => {
    await stopRedis();
    try {
      const cli = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'run', 'refund', '--input', 'charge=ch_seed_105'], {
        env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stderr.on('data', (b: Buffer) => (out += b.toString()));
      cli.stdout.on('data', (b: Buffer) => (out += b.toString()));
      // A bound that tells "exits" from "hangs" (the old client waited for Redis forever); most of the
      // time is Node starting the CLI, which a loaded machine slows down.
      const started = Date.now();
      const code = await Promise.race([
        new Promise<number | null>((r) => cli.once('exit', (c) => r(c))),
        sleep(30_000).then(() => 'still running' as const),
      ]);
      console.log(`test:faults — Redis outage: \`interlock run\` exited ${String(code)} after ${Date.now() - started} ms`);
      if (code === 'still running') cli.kill('SIGKILL');
      expect(code, out).toBe(1);
      expect(out).toMatch(/REDIS_UNAVAILABLE/);
      expect(out).toMatch(/Cannot reach Redis/);
    } finally {
      await startRedis();
      await ready(200);
    }
    expect(refundsOf('ch_seed_105')).toHaveLength(0);
  }, 60_000);

  it('ends `interlock serve` and `interlock mcp` on SIGTERM and `interlock worker` on SIGINT within the grace period plus 2 s while Redis is down', async () => {
    const worker = new WorkerProcess(env);
    others.push(worker);
    await worker.start();
    // The stdio facade as a desktop client runs it: stdin stays open, so only the signal ends it.
    const mcp = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'mcp'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let mcpOut = '';
    mcp.stderr.on('data', (b: Buffer) => (mcpOut += b.toString()));
    await until('interlock mcp to be ready', async () => (mcpOut.includes('ready on stdio') ? true : undefined));
    // Runs paused and running at once: the server holds open streams and workers hold blocking reads.
    const paused = await trigger('ch_seed_106');
    await pendingConfirmation(paused);
    const events = await fetch(`${serve.url}/api/v1/runs/${paused}/events`);
    expect(events.status).toBe(200);
    await stopRedis();
    await ready(503);

    const bound = GRACE_MS + 2000;
    const signalled = Date.now();
    const [servedExit, workerExit, mcpExit] = await Promise.all([
      serve.signal('SIGTERM', bound),
      signalPid(worker.pid, 'SIGINT', bound),
      signalPid(mcp.pid, 'SIGTERM', bound),
    ]);
    console.log(
      `test:faults — Redis outage: serve exited ${String(servedExit)} ${Date.now() - signalled} ms after SIGTERM (grace ${GRACE_MS} ms)`,
    );
    expect(servedExit, `serve still running ${bound} ms after SIGTERM:\n${serve.output}`).not.toBeUndefined();
    expect(workerExit, `worker still running ${bound} ms after SIGINT:\n${worker.output}`).not.toBeUndefined();
    if (mcpExit === undefined) mcp.kill('SIGKILL');
    expect(mcpExit, `interlock mcp still running ${bound} ms after SIGTERM:\n${mcpOut}`).not.toBeUndefined();
    await events.body?.cancel().catch(() => {});
  }, 60_000);
});
