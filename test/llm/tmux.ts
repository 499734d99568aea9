import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A private tmux server (its own socket, so the user's sessions and their environment stay out)
 * where a test types into real terminals and reads what they show.
 */
export class Tmux {
  readonly socket = `interlock-test-${randomUUID().slice(0, 8)}`;

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** Runs `argv` with exactly `env` in a new 220×60 session; the pane stays after it exits, saying how. */
  start(name: string, argv: string[], env: Record<string, string>, cwd: string): void {
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const assignments = Object.entries(env)
      .map(([k, v]) => q(`${k}=${v}`))
      .join(' ');
    const cmd = `cd ${q(cwd)} && env -i ${assignments} ${argv.map(q).join(' ')}; echo "[exited $?]"; sleep 600`;
    this.tmux('new-session', '-d', '-s', name, '-x', '220', '-y', '60', cmd);
  }

  /** Everything the pane shows, scrollback included, wrapped lines joined. */
  screen(name: string): string {
    return this.tmux('capture-pane', '-p', '-J', '-t', name, '-S', '-5000');
  }

  /** Types the text literally, then Enter. */
  type(name: string, text: string): void {
    this.tmux('send-keys', '-t', name, '-l', text);
    this.tmux('send-keys', '-t', name, 'Enter');
  }

  async waitFor(name: string, test: RegExp | ((screen: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen(name);
      if (typeof test === 'function' ? test(s) : test.test(s)) return s;
      if (Date.now() > deadline) throw new Error(`terminal "${name}" never showed ${String(test)}; it shows:\n${s}`);
      await sleep(100);
    }
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}

export function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}
