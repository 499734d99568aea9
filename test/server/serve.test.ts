import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, callLogPath } from '../helpers/app.ts';
import { TestRedis, freePort } from '../helpers/redis.ts';
import { TOKENS, configYaml } from './helpers.ts';

describe('interlock serve (the CLI command, as a child process)', () => {
  const redis = new TestRedis();
  beforeAll(async () => {
    await redis.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('prints its URLs, serves API, pages, MCP and metrics, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'interlock-serve-'));
    const config = join(dir, 'workflows.yaml');
    writeFileSync(config, configYaml({ tokens: true, log: callLogPath() }));
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'serve'], {
      cwd: dir,
      env: {
        ...process.env, INTERLOCK_CONFIG: config, REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
        IL_TEST_READER: TOKENS.reader, IL_TEST_TRIGGER: TOKENS.trigger, IL_TEST_APPROVER: TOKENS.approver, IL_TEST_ADMIN: TOKENS.admin,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 200 && !err.includes('/mcp'); i++) await new Promise((r) => setTimeout(r, 50));
      for (const path of ['/api/v1', '/ui', '/admin/queues', '/metrics', '/mcp']) expect(err).toContain(`${base}${path}`);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const run = await fetch(`${base}/api/v1/workflows/greet/runs`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKENS.trigger}`, 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { text: 'served' } }),
      });
      expect(run.status).toBe(202);
      const mcp = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.trigger}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
      });
      expect(mcp.status).toBe(200);
      expect(mcp.headers.get('mcp-session-id')).toBeTruthy();
      await mcp.body?.cancel();
      expect((await fetch(`${base}/mcp`, { method: 'POST' })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(err).toContain('SIGTERM');
    for (const v of Object.values(TOKENS)) expect(err).not.toContain(v);
  });
});
