import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, TEST_SERVER } from './app.ts';

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
