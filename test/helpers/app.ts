import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Logger } from 'pino';
import { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import type { ConfirmationRecord, RunRecord, RunStatus } from '../../src/runs/records.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TEST_SERVER = join(ROOT, 'test/fixtures/test-server.ts');

/** A temp file the project's test MCP server appends its calls to (one JSON line each). */
export function callLogPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'interlock-calls-')), 'calls.jsonl');
}

export interface LoggedCall {
  tool: string;
  args: Record<string, unknown>;
  time: number;
  idempotencyKey?: string;
}

export function readCalls(path: string): LoggedCall[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LoggedCall);
}

/** An App on `redisUrl` under a fresh key prefix; `file` is where the config says it came from (written by openApp in ./fixtures.ts). */
export async function makeApp(
  yaml: string,
  redisUrl: string,
  file = join(ROOT, 'test/fixtures/inline.yaml'),
  logger: Logger = silentLogger(),
): Promise<App> {
  const config = loadConfigFromString(yaml, file);
  return App.create({ config, redisUrl, prefix: `t${randomUUID().slice(0, 8)}`, logger });
}

/** A plain MCP SDK client over streamable HTTP to `url` (see server/mcp/helpers.ts for one with a token and elicitation). */
export async function mcpClient(url: string): Promise<Client> {
  const client = new Client({ name: 'interlock-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** An MCP client on a server started over HTTP (a built-in connector's handle); `close` closes both. */
export async function connectionTo(handle: {
  url?: string;
  close(): Promise<void>;
}): Promise<{ client: Client; close(): Promise<void> }> {
  const client = await mcpClient(handle.url ?? '');
  return {
    client,
    close: async () => {
      await client.close();
      await handle.close();
    },
  };
}

/** Polls the store until the run reaches one of the statuses (tests only; the product follows events). */
export async function waitForStatus(app: App, runId: string, statuses: RunStatus[], timeoutMs = 45_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await app.store.requireRun(runId);
    if (statuses.includes(run.status)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} is ${run.status}, expected ${statuses.join('|')}: ${JSON.stringify(run.error ?? run.steps)}`);
    await sleep(25);
  }
}

/** The `test` connector (our MCP test server over stdio, logging its calls to `log`), as workflows.yaml text. */
export function testConnectorYaml(log: string, extra = ''): string {
  return `
  test:
    transport: stdio
    command: ${process.execPath}
    args: [${TEST_SERVER}, --stdio]
    env: { TEST_SERVER_LOG: ${log} }${extra}`;
}

/** Triggers a run and approves every write it asks about until it ends (see approveAll). */
export async function runThrough(app: App, workflow: string, inputs: Record<string, unknown>): Promise<Approved> {
  const { run } = await app.engine.trigger(workflow, inputs);
  return approveAll(app, run.id);
}

const ENDED = ['succeeded', 'failed', 'denied', 'needs_attention', 'cancelled'] as const;

export interface Approved {
  /** the run as it ended */
  run: RunRecord;
  /** `connector.tool` of each write that asked, in order */
  asked: string[];
  /** the confirmations themselves (payloads as shown), in the same order */
  confirmations: ConfirmationRecord[];
}

/**
 * Approves every confirmation the run reaches until it ends; returns the run and the writes that
 * asked, in order. Reads never appear here: they pass the gate without asking.
 */
export async function approveAll(app: App, runId: string): Promise<Approved> {
  const asked: string[] = [];
  const confirmations: ConfirmationRecord[] = [];
  for (;;) {
    const run = await waitForStatus(app, runId, ['awaiting_confirmation', ...ENDED], 60_000);
    if (run.status !== 'awaiting_confirmation') return { run, asked, confirmations };
    const cid = Object.values(run.steps).find((s) => s.status === 'awaiting_confirmation')?.confirmationId ?? '';
    const conf = await app.store.requireConfirmation(cid);
    asked.push(`${conf.connector}.${conf.tool}`);
    confirmations.push(conf);
    await app.engine.approve(cid, conf.argumentsHash, { by: 'test' });
  }
}

/** A Redis, an App on it and its HTTP server, started together; `close` stops all three. */
export { LOOK_WORKFLOW, PAY_WORKFLOW } from './workflows.ts';

/** Runs `fn` while the app's confirmations expire after `ms` (a gate nobody decides in time), then puts its policy back. */
export async function withConfirmationTtl<T>(app: App, ms: number, fn: () => Promise<T>): Promise<T> {
  const saved = app.config.policy;
  app.config.policy = { ...saved, confirmationTtlMs: ms };
  try {
    return await fn();
  } finally {
    app.config.policy = saved;
  }
}
