import { createRequire } from 'node:module';
import { describe, expect } from 'vitest';
import { ConnectorPool } from '../../src/connectors/pool.ts';
import { test } from '../helpers/fixtures.ts';
import { COMPILE_CACHE, connector } from './helpers.ts';

// The reference server picks its transport from its first argument; `stdio` is the default.
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

/** A pool with the reference server as `ev` (its trigger-* tools denied), for the file. */
const it = test.extend<{ pool: ConnectorPool }>({
  pool: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const pool = new ConnectorPool({
        ev: connector(
          'ev',
          { type: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'], env: COMPILE_CACHE },
          { tools: { allow: [], deny: ['trigger-*'] } },
        ),
      });
      try {
        await use(pool);
      } finally {
        await pool.close();
      }
    },
    { scope: 'file' },
  ],
});

describe('ConnectorPool against @modelcontextprotocol/server-everything over stdio', () => {
  it('lists its tools, classifies them from annotations and applies the deny list', async ({ pool }) => {
    const tools = await pool.listTools('ev');
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.echo).toMatchObject({ write: false, idempotent: true, title: 'Echo Tool' });
    expect(byName['get-sum']).toMatchObject({ write: false });
    expect(byName['toggle-simulated-logging']).toMatchObject({ write: true });
    expect(tools.some((t) => t.name.startsWith('trigger-'))).toBe(false);
    expect((await pool.listAllTools('ev')).some((e) => e.tool.name.startsWith('trigger-') && !e.enabled)).toBe(true);
  });

  it('calls a tool and returns its content blocks and text when there is no structuredContent', async ({ pool }) => {
    const res = await pool.callTool('ev', 'echo', { message: 'hi there' });
    expect(res).toEqual({
      isError: false,
      output: [{ type: 'text', text: 'Echo: hi there' }],
      content: [{ type: 'text', text: 'Echo: hi there' }],
      text: 'Echo: hi there',
    });
    expect((await pool.callTool('ev', 'get-sum', { a: 2, b: 40 })).text).toBe('The sum of 2 and 40 is 42.');
  });

  it('validates arguments against the server-generated schema and names the field', async ({ pool }) => {
    await expect(pool.callTool('ev', 'get-sum', { a: 1, b: 'x' })).rejects.toMatchObject({
      code: 'ARGUMENTS_INVALID',
      details: { issues: [{ field: 'b', message: 'must be number' }] },
    });
  });

  it('refuses a tool the deny list turned off', async ({ pool }) => {
    await expect(pool.getTool('ev', 'trigger-long-running-operation')).rejects.toMatchObject({ code: 'TOOL_DISABLED' });
  });
});
