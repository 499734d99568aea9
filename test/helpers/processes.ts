import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../../src/app.ts';
import { ROOT, TEST_SERVER } from './app.ts';

/** The project's MCP test server as a child process over streamable HTTP, logging its calls to `log`. */
export function startTestServer(log: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [TEST_SERVER, '--http', '0'], {
    env: { ...process.env, TEST_SERVER_LOG: log },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

/**
 * `interlock worker` (or `serve`) as a real child process (the same binary users run), so a test
 * can SIGKILL it the way a crash or an OOM kill would, and start a fresh one.
 */
export class WorkerProcess {
  private proc: ChildProcess | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly command: 'worker' | 'serve';
  /** everything the child wrote to stderr, for the test's failure messages and secret checks */
  output = '';
  /** resolves with the signal or exit code once the process has ended */
  exited: Promise<string> = Promise.resolve('not started');

  constructor(env: Record<string, string>, command: 'worker' | 'serve' = 'worker') {
    this.env = { ...process.env, LOG_LEVEL: 'warn', ...env };
    this.command = command;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): Promise<void> {
    const p = spawn(process.execPath, [join(ROOT, 'bin/interlock.js'), this.command], {
      env: this.env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = p;
    this.exited = new Promise((r) => p.once('exit', (code, sig) => r(String(sig ?? code))));
    const readyText = this.command === 'worker' ? 'worker ready' : 'Interlock serving on';
    return new Promise((resolve, reject) => {
      const onData = (b: Buffer) => {
        this.output += b.toString();
        if (this.output.includes(readyText)) resolve();
      };
      p.stderr?.on('data', onData);
      p.stdout?.on('data', (b: Buffer) => (this.output += b.toString()));
      p.once('exit', (code, sig) => reject(new Error(`worker exited (${code ?? sig}) before it was ready:\n${this.output}`)));
    });
  }

  /** SIGKILL: no handler runs, in-flight steps are abandoned mid-call. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Sends a signal and returns at once (SIGHUP: reload the config). */
  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  /** SIGTERM and wait for the exit code. */
  async terminate(): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    return exited;
  }
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

/** The ids among `ids` whose runs have not succeeded by the deadline (read straight from Redis, in one pipeline a round). */
export async function unsucceeded(app: App, ids: string[], timeoutMs: number, everyMs = 100): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = ids;
  while (left.length && Date.now() < deadline) {
    const p = app.redis.client.pipeline();
    for (const id of left) p.hget(app.store.keys.run(id), 'status');
    const res = (await p.exec()) ?? [];
    left = left.filter((_, i) => res[i]?.[1] !== 'succeeded');
    if (left.length) await sleep(everyMs);
  }
  return left;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `interlock <args>` as a child process without blocking this one. A suite that keeps an app
 * with workers in this process must not use spawnSync: a CLI start can take tens of seconds on a busy
 * machine, and a blocked event loop starves the app's Redis connections and job locks meanwhile.
 */
export function runCli(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
