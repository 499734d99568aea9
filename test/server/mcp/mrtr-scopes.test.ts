import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect } from 'vitest';
import { silentLogger } from '../../../src/logger.ts';
import { CONVERSATION_META } from '../../../src/server/mcp/modern.ts';
import { callLogPath, readCalls, testConnectorYaml } from '../../helpers/app.ts';
import { appTest } from '../../helpers/fixtures.ts';
import { configYaml, payWorkflow } from '../../helpers/workflows.ts';
import { type Keep, keepClients } from './helpers.ts';

// On 2026-07-28 the signed state names its caller, and deciding needs `confirm`, as on the older revisions.

const TOKENS = `
tokens:
  - { name: chat, token: "\${env:IL_T_CHAT}", scopes: [read, trigger] }
  - { name: ops, token: "\${env:IL_T_OPS}", scopes: [read, trigger, confirm] }
  - { name: ops2, token: "\${env:IL_T_OPS2}", scopes: [read, trigger, confirm] }
policy:
  groups:
    finance: [ops, ops2]
  rules:
    - name: big-pay
      description: payments above 1000 need two approvers from finance
      tool: test.record
      when: args.value.amount > 1000
      require: { approvers: 2, group: finance }
`;
const env = { IL_T_CHAT: 'chat-token-0123456789', IL_T_OPS: 'ops-token-0123456789', IL_T_OPS2: 'ops2-token-0123456789' };

const log = callLogPath();

type Modern = (token: string, asked?: string[]) => Promise<Client>;

/**
 * `interlock serve` with the tokens above, and `modern`: a client pinned to 2026-07-28 for a token;
 * with `asked`, the person approves every write, asks to remember it, and the questions are kept.
 */
const it = appTest({
  yaml: configYaml({ connectors: testConnectorYaml(log), workflows: [payWorkflow({ amount: {} })], extra: TOKENS }),
  workers: false,
  server: { logger: silentLogger(), env },
}).extend<{ keep: Keep; modern: Modern }>({
  keep: keepClients,
  modern: [
    async ({ server, keep }, use) =>
      use(async (token, asked) => {
        const client = keep(
          new Client(
            { name: 'mrtr', version: '1.0.0' },
            {
              capabilities: { elicitation: { form: {} } },
              versionNegotiation: { mode: { pin: '2026-07-28' } },
              inputRequired: { autoFulfill: asked !== undefined },
            },
          ),
        );
        // With `asked`: the person approves every write and asks to remember it.
        client.setRequestHandler('elicitation/create', async (req) => {
          asked?.push(String(req.params.message));
          return { action: 'accept', content: { decision: 'approve', remember: true } };
        });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          }),
        );
        return client;
      }),
    { scope: 'file' },
  ],
});

describe('MCP 2026-07-28 with tokens', () => {
  it('a token without confirm gets the pending confirmation, not input_required', async ({ modern }) => {
    const c = await modern(env.IL_T_CHAT);
    const r = await c.callTool({ name: 'pay', arguments: { name: 'ann', amount: 2 } });
    const view = r.structuredContent as { status: string; confirmation?: { argumentsHash: string } };
    expect(view.status).toBe('awaiting_confirmation');
    expect(view.confirmation?.argumentsHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a state issued to another caller, and the write stays pending', async ({ modern }) => {
    const before = readCalls(log).filter((x) => x.tool === 'record').length;
    const ops = await modern(env.IL_T_OPS);
    const first = (await ops.callTool(
      { name: 'pay', arguments: { name: 'bo', amount: 4 } },
      { allowInputRequired: true },
    )) as unknown as {
      resultType?: string;
      requestState: string;
    };
    expect(first.resultType).toBe('input_required');
    const ops2 = await modern(env.IL_T_OPS2);
    const err = await ops2
      .callTool({
        name: 'pay',
        arguments: { name: 'bo', amount: 4 },
        inputResponses: { decision: { action: 'accept', content: { decision: 'approve' } } },
        requestState: first.requestState,
      } as never)
      .then(
        () => undefined,
        (e: unknown) => e as { message: string; data?: { reason?: string } },
      );
    expect(err?.message).toMatch(/issued to another caller.*Nothing was decided/);
    expect(err?.data?.reason).toBe('principal');
    expect(readCalls(log).filter((x) => x.tool === 'record').length).toBe(before);
  });

  it("keeps one caller's conversation to itself: another token sending the same label is asked again", async ({ modern }) => {
    const before = readCalls(log).filter((x) => x.tool === 'record').length;
    const opsAsked: string[] = [];
    const ops2Asked: string[] = [];
    const ops = await modern(env.IL_T_OPS, opsAsked);
    const ops2 = await modern(env.IL_T_OPS2, ops2Asked);
    const pay = (c: Client) =>
      c.callTool({ name: 'pay', arguments: { name: 'cy', amount: 1 }, _meta: { [CONVERSATION_META]: 'shared' } });
    expect((await pay(ops)).structuredContent).toMatchObject({ status: 'succeeded' });
    expect((await pay(ops)).structuredContent).toMatchObject({ status: 'succeeded' });
    expect(opsAsked).toHaveLength(1);
    expect((await pay(ops2)).structuredContent).toMatchObject({ status: 'succeeded' });
    expect(ops2Asked).toHaveLength(1);
    expect(readCalls(log).filter((x) => x.tool === 'record').length).toBe(before + 3);
  });

  it('does not ask the caller about a write a quorum holds: it started the run, so it cannot be one of the approvers', async ({
    app,
    modern,
  }) => {
    const ops = await modern(env.IL_T_OPS);
    const r = await ops.callTool({ name: 'pay', arguments: { name: 'big', amount: 5000 } });
    const view = r.structuredContent as { status: string; next: string; confirmation?: { id: string } };
    expect(view.status).toBe('awaiting_confirmation');
    expect(view.next).toMatch(/needs 2 approvers from group "finance".*'ops' started the run/);
    const conf = await app.store.requireConfirmation(String(view.confirmation?.id));
    expect(conf).toMatchObject({ status: 'pending', owner: 'ops' });
  });
});
