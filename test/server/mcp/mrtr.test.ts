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

  /** A 2025-06-18 client, spoken by hand: the SDK clients always offer their newest revision. */
  async function listTools20250618(): Promise<{ protocolVersion: string; tools: { name: string; inputSchema: unknown }[] }> {
    const post = async (body: unknown, sid?: string) => {
      const res = await fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' } : {}),
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      const data = text.split('\n').find((l) => l.startsWith('data: '));
      return {
        sid: res.headers.get('mcp-session-id') ?? undefined,
        msg: (text ? JSON.parse(data ? data.slice(6) : text) : {}) as { result: never },
      };
    };
    const init = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
    });
    const { protocolVersion } = init.msg.result as { protocolVersion: string };
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, init.sid);
    const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, init.sid);
    return { protocolVersion, tools: (list.msg.result as { tools: never[] }).tools };
  }

  it('answers the same tools/list on every revision', async () => {
    const m = await modern();
    expect(m.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const old = await legacy('2025-11-25');
    expect(old.transport.protocolVersion).toBe('2025-11-25');
    const oldest = await listTools20250618();
    expect(oldest.protocolVersion).toBe('2025-06-18');
    const a = (await m.client.listTools()).tools;
    const b = (await old.client.listTools()).tools;
    const shape = (tools: { name: string; inputSchema: unknown }[]) =>
      tools.map((t) => ({ name: t.name, inputSchema: t.inputSchema })).sort((x, y) => x.name.localeCompare(y.name));
    expect(shape(a).map((t) => t.name)).toEqual(['get_run', 'greet', 'list_workflows', 'pay', 'run_workflow']);
    expect(shape(a)).toEqual(shape(b));
    expect(shape(a)).toEqual(shape(oldest.tools));
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
    expect(m.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
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
    const err = await retry(m.client, 'eve', `${pre}.${forged}.${sig}`).then(
      () => undefined,
      (e: unknown) => e as { code?: number; message: string; data?: { reason?: string } },
    );
    expect(err?.message).toMatch(/signature does not match.*Nothing was decided/);
    expect(err?.code).toBe(-32602);
    expect(err?.data?.reason).toBe('signature');
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
