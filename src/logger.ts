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
        paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
          'apiKey', '*.apiKey', 'secret', '*.secret', 'password', '*.password'],
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
