/**
 * The floors for throughput: BullMQ workers built the way src/worker/worker.ts builds Interlock's
 * (one shared ioredis client, same stall settings) whose jobs either do nothing or make the same
 * `echo` call over one shared MCP SDK client: streamable HTTP to RAW_MCP_URL, or stdio to a
 * server of its own started from RAW_MCP_STDIO (the test server's path). Empty jobs are the
 * issue's reference; jobs with the call show what Interlock adds on top of BullMQ plus the call.
 *
 * RAW_QUEUES lists `kind:queue` pairs (kind = empty | http | stdio); one process serves several
 * queues so the bench starts two processes once rather than one per measurement.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

type Kind = 'empty' | 'http' | 'stdio';
const queues = (process.env.RAW_QUEUES ?? 'empty:raw').split(',').map((e) => e.split(':') as [Kind, string]);

async function client(kind: Kind): Promise<Client | undefined> {
  if (kind === 'empty' || !queues.some(([k]) => k === kind)) return undefined;
  const c = new Client({ name: `interlock-bench-raw-${kind}`, version: '1.0.0' });
  await c.connect(
    kind === 'stdio'
      ? new StdioClientTransport({
          command: process.execPath,
          args: [process.env.RAW_MCP_STDIO ?? '', '--stdio'],
          // The SDK passes on only a few safe variables; the call log is passed on by name, so the
          // server logs each call as the servers Interlock's workers start do (see procs.ts).
          env: {
            ...getDefaultEnvironment(),
            ...(process.env.TEST_SERVER_LOG ? { TEST_SERVER_LOG: process.env.TEST_SERVER_LOG } : {}),
          },
          stderr: 'ignore',
        })
      : new StreamableHTTPClientTransport(new URL(process.env.RAW_MCP_URL ?? '')),
  );
  return c;
}
const mcp: Partial<Record<Kind, Client>> = { http: await client('http'), stdio: await client('stdio') };

const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
connection.on('error', () => {});
const workers = queues.map(([kind, name]) => {
  const w = new Worker<{ text?: string }>(
    name,
    async (job) => {
      const c = mcp[kind];
      if (!c) return 'ok';
      const r = await c.callTool({ name: 'echo', arguments: { text: job.data.text ?? job.id ?? '' } });
      if (r.isError) throw new Error('echo failed');
      return 'ok';
    },
    {
      connection,
      prefix: process.env.RAW_PREFIX ?? 'bench-raw',
      concurrency: Number(process.env.RAW_CONCURRENCY ?? 10),
      stalledInterval: 5000,
      maxStalledCount: 5,
    },
  );
  w.on('error', () => {});
  return w;
});
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stderr.write('raw worker ready\n');

process.once('SIGTERM', () => {
  void Promise.all(workers.map((w) => w.close())).then(async () => {
    await Promise.all(Object.values(mcp).map((c) => c?.close()));
    connection.disconnect();
    process.exit(0);
  });
});
