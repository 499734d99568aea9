import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { CONVERSATION_META } from '../../../src/server/mcp/modern.ts';
import { type RunningServer, startServer } from '../../../src/server/serve.ts';
import { callLogPath, makeApp, readCalls, testConnectorYaml } from '../../helpers/app.ts';
import { TestRedis } from '../../helpers/redis.ts';
import { configYaml, payWorkflow } from '../../helpers/workflows.ts';

// One /mcp for three protocol revisions: 2025-era clients open a session and are asked with
// elicitation/create; 2026-07-28 clients get input_required with a signed requestState and
// retry with the person's answer.

const GREET = `
  greet:
    description: a read only
    expose: true
    inputs: { type: object, required: [name], properties: { name: { type: string } } }
    steps:
      - id: look
        call: test.echo
        with: { text: "\${{ inputs.name }}" }`;

type Answer = { decision: 'approve' | 'deny'; remember?: boolean };

describe('/mcp on 2025-06-18, 2025-11-25 and 2026-07-28', () => {
  const redis = new TestRedis();
  const log = callLogPath();
  let app: App;
  let server: RunningServer;
  const clients: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    await redis.start();
    app = await makeApp(
      configYaml({ connectors: testConnectorYaml(log), workflows: [payWorkflow({ amount: {} }), GREET] }),
      redis.url,
    );
    server = await startServer(app, { port: 0, logger: silentLogger() });
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await server?.close();
    await app?.close();
    await redis.stop();
  });

  const writes = () => readCalls(log).filter((x) => x.tool === 'record').length;

  async function modern(answer: () => Answer | undefined = () => undefined, autoFulfill = true) {
    const client = new Client(
      { name: 'mrtr-client', version: '1.0.0' },
      {
        capabilities: { elicitation: { form: {} } },
        versionNegotiation: { mode: { pin: '2026-07-28' } },
        inputRequired: { autoFulfill },
      },
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(String(req.params.message));
      const a = answer();
      return a ? { action: 'accept', content: { ...a } } : { action: 'decline' };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
    clients.push(client);
    return { client, asked };
  }

  async function legacy(version: '2025-06-18' | '2025-11-25', answer?: Answer) {
    const client = new V1Client({ name: `legacy-${version}`, version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler(ElicitRequestSchema, async () =>
      answer ? { action: 'accept', content: { ...answer } } : { action: 'decline' },
    );
    const transport = new V1Transport(new URL(`${server.url}/mcp`));
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  }

  it('answers the same tools/list on every revision', async () => {
    const m = await modern();
    const old = await legacy('2025-11-25');
    const names = (tools: { name: string }[]) => tools.map((t) => t.name).sort();
    const a = (await m.client.listTools()).tools;
    const b = (await old.client.listTools()).tools;
    expect(names(a)).toEqual(['get_run', 'greet', 'list_workflows', 'pay', 'run_workflow']);
    expect(names(a)).toEqual(names(b));
    expect(a.find((t) => t.name === 'pay')?.inputSchema).toEqual(b.find((t) => t.name === 'pay')?.inputSchema);
    expect(old.transport.protocolVersion).toBe('2025-11-25');
  });

  it('runs a read workflow on 2026-07-28 and on 2025-era clients', async () => {
    const m = await modern();
    const r = await m.client.callTool({ name: 'greet', arguments: { name: 'ada' } });
    expect((r.structuredContent as { status: string }).status).toBe('succeeded');
    expect(m.asked).toHaveLength(0);
    const old = await legacy('2025-11-25');
    const r2 = await old.client.callTool({ name: 'greet', arguments: { name: 'bob' } });
    expect((r2.structuredContent as { status: string }).status).toBe('succeeded');
  });

  it('approves a write by form elicitation on 2025-11-25', async () => {
    const before = writes();
    const old = await legacy('2025-11-25', { decision: 'approve' });
    const r = await old.client.callTool({ name: 'pay', arguments: { name: 'cy', amount: 5 } });
    expect((r.structuredContent as { status: string }).status).toBe('succeeded');
    expect(writes()).toBe(before + 1);
  });

  it('approves a write over MRTR on 2026-07-28: input_required, then the retry with the answer decides it', async () => {
    const before = writes();
    const m = await modern(() => ({ decision: 'approve' }));
    const r = await m.client.callTool({ name: 'pay', arguments: { name: 'dee', amount: 7 } });
    const view = r.structuredContent as { status: string; runId: string };
    expect(view.status).toBe('succeeded');
    expect(m.asked).toHaveLength(1);
    expect(m.asked[0]).toMatch(/argumentsHash: [0-9a-f]{64}/);
    expect(m.asked[0]).toContain('"amount": 7');
    expect(writes()).toBe(before + 1);
    const run = await app.store.requireRun(view.runId);
    const conf = await app.store.getConfirmation(String(run.steps.write?.confirmationId));
    expect(conf?.channel).toBe('mcp-elicitation');
    expect(conf?.decidedBy).toBeTruthy();
  });

  async function firstRound(c: Client, name: string) {
    const r = (await c.callTool({ name: 'pay', arguments: { name, amount: 9 } }, { allowInputRequired: true })) as unknown as {
      resultType?: string;
      requestState: string;
      inputRequests: Record<string, unknown>;
    };
    expect(r.resultType).toBe('input_required');
    expect(Object.keys(r.inputRequests)).toEqual(['decision']);
    return r;
  }
  const retry = (c: Client, name: string, requestState: string) =>
    c.callTool({
      name: 'pay',
      arguments: { name, amount: 9 },
      inputResponses: { decision: { action: 'accept', content: { decision: 'approve' } } },
      requestState,
    } as never);

  it('refuses a tampered requestState and decides nothing', async () => {
    const before = writes();
    const m = await modern(undefined, false);
    const r = await firstRound(m.client, 'eve');
    const [pre, body, sig] = r.requestState.split('.') as [string, string, string];
    const sealed = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...sealed, hash: '0'.repeat(64) })).toString('base64url');
    await expect(retry(m.client, 'eve', `${pre}.${forged}.${sig}`)).rejects.toThrow(
      /signature does not match.*Nothing was decided/,
    );
    const conf = await app.store.getConfirmation(String(sealed.cid));
    expect(conf?.status).toBe('pending');
    expect(writes()).toBe(before);
  });

  it('refuses a replayed requestState: the first retry decides, the second changes nothing', async () => {
    const before = writes();
    const m = await modern(undefined, false);
    const r = await firstRound(m.client, 'fay');
    const first = await retry(m.client, 'fay', r.requestState);
    expect((first.structuredContent as { status: string }).status).toBe('succeeded');
    await expect(retry(m.client, 'fay', r.requestState)).rejects.toThrow(/already answered once.*Nothing was decided/);
    expect(writes()).toBe(before + 1);
  });

  it('remembers per conversation on 2026-07-28 and never across conversations', async () => {
    const before = writes();
    const m = await modern(() => ({ decision: 'approve', remember: true }));
    const call = (conversation: string, name: string) =>
      m.client.callTool({ name: 'pay', arguments: { name, amount: 3 }, _meta: { [CONVERSATION_META]: conversation } });
    expect(((await call('conv-a', 'g1')).structuredContent as { status: string }).status).toBe('succeeded');
    expect(m.asked).toHaveLength(1);
    // Same conversation: the remembered approval covers it, nobody is asked.
    expect(((await call('conv-a', 'g2')).structuredContent as { status: string }).status).toBe('succeeded');
    expect(m.asked).toHaveLength(1);
    // Another conversation of the same caller: asked again.
    expect(((await call('conv-b', 'g3')).structuredContent as { status: string }).status).toBe('succeeded');
    expect(m.asked).toHaveLength(2);
    // No conversation named: a fresh one, so asked again.
    await m.client.callTool({ name: 'pay', arguments: { name: 'g4', amount: 3 } });
    expect(m.asked).toHaveLength(3);
    expect(writes()).toBe(before + 4);
  });
});
