/**
 * The rig of faults/redis-outage.test.ts: `interlock serve` as a child process (as users run it) on
 * the file's Redis and Stripe sandbox, with a short shutdown grace and Redis command timeout, and
 * what the tests ask it through. `redisBack`, named by every test, starts Redis again after a test
 * that stopped it, so a test that failed during an outage does not leave the next one without it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { StripeSandbox } from '../../src/sandbox/stripe/index.ts';
import { ROOT } from '../helpers/app.ts';
import { test } from '../helpers/fixtures.ts';
import { WorkerProcess } from '../helpers/processes.ts';
import { type TestRedis, freePort } from '../helpers/redis.ts';

export const GRACE_MS = 3000;
export const COMMAND_TIMEOUT_MS = 1000;
/** A bound on each request during the outage: the client gives up after it, so an answer must come first. */
const ANSWER_WITHIN_MS = 1000;

/** `interlock serve` as a child process, as users run it. */
export class ServeProcess {
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
export async function signalPid(pid: number | undefined, signal: NodeJS.Signals, boundMs: number): Promise<true | undefined> {
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

export interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string }; status?: string } | undefined;
}

export class Outage {
  readonly serve: ServeProcess;
  /** what a child `interlock` process of this rig gets: Redis, the config, the sandbox, the short timeouts */
  readonly env: Record<string, string>;
  private readonly redis: TestRedis;
  private readonly sandbox: StripeSandbox;
  private readonly others: WorkerProcess[] = [];
  private redisDown = false;

  constructor(redis: TestRedis, sandbox: StripeSandbox, configFile: string) {
    this.redis = redis;
    this.sandbox = sandbox;
    this.env = {
      REDIS_URL: redis.url,
      INTERLOCK_CONFIG: configFile,
      INTERLOCK_STRIPE_API_URL: sandbox.url,
      INTERLOCK_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      INTERLOCK_REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    };
    this.serve = new ServeProcess(this.env);
  }

  stopRedis = async (): Promise<void> => {
    await this.redis.kill();
    this.redisDown = true;
  };

  startRedis = async (): Promise<void> => {
    if (!this.redisDown) return;
    await this.redis.start();
    this.redisDown = false;
  };

  /** An `interlock worker` on the rig's env, SIGKILLed after the file. */
  startWorker = async (): Promise<WorkerProcess> => {
    const w = new WorkerProcess(this.env);
    this.others.push(w);
    await w.start();
    return w;
  };

  async close(): Promise<void> {
    this.serve.kill();
    await Promise.all(this.others.map((w) => w.kill()));
  }

  /** A request to the server that must be answered within `withinMs`. */
  call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    withinMs = ANSWER_WITHIN_MS,
  ): Promise<Answer> => {
    const res = await fetch(`${this.serve.url}${path}`, {
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
  };

  until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; serve said:\n${this.serve.output}`);
      await sleep(100);
    }
  };

  ready = (want: number) =>
    this.until(`/readyz ${want}`, async () => ((await this.call('GET', '/readyz')).status === want ? true : undefined));

  pendingConfirmation = (runId: string): Promise<{ id: string; argumentsHash: string }> =>
    this.until(`run ${runId} to wait for approval`, async () => {
      const run = await this.call('GET', `/api/v1/runs/${runId}`);
      const b = run.body;
      if (b?.status !== 'awaiting_confirmation') return undefined;
      const list = await this.call('GET', '/api/v1/confirmations?status=pending');
      const items = (list.body as unknown as { confirmations: Array<{ id: string; runId: string; argumentsHash: string }> })
        .confirmations;
      return items.find((c) => c.runId === runId);
    });

  trigger = async (charge: string): Promise<string> => {
    const r = await this.call('POST', '/api/v1/workflows/refund/runs', { inputs: { charge } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return (r.body as unknown as { id: string }).id;
  };

  refundsOf = (charge: string) => Object.values(this.sandbox.state().refunds).filter((r) => r.charge === charge);
}

/** `outage`: the rig for `yaml`, its server started; `redisBack`: Redis running again after each test. */
export function outageTest(yaml: string) {
  return test
    .extend<{ outage: Outage }>({
      outage: [
        async ({ redis, stripe }, use) => {
          const dir = mkdtempSync(join(tmpdir(), 'interlock-outage-'));
          const file = join(dir, 'workflows.yaml');
          writeFileSync(file, yaml);
          const outage = new Outage(redis, stripe, file);
          try {
            await outage.serve.start();
            await use(outage);
          } finally {
            await outage.close();
            rmSync(dir, { recursive: true, force: true });
          }
        },
        { scope: 'file' },
      ],
    })
    .extend<{ redisBack: undefined }>({
      redisBack: [
        async ({ outage }, use) => {
          await use(undefined);
          await outage.startRedis();
        },
        { auto: true },
      ],
    });
}
