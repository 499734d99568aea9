import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';
import type { App } from '../../src/app.ts';
import { ROOT, TEST_SERVER, makeApp } from './app.ts';
import { TestRedis } from './redis.ts';

/** The project's MCP test server as a child process over streamable HTTP, logging its calls to `log`. */
export function startTestServer(log: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [TEST_SERVER, '--http', '0'], { env: { ...process.env, TEST_SERVER_LOG: log }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = out.split('\n').find((l) => l.startsWith('http'));
      if (url) resolve({ proc, url: url.trim() });
    });
    proc.once('exit', (code) => reject(new Error(`test server exited with ${code}`)));
  });
}

/** `interlock worker` as a child process; `ready` resolves once it says so. */
export function startWorker(configFile: string, redisUrl: string, prefix: string): { proc: ChildProcess; ready: Promise<void> } {
  const proc = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), '--config', configFile, 'worker'], {
    env: { ...process.env, REDIS_URL: redisUrl, INTERLOCK_PREFIX: prefix, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('worker ready')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
  ready.catch(() => {});
  return { proc, ready };
}

export async function stop(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await exited;
}

/** The most calls that arrived within any window of `perMs` (half-open), and where it starts. */
export function busiestWindow(times: number[], perMs: number): { count: number; start: number } {
  const t = [...times].sort((a, b) => a - b);
  let best = { count: 0, start: Number.NaN };
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    while (t[i] - t[j] >= perMs) j++;
    if (i - j + 1 > best.count) best = { count: i - j + 1, start: t[j] };
  }
  return best;
}

/**
 * What a multi-process test shares, set up in beforeAll and torn down in afterAll of the calling
 * describe: its own Redis, the MCP test server over HTTP (logging to `log`), the config written
 * for `interlock worker` children, and an App in the test process (trigger and inspect, no workers).
 */
export interface WorkerFixture {
  app: App;
  /** starts `n` worker processes on the fixture's config; they are stopped after the suite */
  startWorkers(n: number): Array<{ proc: ChildProcess; ready: Promise<void> }>;
  /** the ids among `ids` that have not succeeded by the deadline */
  unsucceeded(ids: string[], timeoutMs: number, everyMs?: number): Promise<string[]>;
}

export function workerFixture(tag: string, yaml: (serverUrl: string) => string, log: string): WorkerFixture {
  const redis = new TestRedis();
  const configFile = join(mkdtempSync(join(tmpdir(), `interlock-${tag}-`)), 'workflows.yaml');
  let server: ChildProcess | undefined;
  const workers: ChildProcess[] = [];
  const fx = {
    app: undefined as unknown as App,
    startWorkers(n: number) {
      const started = Array.from({ length: n }, () => startWorker(configFile, redis.url, fx.app.prefix));
      workers.push(...started.map((w) => w.proc));
      return started;
    },
    async unsucceeded(ids: string[], timeoutMs: number, everyMs = 100) {
      const deadline = Date.now() + timeoutMs;
      let left = ids;
      while (left.length && Date.now() < deadline) {
        const p = fx.app.redis.client.pipeline();
        for (const id of left) p.hget(fx.app.store.keys.run(id), 'status');
        const res = (await p.exec()) ?? [];
        left = left.filter((_, i) => res[i]?.[1] !== 'succeeded');
        if (left.length) await sleep(everyMs);
      }
      return left;
    },
  };
  beforeAll(async () => {
    await redis.start();
    const s = await startTestServer(log);
    server = s.proc;
    writeFileSync(configFile, yaml(s.url));
    fx.app = await makeApp(yaml(s.url), redis.url, configFile);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => stop(w)));
    await fx.app?.close();
    if (server) await stop(server);
    await redis.stop();
  });
  return fx;
}
