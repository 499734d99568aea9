import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/app.ts';

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
      env: this.env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
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

  /** SIGTERM and wait for the exit code. */
  async terminate(): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    return exited;
  }
}
