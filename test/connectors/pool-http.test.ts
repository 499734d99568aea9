import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect } from 'vitest';
import { ConnectorPool } from '../../src/connectors/pool.ts';
import { startTestServerHttp, type TestServerHttp } from '../fixtures/test-server.ts';
import { type Keep, keeping, test } from '../helpers/fixtures.ts';
import { COMPILE_CACHE, TEST_SERVER, captureLogger, connector, until } from './helpers.ts';
import { rejection } from './rejection.ts';

const TOKEN = 'tok_live_7Hq2sEcr3tValue';

/** `closing(x)`: x is closed after the test (a second close of one a test closed itself is ignored). */
const closingTest = test.extend<{ closing: Keep }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  closing: async ({}, use) => keeping(use),
});

interface SetupOptions {
  token?: string;
  env?: NodeJS.ProcessEnv;
  headers?: Record<string, string>;
  bearer?: boolean;
}

for (const mode of ['streamable', 'sse'] as const) {
  const type = mode === 'streamable' ? 'streamable-http' : 'sse';

  describe(`ConnectorPool over ${type} (test server on loopback)`, () => {
    /** `setup(opts)`: the test server on loopback and a pool whose connector `h` reaches it, both closed after the test */
    const it = closingTest.extend<{
      setup: (opts?: SetupOptions) => Promise<{ server: TestServerHttp; pool: ConnectorPool; lines: string[] }>;
    }>({
      setup: async ({ closing }, use) =>
        use(async (opts = {}) => {
          const server = closing(await startTestServerHttp({ mode, ...(opts.token ? { token: opts.token } : {}) }));
          const cap = captureLogger();
          const pool = closing(
            new ConnectorPool(
              {
                h: connector(
                  'h',
                  { type, url: server.url, headers: opts.headers ?? {} },
                  {
                    auth: opts.bearer ? { type: 'bearer', tokenEnv: 'H_TOKEN' } : { type: 'none' },
                  },
                ),
              },
              { logger: cap.logger, env: opts.env ?? {}, backoff: { initialDelayMs: 20, maxDelayMs: 100, attemptsPerCall: 3 } },
            ),
          );
          return { server, pool, lines: cap.lines };
        }),
    });

    it('calls tools and extracts output, text and tool errors', async ({ setup }) => {
      const { pool } = await setup();
      expect(await pool.callTool('h', 'echo', { text: 'hello' })).toEqual({
        isError: false,
        output: { text: 'hello' },
        structured: { text: 'hello' },
        content: [{ type: 'text', text: '{"text":"hello"}' }],
        text: '{"text":"hello"}',
      });
      expect(await pool.callTool('h', 'fail', {})).toMatchObject({ isError: true, text: 'this tool always fails' });
    });

    it('delivers the idempotency key in _meta', async ({ setup }) => {
      const { pool, server } = await setup();
      await pool.callTool('h', 'record', { name: 'x' }, { idempotencyKey: 'interlock-r-s' });
      expect(server.calls).toMatchObject([{ tool: 'record', idempotencyKey: 'interlock-r-s' }]);
    });

    it('opens one session for many calls', async ({ setup }) => {
      const { pool, server } = await setup();
      await Promise.all(Array.from({ length: 5 }, (_, i) => pool.callTool('h', 'add', { a: i, b: 1 })));
      for (let i = 0; i < 5; i++) await pool.callTool('h', 'echo', { text: String(i) });
      expect(server.sessionsCreated).toBe(1);
      expect(new Set(server.calls.map((c) => c.sessionId)).size).toBe(1);
      expect(pool.status()[0]).toMatchObject({ state: 'connected', connects: 1 });
    });

    it('refreshes its catalog on tools/list_changed', async ({ setup }) => {
      const { pool } = await setup();
      await pool.listTools('h');
      const changed: string[] = [];
      pool.onToolsChanged((id) => changed.push(id));
      await pool.callTool('h', 'toggle_extra_tool', {});
      await until(() => changed.length > 0, 'onToolsChanged');
      expect((await pool.listTools('h')).map((t) => t.name)).toContain('extra');
    });

    it('re-establishes a session the server forgot and retries the read once', async ({ setup }) => {
      const { pool, server } = await setup();
      await pool.callTool('h', 'echo', { text: 'before' });
      server.forgetSessions();
      expect((await pool.callTool('h', 'echo', { text: 'after' })).output).toEqual({ text: 'after' });
      expect(server.sessionsCreated).toBe(2);
      expect(pool.status()[0].connects).toBe(2);
    });

    it('sends the bearer token from the environment', async ({ setup }) => {
      const { pool, server } = await setup({ token: TOKEN, bearer: true, env: { H_TOKEN: TOKEN } });
      expect((await pool.callTool('h', 'add', { a: 1, b: 2 })).output).toEqual({ sum: 3 });
      expect(server.calls).toHaveLength(1);
    });

    it('resolves ${env:NAME} in configured headers', async ({ setup }) => {
      const { pool } = await setup({
        token: TOKEN,
        headers: { Authorization: 'Bearer ${env:HDR_TOKEN}' },
        env: { HDR_TOKEN: TOKEN },
      });
      expect((await pool.callTool('h', 'echo', { text: 'via header' })).output).toEqual({ text: 'via header' });
    });

    it('keeps a rejected token out of the error and the logs, even when the server echoes it', async ({ setup }) => {
      const wrong = 'tok_wrong_Zz9yY8xX';
      const { pool, lines } = await setup({ token: TOKEN, bearer: true, env: { H_TOKEN: wrong } });
      const err = await rejection(pool.callTool('h', 'echo', { text: 'x' }));
      expect(err.code).toBe('CONNECTOR_UNAVAILABLE');
      expect(err.message).toContain('Connector "h" is unavailable');
      // The streamable transport quotes the 401 body, which carries the token; SSE only gives the status.
      if (mode === 'streamable') expect(err.message).toContain('[redacted]');
      expect(err.message).not.toContain(wrong);
      expect(JSON.stringify(err.details)).not.toContain(wrong);
      expect(lines.join('')).not.toContain(wrong);
      expect(JSON.stringify(pool.status())).not.toContain(wrong);
      expect(pool.status()[0].state).toBe('failed');
    });

    it('names a missing token variable without trying to connect', async ({ setup }) => {
      const { pool, server } = await setup({ token: TOKEN, bearer: true, env: {} });
      const err = await rejection(pool.listTools('h'));
      expect(err.code).toBe('CONNECTOR_UNAVAILABLE');
      expect(err.message).toContain('auth.tokenEnv H_TOKEN is not set');
      expect(server.sessionsCreated).toBe(0);
    });

    it('turns a slow call into STEP_TIMEOUT', async ({ setup }) => {
      const { pool } = await setup();
      const err = await rejection(pool.callTool('h', 'slow', { ms: 3000 }, { timeoutMs: 100 }));
      expect(err.code).toBe('STEP_TIMEOUT');
    });

    it('reports CONNECTOR_UNAVAILABLE while the server is down and recovers when it is back', async ({ setup, closing }) => {
      const { pool, server } = await setup();
      const port = server.port;
      await pool.callTool('h', 'echo', { text: 'up' });
      await server.close();
      const err = await rejection(pool.callTool('h', 'echo', { text: 'down' }));
      expect(err.code).toBe('CONNECTOR_UNAVAILABLE');
      closing(await startTestServerHttp({ mode, port }));
      expect((await pool.callTool('h', 'echo', { text: 'back' })).output).toEqual({ text: 'back' });
    });
  });
}

describe('streamable-http specifics', () => {
  const it = closingTest;

  it('does not resend a write that met a forgotten session; says it was not delivered', async ({ closing }) => {
    const server = closing(await startTestServerHttp({ mode: 'streamable' }));
    const pool = closing(new ConnectorPool({ h: connector('h', { type: 'streamable-http', url: server.url, headers: {} }) }));
    await pool.callTool('h', 'echo', { text: 'warm up' });
    server.forgetSessions();
    const err = await rejection(pool.callTool('h', 'record', { name: 'w' }, { idempotencyKey: 'k' }));
    expect(err.code).toBe('CONNECTOR_UNAVAILABLE');
    expect(err.details).toMatchObject({ connector: 'h', maybeDelivered: false });
    expect(server.calls.filter((c) => c.tool === 'record')).toEqual([]);
    // The engine may send it again; the pool has a fresh session by then.
    expect((await pool.callTool('h', 'record', { name: 'w' }, { idempotencyKey: 'k' })).output).toEqual({ seq: 1 });
    expect(server.sessionsCreated).toBe(2);
  });

  it('serves over --http <port> when run as its own process', async ({ closing }) => {
    const child = spawn(process.execPath, [TEST_SERVER, '--http', '0'], {
      env: { ...process.env, ...COMPILE_CACHE },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`test server exited with ${code}`)));
      });
      const pool = closing(new ConnectorPool({ h: connector('h', { type: 'streamable-http', url, headers: {} }) }));
      expect((await pool.callTool('h', 'add', { a: 20, b: 22 })).output).toEqual({ sum: 42 });
    } finally {
      child.kill();
    }
  });
});
