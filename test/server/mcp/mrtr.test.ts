import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect } from 'vitest';
import { silentLogger } from '../../../src/logger.ts';
import { CONVERSATION_META } from '../../../src/server/mcp/modern.ts';
import { createRequestStates } from '../../../src/server/mcp/request-state.ts';
import { loadConfigFromString } from '../../../src/workflows/load.ts';
import { callLogPath, readCalls, testConnectorYaml } from '../../helpers/app.ts';
import { appTest } from '../../helpers/fixtures.ts';
import { configYaml, payWorkflow } from '../../helpers/workflows.ts';
import { type Keep, keepClients } from './helpers.ts';

// One /mcp for three protocol revisions, each spoken by the v2 SDK client: 2025-era clients open a
// session and are asked with elicitation/create; 2026-07-28 clients get input_required with a
// signed requestState and retry with the person's answer.

const GREET = `
  greet:
    description: a read only
    expose: true
    inputs: { type: object, required: [name], properties: { name: { type: string } } }
    steps:
      - id: look
        call: test.echo
        with: { text: "\${{ inputs.name }}" }`;

/** The key the server signs states with, so the expired-state test can mint one as the server did long ago. */
const STATE_KEY = 'mrtr-test-state-key-0123456789abcdef';

const yaml = (...more: string[]) =>
  configYaml({ connectors: testConnectorYaml(log), workflows: [payWorkflow({ amount: {} }), GREET, ...more] });

type Answer = { decision: 'approve' | 'deny'; remember?: boolean };
type Version = '2025-06-18' | '2025-11-25' | '2026-07-28';
type Status = { status: string; runId: string };

const log = callLogPath();

const writes = () => readCalls(log).filter((x) => x.tool === 'record').length;
const statusOf = (r: { structuredContent?: unknown }) => (r.structuredContent as Status).status;

type Connect = (
  version: Version,
  answer?: () => Answer | undefined,
  autoFulfill?: boolean,
) => Promise<{ client: Client; asked: string[] }>;

/**
 * `interlock serve` (signing states with STATE_KEY), and `connect`: a v2 client on one revision, the
 * 2025 ones by the initialize handshake, 2026-07-28 pinned through server/discover; it answers each
 * elicitation with `answer()` (none: decline) and keeps the questions in `asked`.
 */
const it = appTest({
  yaml: yaml(),
  workers: false,
  server: { logger: silentLogger(), env: { INTERLOCK_MCP_STATE_KEY: STATE_KEY } },
}).extend<{ keep: Keep; connect: Connect }>({
  keep: keepClients,
  connect: [
    async ({ server, keep }, use) =>
      use(async (version, answer = () => undefined, autoFulfill = true) => {
        const modern = version === '2026-07-28';
        const client = keep(
          new Client(
            { name: `client-${version}`, version: '1.0.0' },
            {
              capabilities: { elicitation: { form: {} } },
              ...(modern
                ? { versionNegotiation: { mode: { pin: version } }, inputRequired: { autoFulfill } }
                : { supportedProtocolVersions: [version] }),
            },
          ),
        );
        const asked: string[] = [];
        client.setRequestHandler('elicitation/create', async (req) => {
          asked.push(String(req.params.message));
          const a = answer();
          return a ? { action: 'accept', content: { ...a } } : { action: 'decline' };
        });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
        expect(client.getNegotiatedProtocolVersion()).toBe(version);
        return { client, asked };
      }),
    { scope: 'file' },
  ],
});

describe('/mcp on 2025-06-18, 2025-11-25 and 2026-07-28 (v2 SDK client)', () => {
  const VERSIONS: Version[] = ['2025-06-18', '2025-11-25', '2026-07-28'];

  it('answers the same tools/list on every revision', async ({ connect }) => {
    const lists = await Promise.all(VERSIONS.map(async (v) => (await (await connect(v)).client.listTools()).tools));
    const shape = (tools: { name: string; inputSchema: unknown; annotations?: unknown }[]) =>
      tools
        .map((t) => ({ name: t.name, inputSchema: t.inputSchema, annotations: t.annotations }))
        .sort((x, y) => x.name.localeCompare(y.name));
    const [oldest, older, modern] = lists.map((l) => shape(l as never));
    expect(modern?.map((t) => t.name)).toEqual(['get_run', 'greet', 'list_workflows', 'pay', 'run_workflow']);
    expect(modern).toEqual(older);
    expect(modern).toEqual(oldest);
  });

  it.for(VERSIONS)('runs a read workflow on %s without asking anyone', async (version, { app, connect }) => {
    const c = await connect(version);
    const r = await c.client.callTool({ name: 'greet', arguments: { name: `ada-${version}` } });
    expect(statusOf(r)).toBe('succeeded');
    expect(c.asked).toHaveLength(0);
    const run = await app.store.requireRun((r.structuredContent as Status).runId);
    expect(run.steps.look?.status).toBe('succeeded');
  });

  it.for(['2025-06-18', '2025-11-25'] as const)('approves a write by form elicitation on %s', async (version, { connect }) => {
    const before = writes();
    const c = await connect(version, () => ({ decision: 'approve' }));
    const r = await c.client.callTool({ name: 'pay', arguments: { name: `cy-${version}`, amount: 5 } });
    expect(statusOf(r)).toBe('succeeded');
    expect(c.asked).toHaveLength(1);
    expect(writes()).toBe(before + 1);
  });

  it('approves a write over MRTR on 2026-07-28: input_required, then the retry with the answer decides it', async ({
    app,
    connect,
  }) => {
    const before = writes();
    const c = await connect('2026-07-28', () => ({ decision: 'approve' }));
    const r = await c.client.callTool({ name: 'pay', arguments: { name: 'dee', amount: 7 } });
    const view = r.structuredContent as Status;
    expect(view.status).toBe('succeeded');
    expect(c.asked).toHaveLength(1);
    expect(c.asked[0]).toMatch(/argumentsHash: [0-9a-f]{64}/);
    expect(c.asked[0]).toContain('"amount": 7');
    expect(writes()).toBe(before + 1);
    const run = await app.store.requireRun(view.runId);
    const conf = await app.store.requireConfirmation(String(run.steps.write?.confirmationId));
    expect(conf).toMatchObject({ status: 'approved', channel: 'mcp-elicitation', decidedBy: 'local' });
  });

  it('denies a write over MRTR on 2026-07-28 when the person declines, and the tool is never called', async ({ connect }) => {
    const before = writes();
    const c = await connect('2026-07-28', () => undefined);
    const r = await c.client.callTool({ name: 'pay', arguments: { name: 'dan', amount: 8 } });
    expect(statusOf(r)).toBe('denied');
    expect(c.asked).toHaveLength(1);
    expect(writes()).toBe(before);
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
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as { code?: number; message: string; data?: { reason?: string } },
    );
  const cidOf = (state: string) =>
    String((JSON.parse(Buffer.from(state.split('.')[1] ?? '', 'base64url').toString()) as { cid: string }).cid);

  it('refuses a tampered requestState with -32602 and decides nothing', async ({ app, connect }) => {
    const before = writes();
    const c = await connect('2026-07-28', undefined, false);
    const r = await firstRound(c.client, 'eve');
    const [pre, body, sig] = r.requestState.split('.') as [string, string, string];
    const sealed = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...sealed, hash: '0'.repeat(64) })).toString('base64url');
    const err = await refusal(retry(c.client, 'eve', `${pre}.${forged}.${sig}`));
    expect(err?.message).toMatch(/signature does not match.*Nothing was decided/);
    expect(err?.code).toBe(-32602);
    expect(err?.data?.reason).toBe('signature');
    expect((await app.store.requireConfirmation(cidOf(r.requestState))).status).toBe('pending');
    expect(writes()).toBe(before);
  });

  it('refuses a replayed requestState: the first retry decides, the second changes nothing', async ({ connect }) => {
    const before = writes();
    const c = await connect('2026-07-28', undefined, false);
    const r = await firstRound(c.client, 'fay');
    expect(statusOf(await retry(c.client, 'fay', r.requestState))).toBe('succeeded');
    const err = await refusal(retry(c.client, 'fay', r.requestState));
    expect(err?.message).toMatch(/already answered once.*Nothing was decided/);
    expect(err?.data?.reason).toBe('replayed');
    expect(writes()).toBe(before + 1);
  });

  it('refuses an expired requestState (signed with the server key, for the same caller) and the write stays pending', async ({
    app,
    connect,
  }) => {
    const before = writes();
    const c = await connect('2026-07-28', undefined, false);
    const r = await firstRound(c.client, 'gus');
    const sealed = JSON.parse(Buffer.from(r.requestState.split('.')[1] ?? '', 'base64url').toString()) as {
      cid: string;
      hash: string;
      runId: string;
      conversation: string;
    };
    // The same state as the server would have issued eleven minutes ago (states live ten).
    const past = createRequestStates({
      redis: app.redis.client,
      keys: app.store.keys,
      key: STATE_KEY,
      now: () => Date.now() - 11 * 60_000,
    });
    const old = await past.mint(
      { cid: sealed.cid, hash: sealed.hash, runId: sealed.runId, conversation: sealed.conversation },
      'local',
    );
    const err = await refusal(retry(c.client, 'gus', old));
    expect(err?.message).toMatch(/expired.*Nothing was decided/);
    expect(err?.data?.reason).toBe('expired');
    expect((await app.store.requireConfirmation(sealed.cid)).status).toBe('pending');
    // The fresh state still decides: refusing the old one spent nothing.
    expect(statusOf(await retry(c.client, 'gus', r.requestState))).toBe('succeeded');
    expect(writes()).toBe(before + 1);
  });

  it('remembers per conversation on 2026-07-28 and never across conversations', async ({ connect }) => {
    const before = writes();
    const c = await connect('2026-07-28', () => ({ decision: 'approve', remember: true }));
    // The same payload every time: "remember" alone covers exactly it, within one conversation.
    const call = async (conversation?: string) =>
      statusOf(
        await c.client.callTool({
          name: 'pay',
          arguments: { name: 'hal', amount: 3 },
          ...(conversation ? { _meta: { [CONVERSATION_META]: conversation } } : {}),
        }),
      );
    expect(await call('conv-a')).toBe('succeeded');
    expect(c.asked).toHaveLength(1);
    // Same conversation: the remembered approval covers it, nobody is asked.
    expect(await call('conv-a')).toBe('succeeded');
    expect(c.asked).toHaveLength(1);
    // Another conversation of the same caller: asked again, and its own "remember" stays its own.
    expect(await call('conv-b')).toBe('succeeded');
    expect(c.asked).toHaveLength(2);
    expect(await call('conv-b')).toBe('succeeded');
    expect(await call('conv-a')).toBe('succeeded');
    expect(c.asked).toHaveLength(2);
    // No conversation named: a fresh one, so asked again.
    expect(await call()).toBe('succeeded');
    expect(c.asked).toHaveLength(3);
    expect(writes()).toBe(before + 6);
  });

  it('refuses a conversation label that is not one', async ({ connect }) => {
    const c = await connect('2026-07-28');
    const err = await refusal(
      c.client.callTool({ name: 'greet', arguments: { name: 'x' }, _meta: { [CONVERSATION_META]: '../other conv' } }),
    );
    expect(err?.code).toBe(-32602);
    expect(err?.message).toMatch(/1-64 letters, digits/);
  });

  it('tells a 2026-07-28 client listening for changes that the tool list changed when a reload exposes a workflow', async ({
    app,
    connect,
  }) => {
    const c = await connect('2026-07-28');
    let changed = 0;
    c.client.setNotificationHandler('notifications/tools/list_changed', () => {
      changed++;
    });
    const sub = await c.client.listen({ toolsListChanged: true });
    const original = app.engine.currentConfig;
    try {
      expect(sub.honoredFilter.toolsListChanged).toBe(true);
      const shout = GREET.replace('greet:', 'shout:');
      await app.source.set(loadConfigFromString(yaml(shout), original.file));
      await expect.poll(() => changed).toBeGreaterThan(0);
      expect((await c.client.listTools()).tools.map((t) => t.name)).toContain('shout');
    } finally {
      await sub.close();
      await app.source.set(original);
    }
  });
});
