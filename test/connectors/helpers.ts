import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { ConnectorConfig, ConnectorTransport } from '../../src/workflows/types.ts';
import type { CallRecord } from '../fixtures/test-server.ts';
import { expect } from 'vitest';
import { mcpClient } from '../helpers/app.ts';

export const TEST_SERVER = fileURLToPath(new URL('../fixtures/test-server.ts', import.meta.url));

export function connector(id: string, transport: ConnectorTransport, extra: Partial<ConnectorConfig> = {}): ConnectorConfig {
  return {
    id,
    transport,
    auth: { type: 'none' },
    tools: { allow: [], deny: [] },
    timeoutMs: 10_000,
    concurrency: 1,
    pos: { line: 1, col: 1 },
    ...extra,
  };
}

/** Node's compile cache cuts a cold test-server child from ~1 s to ~0.3 s of loading the SDK. */
export const COMPILE_CACHE = { NODE_COMPILE_CACHE: join(tmpdir(), 'interlock-node-compile-cache') };

/** The test server as a stdio child of this Node; `env` reaches the child as configured env. */
export function stdioServer(flags: string[] = [], env: Record<string, string> = {}): ConnectorTransport {
  return {
    type: 'stdio',
    command: process.execPath,
    args: [TEST_SERVER, '--stdio', ...flags],
    env: { ...COMPILE_CACHE, ...env },
  };
}

/** A pino logger whose lines (as raw JSON text) are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

export class CallLog {
  readonly dir = mkdtempSync(join(tmpdir(), 'interlock-calls-'));
  readonly file = join(this.dir, 'calls.jsonl');
  read(): CallRecord[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CallRecord);
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves once `cond` holds, polling; fails the test with `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A built-in connector served over HTTP (`url`, from its handle): on loopback at /mcp, and two
 * clients each get a session of their own that lists all `tools` tools.
 */
export async function expectSessionPerClient(url: string | undefined, tools: number): Promise<void> {
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  const a = await mcpClient(url ?? '');
  const b = await mcpClient(url ?? '');
  try {
    const [ta, tb] = await Promise.all([a.listTools(), b.listTools()]);
    expect(ta.tools).toHaveLength(tools);
    expect(tb.tools).toHaveLength(tools);
  } finally {
    await a.close();
    await b.close();
  }
}
