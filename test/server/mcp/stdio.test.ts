import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect } from 'vitest';
import type { App } from '../../../src/app.ts';
import type { RunView } from '../../../src/server/mcp/results.ts';
import { ROOT, callLogPath, readCalls, waitForStatus } from '../../helpers/app.ts';
import { openApp, test } from '../../helpers/fixtures.ts';
import { facadeYaml } from './helpers.ts';

interface StdioSession {
  client: Client;
  transport: StdioClientTransport;
  asked: number;
  listChanged: number;
  stderr: string[];
  /** anything the client could not parse or handle, e.g. a log line on stdout */
  errors: Error[];
  call(name: string, args: Record<string, unknown>): Promise<RunView>;
}

const log = callLogPath();

/**
 * `observer`: an App on the file's Redis that watches and decides like a person elsewhere would;
 * `spawnFacade`: `interlock mcp` as a desktop client spawns it, on the observer's Redis, prefix and
 * config file, closed after the file.
 */
const it = test.extend<{
  observer: App;
  spawnFacade: (opts?: { elicit?: { remember: boolean } }) => Promise<StdioSession>;
}>({
  observer: [async ({ redis }, use) => openApp(redis, { yaml: facadeYaml({ log }), workers: false }, use), { scope: 'file' }],
  spawnFacade: [
    async ({ redis, observer }, use) => {
      const open: StdioSession[] = [];
      try {
        await use(async (opts: { elicit?: { remember: boolean } } = {}): Promise<StdioSession> => {
          const transport = new StdioClientTransport({
            command: process.execPath,
            args: [join(ROOT, 'src/cli.ts'), 'mcp'],
            env: {
              INTERLOCK_CONFIG: observer.config.file,
              REDIS_URL: redis.url,
              INTERLOCK_PREFIX: observer.prefix,
              LOG_LEVEL: 'warn',
              PATH: process.env.PATH ?? '',
            },
            stderr: 'pipe',
          });
          const s: StdioSession = {
            client: new Client(
              { name: 'desktop', version: '1.0.0' },
              { capabilities: opts.elicit ? { elicitation: { form: {} } } : {} },
            ),
            transport,
            asked: 0,
            listChanged: 0,
            stderr: [],
            errors: [],
            async call(name, args) {
              const r = (await s.client.callTool({ name, arguments: args })) as CallToolResult;
              return r.structuredContent as unknown as RunView;
            },
          };
          transport.stderr?.on('data', (d: Buffer) => s.stderr.push(d.toString()));
          if (opts.elicit) {
            const remember = opts.elicit.remember;
            s.client.setRequestHandler(ElicitRequestSchema, () => {
              s.asked++;
              return { action: 'accept', content: { decision: 'approve', remember } };
            });
          }
          s.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
            s.listChanged++;
          });
          await s.client.connect(transport);
          s.client.onerror = (e) => s.errors.push(e);
          open.push(s);
          return s;
        });
      } finally {
        await Promise.all(open.map((s) => s.client.close().catch(() => {})));
      }
    },
    { scope: 'file' },
  ],
});

describe('interlock mcp: the facade over stdio, as a desktop client spawns it', () => {
  it('lists the tools and runs a read-only workflow; stdout carries nothing but MCP', async ({ observer, spawnFacade }) => {
    const s = await spawnFacade();
    const names = (await s.client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['get_run', 'greet', 'list_workflows', 'pay', 'run_workflow']);
    const view = await s.call('greet', { text: 'from the desktop' });
    expect(view).toMatchObject({
      status: 'succeeded',
      steps: [expect.objectContaining({ output: { text: 'from the desktop' } })],
    });
    expect((await observer.store.requireRun(view.runId)).session).toMatch(/^mcp-stdio-\d+-/);
    expect(s.errors).toEqual([]);
    expect(s.stderr.join('')).toContain('interlock mcp: ready on stdio');
  });

  it('asks through elicitation and runs the write once; closing the client ends the remembered approvals', async ({
    observer,
    spawnFacade,
  }) => {
    const s = await spawnFacade({ elicit: { remember: true } });
    const before = readCalls(log).filter((c) => c.tool === 'record').length;
    const first = await s.call('pay', { name: 'gus', amount: 9 });
    expect(first.status).toBe('succeeded');
    expect((await s.call('pay', { name: 'gus', amount: 9 })).status).toBe('succeeded');
    expect(s.asked).toBe(1);
    expect(readCalls(log).filter((c) => c.tool === 'record').length - before).toBe(2);

    const session = (await observer.store.requireRun(first.runId)).session;
    expect(await observer.store.getGrant(session, 'test', 'record', 'local')).toMatchObject({
      decision: 'approve',
      by: 'local',
      channel: 'mcp-elicitation',
    });
    await s.client.close();
    await expect.poll(() => observer.store.getGrant(session, 'test', 'record', 'local'), { timeout: 10_000 }).toBeUndefined();
  });

  it('answers a client without elicitation with the pending write, which a person approves elsewhere', async ({
    observer,
    spawnFacade,
  }) => {
    const s = await spawnFacade();
    const view = await s.call('run_workflow', { workflow: 'pay', inputs: { name: 'hal', amount: 2 } });
    expect(view.status).toBe('awaiting_confirmation');
    expect(view.confirmation).toMatchObject({
      connector: 'test',
      tool: 'record',
      arguments: { name: 'hal', value: { amount: 2 } },
    });
    expect(view.confirmation?.approveUrl).toMatch(/^http:\/\/127\.0\.0\.1:3000\/ui\/confirmations\//);
    await observer.engine.approve(view.confirmation?.id ?? '', view.confirmation?.argumentsHash ?? '', { by: 'test-person' });
    await waitForStatus(observer, view.runId, ['succeeded']);
    expect((await s.call('get_run', { runId: view.runId })).status).toBe('succeeded');
  });

  it('reloads the workflows on SIGHUP and tells the client its tools changed', async ({ observer, spawnFacade }) => {
    const s = await spawnFacade();
    await s.client.listTools();
    writeFileSync(
      observer.config.file,
      facadeYaml({
        log,
        extra:
          '  wave:\n    description: Wave back\n    expose: true\n    inputs: { type: object }\n    steps:\n      - { id: say, call: test.echo, with: { text: wave } }\n',
      }),
    );
    try {
      process.kill(s.transport.pid ?? 0, 'SIGHUP');
      await expect.poll(() => s.listChanged, { timeout: 10_000 }).toBeGreaterThan(0);
      expect((await s.client.listTools()).tools.map((t) => t.name)).toContain('wave');
    } finally {
      writeFileSync(observer.config.file, facadeYaml({ log }));
    }
  });
});
