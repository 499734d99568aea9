import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorPool } from '../../src/connectors/pool.ts';
import { COMPILE_CACHE, connector } from './helpers.ts';

// The reference server picks its transport from its first argument; `stdio` is the default.
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

describe('ConnectorPool against @modelcontextprotocol/server-everything over stdio', () => {
  let pool: ConnectorPool;
  beforeAll(() => {
    pool = new ConnectorPool({
      ev: connector(
        'ev',
        { type: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'], env: COMPILE_CACHE },
        {
          tools: { allow: [], deny: ['trigger-*'] },
        },
      ),
    });
  });
  afterAll(async () => {
    await pool.close();
  });

  it('lists its tools, classifies them from annotations and applies the deny list', async () => {
    const tools = await pool.listTools('ev');
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.echo).toMatchObject({ write: false, idempotent: true, title: 'Echo Tool' });
    expect(byName['get-sum']).toMatchObject({ write: false });
    expect(byName['toggle-simulated-logging']).toMatchObject({ write: true });
    expect(tools.some((t) => t.name.startsWith('trigger-'))).toBe(false);
    expect((await pool.listAllTools('ev')).some((e) => e.tool.name.startsWith('trigger-') && !e.enabled)).toBe(true);
  });

  it('calls a tool and returns its content blocks and text when there is no structuredContent', async () => {
    const res = await pool.callTool('ev', 'echo', { message: 'hi there' });
    expect(res).toEqual({
      isError: false,
      output: [{ type: 'text', text: 'Echo: hi there' }],
      content: [{ type: 'text', text: 'Echo: hi there' }],
      text: 'Echo: hi there',
    });
    expect((await pool.callTool('ev', 'get-sum', { a: 2, b: 40 })).text).toBe('The sum of 2 and 40 is 42.');
  });

  it('validates arguments against the server-generated schema and names the field', async () => {
    await expect(pool.callTool('ev', 'get-sum', { a: 1, b: 'x' })).rejects.toMatchObject({
      code: 'ARGUMENTS_INVALID',
      details: { issues: [{ field: 'b', message: 'must be number' }] },
    });
  });

  it('refuses a tool the deny list turned off', async () => {
    await expect(pool.getTool('ev', 'trigger-long-running-operation')).rejects.toMatchObject({ code: 'TOOL_DISABLED' });
  });
});
