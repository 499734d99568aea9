import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { ROOT, callLogPath } from '../helpers/app.ts';
import { test } from '../helpers/fixtures.ts';
import { type TestRedis, freePort } from '../helpers/redis.ts';
import { TOKENS, TOKENS_ENV, configYaml } from './helpers.ts';

/** `interlock serve` on a free port with `yaml` as its config file and the test tokens in its environment. */
async function spawnServe(redis: TestRedis, yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'interlock-serve-'));
  const file = join(dir, 'workflows.yaml');
  writeFileSync(file, yaml);
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: dir,
    env: {
      ...process.env,
      INTERLOCK_CONFIG: file,
      REDIS_URL: redis.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...TOKENS_ENV,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, port, file, exited, err: () => err };
}

/** `startServe(yaml)`: spawnServe on the file's Redis. */
const it = test.extend<{ startServe: (yaml: string) => ReturnType<typeof spawnServe> }>({
  startServe: async ({ redis }, use) => use((yaml) => spawnServe(redis, yaml)),
});

describe('interlock serve (the CLI command, as a child process)', () => {
  it('prints its URLs, serves API, pages, MCP and metrics, and stops cleanly on SIGTERM', async ({ startServe }) => {
    const { child, port, err, exited } = await startServe(configYaml({ tokens: true, log: callLogPath() }));
    try {
      const base = `http://127.0.0.1:${port}`;
      await expect.poll(err, { timeout: 30_000 }).toContain('/mcp');
      for (const path of ['/api/v1', '/ui', '/admin/queues', '/metrics', '/mcp']) expect(err()).toContain(`${base}${path}`);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const run = await fetch(`${base}/api/v1/workflows/greet/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.trigger}`, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: { text: 'served' } }),
      });
      expect(run.status).toBe(202);
      const mcp = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKENS.trigger}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        }),
      });
      expect(mcp.status).toBe(200);
      expect(mcp.headers.get('mcp-session-id')).toBeTruthy();
      await mcp.body?.cancel();
      expect((await fetch(`${base}/mcp`, { method: 'POST' })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(err()).toContain('SIGTERM');
    for (const v of Object.values(TOKENS)) expect(err()).not.toContain(v);
  });

  it('reloads on SIGHUP and on POST /api/v1/reload (admin only), and keeps the config when the file is broken', async ({
    startServe,
  }) => {
    const base = configYaml({ tokens: true, log: callLogPath() });
    const { child, port, err, exited, file } = await startServe(base);
    const url = `http://127.0.0.1:${port}/api/v1`;
    const workflows = async () => {
      const res = await fetch(`${url}/workflows`, { headers: { authorization: `Bearer ${TOKENS.reader}` } });
      return ((await res.json()) as { workflows: Array<{ name: string }> }).workflows.map((w) => w.name);
    };
    const reload = (token: string) => fetch(`${url}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    try {
      await expect.poll(err, { timeout: 30_000 }).toContain('/mcp');
      expect(await workflows()).not.toContain('hello');

      writeFileSync(file, base.replace('workflows:\n', `workflows:\n${EXTRA_WORKFLOW}`));
      child.kill('SIGHUP');
      await expect.poll(workflows, { timeout: 10_000 }).toContain('hello');
      expect(err()).toContain('workflows added: hello');

      writeFileSync(file, base);
      expect((await reload(TOKENS.trigger)).status).toBe(403);
      expect(await workflows()).toContain('hello');
      const ok = await reload(TOKENS.admin);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ file, changes: { workflows: { added: [], removed: ['hello'], changed: [] } } });
      expect(await workflows()).not.toContain('hello');

      writeFileSync(file, base.replace('confirmation_ttl: 1h', 'confirmation_ttl: soon'));
      const line = base.split('\n').findIndex((l) => l.includes('confirmation_ttl')) + 1;
      const bad = await reload(TOKENS.admin);
      expect(bad.status).toBe(400);
      const body = (await bad.json()) as {
        error: { code: string; message: string; details: { issues: Array<{ file: string; line: number; col: number }> } };
      };
      expect(body.error.code).toBe('CONFIG_INVALID');
      expect(body.error.details.issues[0]).toMatchObject({ file, line });
      expect(body.error.message).toContain(`${file}:${line}:`);
      child.kill('SIGHUP');
      await expect.poll(err, { timeout: 10_000 }).toContain('config reload failed, keeping the previous config');
      expect(err()).toContain(`${file}:${line}:`);
      expect(await workflows()).toEqual(expect.arrayContaining(['greet', 'pay']));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    for (const v of Object.values(TOKENS)) expect(err()).not.toContain(v);
  });
});

const EXTRA_WORKFLOW = `
  hello:
    description: added by a reload
    inputs: { type: object }
    steps:
      - { id: say, call: test.echo, with: { text: hi } }
`;
