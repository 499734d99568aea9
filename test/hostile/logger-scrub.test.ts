/**
 * The logger's own line of defence: whatever field a registered secret rides in (a message, an
 * error's text, a nested object, a URL), the line written to stderr carries [redacted] instead.
 * Run in a child process because the logger writes to file descriptor 2.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/app.ts';

describe('createLogger scrubs every registered secret', () => {
  it('removes the secret from messages, nested fields, errors and URL-encoded forms', async () => {
    const secret = `sk-log-canary/${randomBytes(8).toString('hex')}`;
    const code = `
      const { createLogger } = await import(${JSON.stringify(join(ROOT, 'src/logger.ts'))});
      const { registerSecret } = await import(${JSON.stringify(join(ROOT, 'src/secrets.ts'))});
      registerSecret(process.env.CANARY);
      const log = createLogger({ level: 'info' });
      const s = process.env.CANARY;
      log.info({ nested: { deeper: 'key=' + s }, url: 'https://x.example/?k=' + encodeURIComponent(s) }, 'message with ' + s);
      log.error({ err: new Error('Incorrect API key provided: ' + s) }, 'failed');
    `;
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, CANARY: secret, LOG_LEVEL: 'info' },
    });
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(stderr).not.toContain(secret);
    expect(stderr).not.toContain(encodeURIComponent(secret));
    expect(lines[0]).toContain('message with [redacted]');
    expect(lines[1]).toContain('Incorrect API key provided: [redacted]');
  });
});
