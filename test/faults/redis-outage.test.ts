import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { ROOT } from '../helpers/app.ts';
import { COMMAND_TIMEOUT_MS, GRACE_MS, outageTest, signalPid } from './outage-rig.ts';

/* One write that waits for approval: a refund of 100 cents on a seeded sandbox charge. */
const yaml = `
connectors:
  stripe: { transport: stdio, command: interlock, args: [connector, stripe] }
policy:
  confirmation_ttl: 1h
workflows:
  refund:
    description: refund 100 cents of a charge, once a person approves
    inputs: { type: object, required: [charge], properties: { charge: { type: string } } }
    steps:
      - id: refund
        call: stripe.create_refund
        with: { charge_id: "\${{ inputs.charge }}", amount: 100, reason: requested_by_customer }
`;

const it = outageTest(yaml);

describe('faults: Redis outages are answered at once, never carried out later, and do not stop shutdown', () => {
  it('answers 100 requests across the API with 503 REDIS_UNAVAILABLE and Retry-After, carries none of them out, and works again in the same process', async ({
    outage,
  }) => {
    const { call, until, ready, pendingConfirmation, trigger, refundsOf, stopRedis, startRedis, serve } = outage;
    // A run paused at its write before the outage gives the routes real ids to ask about.
    const runId = await trigger('ch_seed_100');
    const conf = await pendingConfirmation(runId);

    const logFrom = serve.output.length;
    await stopRedis();
    await ready(503);

    const routes: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['GET', '/api/v1/workflows'],
      ['POST', '/api/v1/workflows/refund/runs', { inputs: { charge: 'ch_seed_101' } }],
      ['POST', '/api/v1/workflows/refund/runs', { inputs: { charge: 'ch_seed_102' } }, { 'idempotency-key': 'outage-key' }],
      ['GET', '/api/v1/runs'],
      ['GET', `/api/v1/runs?status=awaiting_confirmation`],
      ['GET', `/api/v1/runs/${runId}`],
      ['GET', `/api/v1/runs/${runId}/events`],
      ['POST', `/api/v1/runs/${runId}/cancel`],
      ['GET', '/api/v1/confirmations?status=pending'],
      ['GET', `/api/v1/confirmations/${conf.id}`],
      ['POST', `/api/v1/confirmations/${conf.id}/approve`, { argumentsHash: conf.argumentsHash }],
      ['POST', `/api/v1/confirmations/${conf.id}/deny`, {}],
      ['GET', '/api/v1/connectors'],
      ['GET', '/api/v1/connectors/stripe/tools'],
      ['POST', '/api/v1/connectors/stripe/refresh'],
      ['PATCH', '/api/v1/connectors/stripe/tools/create_refund', { enabled: false }],
      ['POST', `/api/v1/runs/${runId}/steps/refund/resolve`, { action: 'fail' }],
    ];
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const [method, path, body, headers] = routes[i % routes.length];
      const a = await call(method, path, body, headers);
      expect(a.status, `${method} ${path}: ${JSON.stringify(a.body)}`).toBe(503);
      expect(a.body?.error?.code).toBe('REDIS_UNAVAILABLE');
      expect(a.body?.error?.message).toMatch(/Redis is unavailable/);
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      seen.add(i % routes.length);
    }
    expect(seen.size).toBe(routes.length);
    // The probes say so too: alive, not ready.
    expect((await call('GET', '/healthz')).status).toBe(200);
    const readyz = await call('GET', '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.body?.status).toBe('unavailable');
    // An outage of a few seconds: before, every reconnect attempt of every connection logged a warning (~12/s).
    await sleep(3000);

    await startRedis();
    await ready(200);
    // Whatever was answered 503 stays undone once Redis is back: no offline queue replays it.
    await sleep(1500);
    const runs = await call('GET', '/api/v1/runs');
    expect((runs.body as unknown as { runs: Array<{ id: string }> }).runs.map((r) => r.id)).toEqual([runId]);
    const stillPending = await call('GET', `/api/v1/confirmations/${conf.id}`);
    expect((stillPending.body as unknown as { status: string }).status).toBe('pending');
    expect(refundsOf('ch_seed_100')).toHaveLength(0);
    expect(refundsOf('ch_seed_101')).toHaveLength(0);
    expect(refundsOf('ch_seed_102')).toHaveLength(0);
    const connectors = await call('GET', '/api/v1/connectors/stripe/tools');
    expect(JSON.stringify(connectors.body)).toContain('create_refund');

    // The same process, no restart: approve the paused write and a fresh trigger → approve → succeed.
    const approved = await call('POST', `/api/v1/confirmations/${conf.id}/approve`, { argumentsHash: conf.argumentsHash });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const second = await trigger('ch_seed_103');
    const conf2 = await pendingConfirmation(second);
    expect((await call('POST', `/api/v1/confirmations/${conf2.id}/approve`, { argumentsHash: conf2.argumentsHash })).status).toBe(
      200,
    );
    for (const id of [runId, second]) {
      await until(`run ${id} to succeed`, async () =>
        (await call('GET', `/api/v1/runs/${id}`)).body?.status === 'succeeded' ? true : undefined,
      );
    }
    expect(refundsOf('ch_seed_100')).toHaveLength(1);
    expect(refundsOf('ch_seed_103')).toHaveLength(1);
    const outageLog = serve.output
      .slice(logFrom)
      .split('\n')
      .filter((l) => l.startsWith('{'));
    console.log(
      `test:faults — Redis outage: ${outageLog.length} log lines from the outage to the end of the test:\n${outageLog.join('\n')}`,
    );
    // The outage was logged once when it began and once when it ended, not once per reconnect attempt
    // or per request answered 503.
    expect(outageLog.filter((l) => l.includes('is unavailable'))).toHaveLength(1);
    expect(outageLog.filter((l) => l.includes('is available again'))).toHaveLength(1);
    expect(outageLog).toHaveLength(2);
  }, 120_000);

  it('answers at once while Redis hangs without closing the connection (SIGSTOP), once one command has timed out', async ({
    outage,
    redis,
  }) => {
    const { call, ready, pendingConfirmation, trigger, refundsOf } = outage;
    const admin = new Redis(redis.url);
    const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    const before = await admin.dbsize();
    admin.disconnect();
    process.kill(pid, 'SIGSTOP');
    try {
      // Nothing tells a hung Redis from a slow one before the command timeout; that first answer waits for it.
      const first = await call('GET', '/api/v1/runs', undefined, {}, COMMAND_TIMEOUT_MS + 2000);
      expect(first.status).toBe(503);
      expect(first.body?.error?.code).toBe('REDIS_UNAVAILABLE');
      for (let i = 0; i < 20; i++) {
        const [method, path, body] =
          i % 2 === 0
            ? (['POST', '/api/v1/workflows/refund/runs', { inputs: { charge: 'ch_seed_107' } }] as const)
            : (['GET', '/api/v1/confirmations?status=pending'] as const);
        const a = await call(method, path, body);
        expect(a.status, `${method} ${path}`).toBe(503);
        expect(Number(a.retryAfter)).toBeGreaterThan(0);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await ready(200);
    await sleep(1000);
    const check = new Redis(redis.url);
    expect(await check.dbsize()).toBe(before);
    check.disconnect();
    expect(refundsOf('ch_seed_107')).toHaveLength(0);
    const runId = await trigger('ch_seed_108');
    await pendingConfirmation(runId);
  }, 60_000);

  it('answers an MCP tool call with an error result naming Redis, not a protocol error or a hang', async ({ outage }) => {
    const { ready, refundsOf, stopRedis, startRedis, serve } = outage;
    const client = new Client({ name: 'outage-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${serve.url}/mcp`)));
    try {
      await stopRedis();
      await ready(503);
      for (const [name, args] of [
        ['run_workflow', { workflow: 'refund', inputs: { charge: 'ch_seed_104' } }],
        ['get_run', { runId: 'run_missing' }],
      ] as const) {
        const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 5000 })) as CallToolResult;
        expect(r.isError, name).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(/Redis is unavailable/);
      }
    } finally {
      await client.close();
      await startRedis();
      await ready(200);
    }
    expect(refundsOf('ch_seed_104')).toHaveLength(0);
  }, 60_000);

  it('makes a CLI command exit non-zero with the message within a few seconds', async ({ outage }) => {
    const { ready, refundsOf, stopRedis, startRedis, env } = outage;
    await stopRedis();
    try {
      const cli = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'run', 'refund', '--input', 'charge=ch_seed_105'], {
        env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stderr.on('data', (b: Buffer) => (out += b.toString()));
      cli.stdout.on('data', (b: Buffer) => (out += b.toString()));
      // A bound that tells "exits" from "hangs" (the old client waited for Redis forever); most of the
      // time is Node starting the CLI, which a loaded machine slows down.
      const started = Date.now();
      const code = await Promise.race([
        new Promise<number | null>((r) => cli.once('exit', (c) => r(c))),
        sleep(30_000).then(() => 'still running' as const),
      ]);
      console.log(`test:faults — Redis outage: \`interlock run\` exited ${String(code)} after ${Date.now() - started} ms`);
      if (code === 'still running') cli.kill('SIGKILL');
      expect(code, out).toBe(1);
      expect(out).toMatch(/REDIS_UNAVAILABLE/);
      expect(out).toMatch(/Cannot reach Redis/);
    } finally {
      await startRedis();
      await ready(200);
    }
    expect(refundsOf('ch_seed_105')).toHaveLength(0);
  }, 60_000);

  it('ends `interlock serve` and `interlock mcp` on SIGTERM and `interlock worker` on SIGINT while Redis is down, instead of waiting for it', async ({
    outage,
  }) => {
    const { until, ready, pendingConfirmation, trigger, stopRedis, serve, env } = outage;
    const worker = await outage.startWorker();
    // The stdio facade as a desktop client runs it: stdin stays open, so only the signal ends it.
    const mcp = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'mcp'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let mcpOut = '';
    mcp.stderr.on('data', (b: Buffer) => (mcpOut += b.toString()));
    await until('interlock mcp to be ready', async () => (mcpOut.includes('ready on stdio') ? true : undefined));
    // Runs paused and running at once: the server holds open streams and workers hold blocking reads.
    const paused = await trigger('ch_seed_106');
    await pendingConfirmation(paused);
    const events = await fetch(`${serve.url}/api/v1/runs/${paused}/events`);
    expect(events.status).toBe(200);
    await stopRedis();
    await ready(503);

    // A bound that tells "ends" from "waits for Redis" (BullMQ's close alone would wait forever): each
    // process exits on its own by the grace period plus 1.5 s at the latest (armExitDeadline), usually
    // about a second sooner; the rest is room for a loaded machine, since no test asserts a timing.
    const bound = GRACE_MS + 10_000;
    const signalled = Date.now();
    const [servedExit, workerExit, mcpExit] = await Promise.all([
      serve.signal('SIGTERM', bound),
      signalPid(worker.pid, 'SIGINT', bound),
      signalPid(mcp.pid, 'SIGTERM', bound),
    ]);
    console.log(
      `test:faults — Redis outage: serve exited ${String(servedExit)} ${Date.now() - signalled} ms after SIGTERM (grace ${GRACE_MS} ms)`,
    );
    expect(servedExit, `serve still running ${bound} ms after SIGTERM:\n${serve.output}`).not.toBeUndefined();
    expect(workerExit, `worker still running ${bound} ms after SIGINT:\n${worker.output}`).not.toBeUndefined();
    if (mcpExit === undefined) mcp.kill('SIGKILL');
    expect(mcpExit, `interlock mcp still running ${bound} ms after SIGTERM:\n${mcpOut}`).not.toBeUndefined();
    await events.body?.cancel().catch(() => {});
  }, 60_000);
});
