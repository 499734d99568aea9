import { describe, expect } from 'vitest';
import { validateArguments } from '../../src/connectors/arguments.ts';
import { ConnectorPool } from '../../src/connectors/pool.ts';
import { IDEMPOTENCY_META_KEY } from '../../src/connectors/types.ts';
import type { Logger } from 'pino';
import { keeping, test } from '../helpers/fixtures.ts';
import { CallLog, TEST_SERVER, captureLogger, connector, stdioServer, until } from './helpers.ts';
import { rejection } from './rejection.ts';

type MakePool = (flags?: string[], extra?: Parameters<typeof connector>[2], logger?: Logger) => ConnectorPool;

/**
 * Per test: `log`, the test server's call log (removed after); `keep(pool)`, closed after the test;
 * `makePool(flags, extra, logger)`, a kept pool whose connector `t` is the test server as a child
 * over stdio, logging to `log`.
 */
const it = test.extend<{ log: CallLog; keep: (pool: ConnectorPool) => ConnectorPool; makePool: MakePool }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  log: async ({}, use) => {
    const log = new CallLog();
    try {
      await use(log);
    } finally {
      log.remove();
    }
  },
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  keep: async ({}, use) => keeping(use),

  makePool: async ({ log, keep }, use) =>
    use((flags = [], extra = {}, logger = captureLogger().logger) =>
      keep(
        new ConnectorPool(
          { t: connector('t', stdioServer(flags, { TEST_SERVER_LOG: log.file }), extra) },
          { logger, backoff: { initialDelayMs: 20, maxDelayMs: 200 } },
        ),
      ),
    ),
});

describe('ConnectorPool over stdio (test server as a child process)', () => {
  it('lists every tool across pages by following nextCursor', async ({ makePool }) => {
    const tools = await makePool(['--paginate']).listTools('t');
    expect(tools.map((t) => t.name)).toEqual(['echo', 'add', 'record', 'fail', 'slow', 'whoami', 'toggle_extra_tool', 'send']);
  });

  it('classifies writes from annotations: record and toggle are writes, echo is a read', async ({ makePool }) => {
    const byName = Object.fromEntries((await makePool().listTools('t')).map((t) => [t.name, t]));
    expect(byName.echo).toMatchObject({ connector: 't', write: false, idempotent: true });
    expect(byName.record).toMatchObject({ write: true, idempotent: true });
    expect(byName.toggle_extra_tool).toMatchObject({ write: true, idempotent: false, annotations: {} });
    expect(byName.echo.outputSchema).toMatchObject({ properties: { text: { type: 'string' } } });
  });

  it('filters tools by allow/deny and explains why a filtered tool cannot be used', async ({ log, makePool }) => {
    const pool = makePool([], { tools: { allow: ['*'], deny: ['rec*', 'toggle_*'] } });
    expect((await pool.listTools('t')).map((t) => t.name)).not.toContain('record');
    const disabled = await rejection(pool.callTool('t', 'record', { name: 'x' }));
    expect(disabled.code).toBe('TOOL_DISABLED');
    expect(disabled.message).toContain('t.record is disabled: it matches tools.deny pattern "rec*"');
    expect((await rejection(pool.getTool('t', 'nope'))).code).toBe('TOOL_NOT_FOUND');
    expect((await rejection(pool.getTool('nope', 'echo'))).code).toBe('CONNECTOR_NOT_FOUND');
    expect(log.read()).toEqual([]);
  });

  it('rejects bad arguments naming the field before anything reaches the server', async ({ log, makePool }) => {
    const pool = makePool();
    const tool = await pool.getTool('t', 'add');
    expect(() => validateArguments(tool, { a: 1, b: 'two' })).toThrow('Invalid arguments for t.add: b must be number');
    const err = await rejection(pool.callTool('t', 'add', { a: 1 }));
    expect(err.code).toBe('ARGUMENTS_INVALID');
    expect(err.details).toMatchObject({ issues: [{ field: 'b', message: 'is required' }] });
    expect(log.read()).toEqual([]);
  });

  it('returns structuredContent as output and joined text, and a tool error as a result', async ({ makePool }) => {
    const pool = makePool();
    expect(await pool.callTool('t', 'add', { a: 2, b: 3 })).toEqual({
      isError: false,
      output: { sum: 5 },
      structured: { sum: 5 },
      content: [{ type: 'text', text: '{"sum":5}' }],
      text: '{"sum":5}',
    });
    const failed = await pool.callTool('t', 'fail', { message: 'card declined' });
    expect(failed).toEqual({
      isError: true,
      output: [{ type: 'text', text: 'card declined' }],
      content: [{ type: 'text', text: 'card declined' }],
      text: 'card declined',
    });
  });

  it('sends the idempotency key in _meta where the server can read it', async ({ log, makePool }) => {
    const pool = makePool();
    await pool.callTool('t', 'record', { name: 'refund', value: 10 }, { idempotencyKey: 'interlock-run1-step2' });
    expect(IDEMPOTENCY_META_KEY).toBe('interlock/idempotencyKey');
    expect(log.read()).toMatchObject([
      { tool: 'record', args: { name: 'refund', value: 10 }, idempotencyKey: 'interlock-run1-step2' },
    ]);
  });

  it('reuses one session for many calls, and concurrent first uses share one connect', async ({ makePool }) => {
    const pool = makePool();
    const results = await Promise.all(Array.from({ length: 8 }, () => pool.callTool('t', 'whoami', {})));
    for (let i = 0; i < 5; i++) results.push(await pool.callTool('t', 'whoami', {}));
    const pids = new Set(results.map((r) => (r.output as { pid: number }).pid));
    expect(pids.size).toBe(1);
    expect(pool.status()).toEqual([{ id: 't', state: 'connected', connects: 1, toolCount: 8 }]);
  });

  it('reconnects after the child is killed and retries an in-flight read once', async ({ makePool }) => {
    const pool = makePool();
    const first = (await pool.callTool('t', 'whoami', {})).output as { pid: number };
    process.kill(first.pid, 'SIGKILL');
    // The call may race the exit notice: either it reconnects first, or it fails and is retried once.
    const second = (await pool.callTool('t', 'whoami', {})).output as { pid: number };
    expect(second.pid).not.toBe(first.pid);
    expect(pool.status()[0]).toMatchObject({ state: 'connected', connects: 2 });
  });

  it('retries a read that was in flight when the child died, once, on a new child', async ({ log, makePool }) => {
    const pool = makePool();
    const { pid } = (await pool.callTool('t', 'whoami', {})).output as { pid: number };
    const pending = pool.callTool('t', 'slow', { ms: 300 });
    await until(() => log.read().some((c) => c.tool === 'slow'), 'the read to reach the server');
    process.kill(pid, 'SIGKILL');
    expect((await pending).output).toEqual({ sleptMs: 300 });
    const slows = log.read().filter((c) => c.tool === 'slow');
    expect(slows).toHaveLength(2);
    expect(slows[1].pid).not.toBe(pid);
  });

  it('reconnects before sending a write when the session was already known dead', async ({ log, makePool }) => {
    const pool = makePool();
    const { pid } = (await pool.callTool('t', 'whoami', {})).output as { pid: number };
    process.kill(pid, 'SIGKILL');
    await until(() => pool.status()[0].state === 'idle', 'the pool to notice the exit');
    expect(pool.status()[0].lastError).toBe('connection closed');
    const res = await pool.callTool('t', 'record', { name: 'after-restart' }, { idempotencyKey: 'k-after' });
    expect(res.isError).toBe(false);
    expect(log.read().filter((c) => c.tool === 'record')).toHaveLength(1);
  });

  it('never resends a write that was in flight when the connection died', async ({ log, makePool }) => {
    const pool = makePool();
    const { pid } = (await pool.callTool('t', 'whoami', {})).output as { pid: number };
    const pending = pool.callTool('t', 'record', { name: 'in-flight', delayMs: 5000 }, { idempotencyKey: 'k-1' });
    await until(() => log.read().some((c) => c.tool === 'record'), 'the write to reach the server');
    process.kill(pid, 'SIGKILL');
    const err = await rejection(pending);
    expect(err.code).toBe('CONNECTOR_UNAVAILABLE');
    expect(err.message).toContain('Connector "t" is unavailable');
    expect(err.details).toMatchObject({ connector: 't', maybeDelivered: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(log.read().filter((c) => c.tool === 'record')).toHaveLength(1);
    // The connector itself recovers on the next call.
    expect((await pool.callTool('t', 'echo', { text: 'ok' })).output).toEqual({ text: 'ok' });
  });

  it('refreshes its catalog when the server announces tools/list_changed', async ({ makePool }) => {
    const pool = makePool(['--paginate']);
    expect((await pool.listTools('t')).map((t) => t.name)).not.toContain('extra');
    const changed: string[] = [];
    pool.onToolsChanged((id) => changed.push(id));
    await pool.callTool('t', 'toggle_extra_tool', {});
    await until(() => changed.length > 0, 'onToolsChanged');
    expect(changed).toEqual(['t']);
    expect((await pool.listTools('t')).map((t) => t.name)).toContain('extra');
    expect((await pool.callTool('t', 'extra', {})).output).toEqual({ extra: true });
  });

  it('turns a call that outlives its timeout into STEP_TIMEOUT, and the session stays usable', async ({ makePool }) => {
    const pool = makePool();
    const err = await rejection(pool.callTool('t', 'slow', { ms: 5000 }, { timeoutMs: 150 }));
    expect(err.code).toBe('STEP_TIMEOUT');
    expect(err.message).toBe('t.slow did not answer within 150 ms');
    expect((await pool.callTool('t', 'echo', { text: 'still here' })).text).toBe('{"text":"still here"}');
    expect(pool.status()[0].connects).toBe(1);
  });

  it('uses the connector timeout when the call gives none', async ({ makePool }) => {
    const pool = makePool([], { timeoutMs: 150 });
    await pool.listTools('t');
    expect((await rejection(pool.callTool('t', 'slow', { ms: 5000 }))).code).toBe('STEP_TIMEOUT');
  });

  it("rejects with the caller's own abort reason", async ({ makePool }) => {
    const pool = makePool();
    await pool.listTools('t');
    const ac = new AbortController();
    const reason = new Error('run cancelled');
    const p = pool.callTool('t', 'slow', { ms: 5000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    await expect(p).rejects.toBe(reason);
  });

  it('sends child stderr to the logger at debug level', async ({ makePool }) => {
    const { logger, lines } = captureLogger();
    const pool = makePool([], {}, logger);
    await pool.listTools('t');
    await until(() => lines.some((l) => l.includes('test-server ready on stdio')), 'stderr in the log');
    const line = JSON.parse(lines.find((l) => l.includes('test-server ready'))!) as { level: number; connector: string };
    expect(line).toMatchObject({ level: 20, connector: 't' });
  });

  it('starts `command: interlock` as the configured Interlock binary with the connector args appended', async ({ keep }) => {
    const pool = keep(
      new ConnectorPool(
        { self: connector('self', { type: 'stdio', command: 'interlock', args: ['--stdio'], env: {} }) },
        { interlockCommand: { command: process.execPath, args: [TEST_SERVER] } },
      ),
    );
    expect((await pool.callTool('self', 'echo', { text: 'me' })).output).toEqual({ text: 'me' });
  });

  it('gives up with CONNECTOR_UNAVAILABLE when the server cannot be started, and says so in status', async ({ keep }) => {
    const pool = keep(
      new ConnectorPool(
        { gone: connector('gone', { type: 'stdio', command: process.execPath, args: ['-e', 'process.exit(3)'], env: {} }) },
        { backoff: { initialDelayMs: 10, maxDelayMs: 20, attemptsPerCall: 3 } },
      ),
    );
    const err = await rejection(pool.listTools('gone'));
    expect(err.code).toBe('CONNECTOR_UNAVAILABLE');
    expect(err.message).toMatch(/^Connector "gone" is unavailable: /);
    expect(pool.status()[0]).toMatchObject({ id: 'gone', state: 'failed', connects: 0 });
  });

  it('close() ends the child process and refuses later calls', async ({ makePool }) => {
    const pool = makePool();
    const { pid } = (await pool.callTool('t', 'whoami', {})).output as { pid: number };
    await pool.close();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(pool.status()[0].state).toBe('closed');
    expect((await rejection(pool.callTool('t', 'echo', { text: 'x' }))).code).toBe('CONNECTOR_UNAVAILABLE');
  });
});
