import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, callLogPath } from '../helpers/app.ts';
import { TestRedis, freePort } from '../helpers/redis.ts';
import { TOKENS, configYaml } from '../server/helpers.ts';

const EXTRA_WORKFLOW = `
  hello:
    description: added by a reload
    inputs: { type: object }
    steps:
      - { id: say, call: test.echo, with: { text: hi } }
`;

// `interlock serve` as a child process: SIGHUP and POST /api/v1/reload both read the file again;
// the route needs admin and answers a broken file with CONFIG_INVALID at file:line:col.
describe('reloading a running `interlock serve`', () => {
  const redis = new TestRedis();
  beforeAll(async () => {
    await redis.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('reloads on SIGHUP and on POST /api/v1/reload (admin only), and keeps the config when the file is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'interlock-serve-reload-'));
    const file = join(dir, 'workflows.yaml');
    const base = configYaml({ tokens: true, log: callLogPath() });
    writeFileSync(file, base);
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'serve'], {
      cwd: dir,
      env: {
        ...process.env, INTERLOCK_CONFIG: file, REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
        IL_TEST_READER: TOKENS.reader, IL_TEST_TRIGGER: TOKENS.trigger, IL_TEST_APPROVER: TOKENS.approver, IL_TEST_ADMIN: TOKENS.admin,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const url = `http://127.0.0.1:${port}/api/v1`;
    const workflows = async () => {
      const res = await fetch(`${url}/workflows`, { headers: { authorization: `Bearer ${TOKENS.reader}` } });
      return ((await res.json()) as { workflows: Array<{ name: string }> }).workflows.map((w) => w.name);
    };
    const reload = (token: string) => fetch(`${url}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    try {
      await expect.poll(() => err, { timeout: 30_000 }).toContain('/mcp');
      expect(await workflows()).not.toContain('hello');

      writeFileSync(file, base.replace('workflows:\n', `workflows:\n${EXTRA_WORKFLOW}`));
      child.kill('SIGHUP');
      await expect.poll(workflows, { timeout: 10_000 }).toContain('hello');
      expect(err).toContain('workflows added: hello');

      writeFileSync(file, base);
      const denied = await reload(TOKENS.trigger);
      expect(denied.status).toBe(403);
      expect(await workflows()).toContain('hello');
      const ok = await reload(TOKENS.admin);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ file, changes: { workflows: { added: [], removed: ['hello'], changed: [] } } });
      expect(await workflows()).not.toContain('hello');

      writeFileSync(file, base.replace('confirmation_ttl: 1h', 'confirmation_ttl: soon'));
      const line = base.split('\n').findIndex((l) => l.includes('confirmation_ttl')) + 1;
      const bad = await reload(TOKENS.admin);
      expect(bad.status).toBe(400);
      const body = (await bad.json()) as { error: { code: string; message: string; details: { issues: Array<{ file: string; line: number; col: number }> } } };
      expect(body.error.code).toBe('CONFIG_INVALID');
      expect(body.error.details.issues[0]).toMatchObject({ file, line });
      expect(body.error.message).toContain(`${file}:${line}:`);
      child.kill('SIGHUP');
      await expect.poll(() => err, { timeout: 10_000 }).toContain('config reload failed, keeping the previous config');
      expect(err).toContain(`${file}:${line}:`);
      expect(await workflows()).toEqual(expect.arrayContaining(['greet', 'pay']));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    for (const v of Object.values(TOKENS)) expect(err).not.toContain(v);
  }, 60_000);
});
