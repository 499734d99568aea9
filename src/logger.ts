import { pino, type Logger } from 'pino';
import { scrub } from './secrets.ts';

/**
 * Logs go to stderr as JSON (stdout belongs to command output and the stdio MCP transport).
 * Anything that looks like a credential is redacted by path, as a second line of defence:
 * secrets are never put into log objects in the first place.
 */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'interlock',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: {
        paths: [
          'token',
          '*.token',
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          'apiKey',
          '*.apiKey',
          'secret',
          '*.secret',
          'password',
          '*.password',
        ],
        censor: '[redacted]',
      },
      // Every registered secret (src/secrets.ts) is removed from the finished line, whatever field carried it.
      hooks: { streamWrite: scrub },
    },
    pino.destination(2),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * One outage of a dependency, logged as one story instead of an error per reconnect attempt: a
 * warning when it starts, a reminder every `everyMs` (default 30 s) while it lasts, with how many
 * errors were folded into it, and one line when it ends.
 */
export class OutageLog {
  private readonly logger: Logger;
  private readonly what: string;
  private readonly everyMs: number;
  private since: number | undefined;
  private lastLogged = 0;
  private folded = 0;

  constructor(logger: Logger, what: string, everyMs = Number(process.env.INTERLOCK_OUTAGE_LOG_EVERY_MS) || 30_000) {
    this.logger = logger;
    this.what = what;
    this.everyMs = everyMs;
  }

  get down(): boolean {
    return this.since !== undefined;
  }

  /** Something failed because the dependency is away; logs only at the start and every `everyMs`. */
  fail(reason: string): void {
    const now = Date.now();
    if (this.since === undefined) {
      this.since = now;
      this.lastLogged = now;
      this.folded = 0;
      this.logger.warn({ reason }, `${this.what} is unavailable`);
      return;
    }
    this.folded++;
    if (now - this.lastLogged >= this.everyMs) {
      this.lastLogged = now;
      this.logger.warn(
        { reason, downSeconds: Math.round((now - this.since) / 1000), errorsSinceLastLog: this.folded },
        `${this.what} is still unavailable`,
      );
      this.folded = 0;
    }
  }

  /** The dependency answers again (at warn, like the start, so whoever saw the start sees the end). */
  recovered(): void {
    if (this.since === undefined) return;
    this.logger.warn({ downSeconds: Math.round((Date.now() - this.since) / 1000) }, `${this.what} is available again`);
    this.since = undefined;
  }
}
