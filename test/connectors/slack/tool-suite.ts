/**
 * The Slack connector's tool behaviour, run once per MCP transport: each test file supplies how to start a
 * connector against a sandbox and connect a real MCP Client to it.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect } from 'vitest';
import { SANDBOX_BOT_TOKEN } from '../../../src/connectors/slack/client.ts';
import { IDEMPOTENCY_META_KEY } from '../../../src/connectors/types.ts';
import type { SandboxMessage } from '../../../src/sandbox/slack/index.ts';
import { test } from '../../helpers/fixtures.ts';

export interface Connected {
  client: Client;
  close(): Promise<void>;
}

/** token unset: the connector's default (environment → sandbox token) */
export type Connect = (opts: { apiUrl: string; token?: string }) => Promise<Connected>;

const BAD_TOKEN = 'xoxp-1234-secret-user-token';

type Call = (name: string, args: Record<string, unknown>, key?: string, on?: Connected) => Promise<CallToolResult>;

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/**
 * `conn`: the connector `connect` starts on the file's Slack emulator, with a client; `call` calls
 * a tool on it (or on `on`), with an idempotency key when given, and keeps every text answer in
 * `texts` (for the file); `keyed` reads the emulator's messages posted under a key. Every test
 * starts from the emulator's seeded state.
 */
function toolTest(connect: Connect) {
  return test.extend<{
    conn: Connected;
    texts: string[];
    fresh: undefined;
    call: Call;
    keyed: (key: string) => SandboxMessage[];
  }>({
    conn: [
      async ({ slack }, use) => {
        const conn = await connect({ apiUrl: slack.url });
        try {
          await use(conn);
        } finally {
          await conn.close();
        }
      },
      { scope: 'file' },
    ],
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    texts: [async ({}, use) => use([]), { scope: 'file' }],
    fresh: [
      async ({ slack }, use) => {
        slack.reset();
        await use(undefined);
      },
      { auto: true },
    ],
    call: async ({ conn, texts }, use) =>
      use(async (name, args, key, on = conn) => {
        const res = (await on.client.callTool({
          name,
          arguments: args,
          ...(key ? { _meta: { [IDEMPOTENCY_META_KEY]: key } } : {}),
        })) as CallToolResult;
        for (const c of res.content) if (c.type === 'text') texts.push(c.text);
        return res;
      }),
    keyed: async ({ slack }, use) =>
      use((key) => slack.state().messages.filter((m) => m.metadata?.event_payload.idempotency_key === key)),
  });
}

export function defineToolSuite(transport: string, connect: Connect): void {
  const it = toolTest(connect);
  describe(`Slack connector over ${transport}`, () => {
    it('lists five tools with titles, described inputs, output schemas and honest annotations', async ({ conn }) => {
      const { tools } = await conn.client.listTools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(Object.keys(byName).sort()).toEqual([
        'get_channel_history',
        'list_channels',
        'lookup_user_by_email',
        'post_message',
        'reply_in_thread',
      ]);
      for (const t of tools) {
        expect(t.title).toBeTruthy();
        expect(t.description?.length).toBeGreaterThan(40);
        expect(t.outputSchema).toBeDefined();
        for (const [prop, schema] of Object.entries(t.inputSchema.properties ?? {})) {
          expect((schema as { description?: string }).description, `${t.name}.${prop}`).toBeTruthy();
        }
      }
      for (const read of ['get_channel_history', 'list_channels', 'lookup_user_by_email'])
        expect(byName[read].annotations?.readOnlyHint).toBe(true);
      for (const write of ['post_message', 'reply_in_thread']) {
        expect(byName[write].annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: true });
      }
    });

    it('post_message posts and records the idempotency key in message metadata', async ({ call, keyed }) => {
      const res = await call('post_message', { channel: 'C0CUST001', text: 'Your refund is on its way' }, 'run-1:notify');
      expect(res.isError).toBeFalsy();
      expect(res.structuredContent).toMatchObject({
        channel: 'C0CUST001',
        text: 'Your refund is on its way',
        deduplicated: false,
        idempotency_key: 'run-1:notify',
      });
      expect(text(res)).toContain('Posted');
      expect(keyed('run-1:notify')).toHaveLength(1);
      expect(keyed('run-1:notify')[0].metadata?.event_type).toBe('interlock_step');
    });

    it('post_message with the same key twice posts once', async ({ call, keyed, slack }) => {
      const first = await call('post_message', { channel: '#cust-grace', text: 'hello' }, 'run-2:notify');
      const second = await call('post_message', { channel: '#cust-grace', text: 'hello' }, 'run-2:notify');
      expect(first.structuredContent).toMatchObject({ channel: 'C0CUST002', deduplicated: false });
      expect(second.structuredContent).toMatchObject({
        channel: 'C0CUST002',
        deduplicated: true,
        ts: (first.structuredContent as { ts: string }).ts,
      });
      expect(keyed('run-2:notify')).toHaveLength(1);
      // without a key every call is a new message
      await call('post_message', {
        channel: 'C0GENERAL',
        text: 'a',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*a*' } }],
      });
      await call('post_message', { channel: 'C0GENERAL', text: 'a' });
      expect(slack.state().messages.filter((m) => m.channel === 'C0GENERAL')).toHaveLength(2);
    });

    it('a post retried after a lost answer leaves one message', async ({ call, keyed, slack }) => {
      slack.failNext('chat.postMessage');
      const first = await call('post_message', { channel: 'C0CUST001', text: 'refund issued' }, 'run-3:notify');
      const retry = await call('post_message', { channel: 'C0CUST001', text: 'refund issued' }, 'run-3:notify');
      // the connector finds its own post by the key instead of reporting the lost answer as a failure
      expect(first.isError).toBeFalsy();
      expect(retry.isError).toBeFalsy();
      expect(retry.structuredContent).toMatchObject({ deduplicated: true, channel: 'C0CUST001' });
      expect((first.structuredContent as { ts: string }).ts).toBe((retry.structuredContent as { ts: string }).ts);
      expect(keyed('run-3:notify')).toHaveLength(1);
      expect(
        slack
          .state()
          .requests.filter((r) => r.method === 'chat.postMessage')
          .map((r) => r.status),
      ).toEqual([0]);
    });

    it('a 429 with Retry-After: 1 is waited out, then the post succeeds', async ({ call, keyed, slack }) => {
      slack.injectRateLimit('chat.postMessage', 1, 1);
      const res = await call('post_message', { channel: 'C0BILLING', text: 'after a rate limit' }, 'run-4:notify');
      expect(res.isError).toBeFalsy();
      expect(res.structuredContent).toMatchObject({ deduplicated: false });
      expect(
        slack
          .state()
          .requests.filter((r) => r.method === 'chat.postMessage')
          .map((r) => r.status),
      ).toEqual([429, 200]);
      expect(keyed('run-4:notify')).toHaveLength(1);
    });

    it('post_message to an unknown channel is a tool error that says what to do', async ({ call, slack }) => {
      const res = await call('post_message', { channel: 'C0NOPE', text: 'x' }, 'run-5:notify');
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(/channel_not_found/);
      expect(text(res)).toMatch(/list_channels/);
      const byName = await call('post_message', { channel: '#nope', text: 'x' });
      expect(byName.isError).toBe(true);
      expect(text(byName)).toMatch(/channel_not_found/);
      expect(slack.state().messages).toHaveLength(0);
    });

    it('reply_in_thread replies under the parent, once per key, and rejects unknown parents', async ({ call, keyed }) => {
      const parent = await call('post_message', { channel: 'C0CUST001', text: 'Refund issued' });
      const ts = (parent.structuredContent as { ts: string }).ts;
      const reply = await call(
        'reply_in_thread',
        { channel: 'C0CUST001', thread_ts: ts, text: 'Arrives in 5-10 days' },
        'run-6:reply',
      );
      expect(reply.isError).toBeFalsy();
      expect(reply.structuredContent).toMatchObject({ channel: 'C0CUST001', thread_ts: ts, deduplicated: false });
      const again = await call(
        'reply_in_thread',
        { channel: 'C0CUST001', thread_ts: ts, text: 'Arrives in 5-10 days' },
        'run-6:reply',
      );
      expect(again.structuredContent).toMatchObject({ deduplicated: true, thread_ts: ts });
      expect(keyed('run-6:reply')).toMatchObject([{ thread_ts: ts }]);
      const orphan = await call(
        'reply_in_thread',
        { channel: 'C0CUST001', thread_ts: '1600000000.000100', text: 'x' },
        'run-6:orphan',
      );
      expect(orphan.isError).toBe(true);
      expect(text(orphan)).toMatch(/thread_not_found/);
      expect(keyed('run-6:orphan')).toHaveLength(0);
    });

    it('lookup_user_by_email finds a user or reports users_not_found', async ({ call }) => {
      const ada = await call('lookup_user_by_email', { email: 'ada@example.com' });
      expect(ada.structuredContent).toMatchObject({
        id: 'U0ADA',
        name: 'ada',
        real_name: 'Ada Lovelace',
        email: 'ada@example.com',
        is_bot: false,
      });
      const nobody = await call('lookup_user_by_email', { email: 'nobody@example.com' });
      expect(nobody.isError).toBe(true);
      expect(text(nobody)).toMatch(/users_not_found/);
      const invalid = await call('lookup_user_by_email', { email: 'not-an-email' });
      expect(invalid.isError).toBe(true);
    });

    it('list_channels pages through the workspace', async ({ call }) => {
      const all = await call('list_channels', {});
      const channels = (all.structuredContent as { channels: Array<{ id: string; name: string; is_member: boolean }> }).channels;
      expect(channels.map((c) => c.id)).toEqual(['C0CUST001', 'C0CUST002', 'C0GENERAL', 'C0BILLING']);
      expect(channels.every((c) => c.is_member)).toBe(true);
      const p1 = await call('list_channels', { limit: 3 });
      const next = (p1.structuredContent as { next_cursor?: string }).next_cursor;
      expect(next).toBeTruthy();
      const p2 = await call('list_channels', { limit: 3, cursor: next });
      expect(p2.structuredContent).toMatchObject({ channels: [{ id: 'C0BILLING', name: 'billing' }] });
      expect((p2.structuredContent as { next_cursor?: string }).next_cursor).toBeUndefined();
    });

    it('get_channel_history returns recent messages with metadata, paged', async ({ call }) => {
      for (const n of [1, 2, 3]) await call('post_message', { channel: 'C0GENERAL', text: `update ${n}` }, `run-7:${n}`);
      const p1 = await call('get_channel_history', { channel: '#general', limit: 2 });
      const body = p1.structuredContent as {
        channel: string;
        messages: Array<{ text: string; metadata?: { event_payload: Record<string, unknown> } }>;
        has_more: boolean;
        next_cursor?: string;
      };
      expect(body.channel).toBe('C0GENERAL');
      expect(body.messages.map((m) => m.text)).toEqual(['update 3', 'update 2']);
      expect(body.messages[0].metadata?.event_payload).toEqual({ idempotency_key: 'run-7:3' });
      expect(body.has_more).toBe(true);
      const p2 = await call('get_channel_history', { channel: 'C0GENERAL', limit: 2, cursor: body.next_cursor });
      expect(p2.structuredContent).toMatchObject({ messages: [{ text: 'update 1' }], has_more: false });
      const missing = await call('get_channel_history', { channel: 'C0NOPE' });
      expect(missing.isError).toBe(true);
      expect(text(missing)).toMatch(/channel_not_found/);
    });

    it('a rejected token is a tool error naming invalid_auth, without the token', async ({ call, slack }) => {
      const bad = await connect({ apiUrl: slack.url, token: BAD_TOKEN });
      try {
        for (const [name, args] of [
          ['post_message', { channel: 'C0GENERAL', text: 'x' }],
          ['lookup_user_by_email', { email: 'ada@example.com' }],
          ['list_channels', {}],
        ] as const) {
          const res = await call(name, args, 'run-8:x', bad);
          expect(res.isError, name).toBe(true);
          expect(text(res)).toMatch(/invalid_auth/);
          expect(text(res)).toMatch(/SLACK_BOT_TOKEN/);
        }
      } finally {
        await bad.close();
      }
    });

    it('never shows a token in any answer', ({ texts }) => {
      expect(texts.length).toBeGreaterThan(10);
      for (const t of texts) {
        expect(t).not.toContain(SANDBOX_BOT_TOKEN);
        expect(t).not.toContain(BAD_TOKEN);
        expect(t).not.toMatch(/xox[a-z]-[A-Za-z0-9]/);
      }
    });
  });
}
