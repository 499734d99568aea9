import { ErrorCode, WebClient } from '@slack/web-api';
import { describe, expect } from 'vitest';
import { test } from '../../helpers/fixtures.ts';
import { createSlackWebClient } from '../../../src/connectors/slack/client.ts';
import type { SlackSandbox } from '../../../src/sandbox/slack/index.ts';

const quiet = () => {};

/**
 * `sandbox`: the file's Slack emulator, back at its seed for each test; `slackClient` (named `slack`
 * in the tests): the connector's WebClient on it; `post`: a raw form POST to one of its methods.
 */
const it = test.extend<{
  sandbox: SlackSandbox;
  slackClient: WebClient;
  post: (method: string, body: string, headers: Record<string, string>) => Promise<Response>;
}>({
  sandbox: async ({ slack }, use) => {
    slack.reset();
    await use(slack);
  },
  slackClient: async ({ sandbox }, use) =>
    use(createSlackWebClient({ token: 'xoxb-sandbox-test', slackApiUrl: sandbox.url, log: quiet })),
  post: async ({ sandbox }, use) =>
    use((method, body, headers) => fetch(new URL(method, sandbox.url), { method: 'POST', body, headers })),
});

async function slackError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; data?: { error?: string } };
    expect(e.code).toBe(ErrorCode.PlatformError);
    return e.data?.error ?? '';
  }
  throw new Error('expected a Slack platform error');
}

describe('Slack sandbox with the real WebClient', () => {
  it('serves on a free port with a URL ending in /api/', ({ sandbox }) => {
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    expect(sandbox.port).toBeGreaterThan(0);
  });

  it('auth.test names the workspace and the bot', async ({ slackClient: slack }) => {
    const res = await slack.auth.test();
    expect(res).toMatchObject({ ok: true, team_id: 'T0INTERLOCK', user_id: 'U0BOT', bot_id: 'B0BOT' });
  });

  it('rejects tokens that are not bot tokens, and requests without one', async ({ sandbox }) => {
    const userToken = new WebClient('xoxp-user-token', { slackApiUrl: sandbox.url, retryConfig: { retries: 0 } });
    expect(await slackError(userToken.auth.test())).toBe('invalid_auth');
    const noToken = new WebClient(undefined, { slackApiUrl: sandbox.url, retryConfig: { retries: 0 } });
    expect(await slackError(noToken.auth.test())).toBe('not_authed');
  });

  it('accepts the token as a form parameter and JSON bodies with a Bearer header', async ({ post }) => {
    const form = await post('auth.test', 'token=xoxb-in-form', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(await form.json()).toMatchObject({ ok: true });
    const json = await post(
      'chat.postMessage',
      JSON.stringify({ channel: 'C0GENERAL', text: 'json', metadata: { event_type: 'e', event_payload: { a: 1 } } }),
      {
        'content-type': 'application/json; charset=utf-8',
        authorization: 'Bearer xoxb-json',
      },
    );
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({
      ok: true,
      channel: 'C0GENERAL',
      message: { text: 'json', metadata: { event_type: 'e', event_payload: { a: 1 } } },
    });
  });

  it('chat.postMessage stores text, blocks and metadata and hands out increasing ts', async ({ sandbox, slackClient: slack }) => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*refund* issued' } }];
    const metadata = { event_type: 'interlock_step', event_payload: { idempotency_key: 'run1:step2' } };
    const first = await slack.chat.postMessage({ channel: 'C0CUST001', text: 'Refund issued', blocks, metadata });
    const second = await slack.chat.postMessage({ channel: '#cust-grace', text: 'Hello Grace' });
    expect(first).toMatchObject({
      ok: true,
      channel: 'C0CUST001',
      ts: '1700000000.000100',
      message: { text: 'Refund issued', bot_id: 'B0BOT' },
    });
    expect(second.channel).toBe('C0CUST002');
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    const stored = sandbox.state().messages;
    expect(stored).toHaveLength(2);
    expect(stored[0]).toMatchObject({ channel: 'C0CUST001', blocks, metadata });
  });

  it('chat.postMessage fails with channel_not_found and no_text', async ({ sandbox, slackClient: slack }) => {
    expect(await slackError(slack.chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).toBe('channel_not_found');
    expect(await slackError(slack.chat.postMessage({ channel: 'C0GENERAL', text: '' }))).toBe('no_text');
    expect(sandbox.state().messages).toHaveLength(0);
  });

  it('threads replies and lists them with conversations.replies', async ({ slackClient: slack }) => {
    const parent = await slack.chat.postMessage({ channel: 'C0BILLING', text: 'parent' });
    const reply = await slack.chat.postMessage({ channel: 'C0BILLING', text: 'reply', thread_ts: parent.ts! });
    const thread = await slack.conversations.replies({ channel: 'C0BILLING', ts: parent.ts! });
    expect(thread.messages?.map((m) => m.text)).toEqual(['parent', 'reply']);
    expect(thread.messages?.[0]).toMatchObject({ reply_count: 1, thread_ts: parent.ts, latest_reply: reply.ts });
    expect(await slackError(slack.conversations.replies({ channel: 'C0BILLING', ts: '1.000001' }))).toBe('thread_not_found');
    const history = await slack.conversations.history({ channel: 'C0BILLING' });
    expect(history.messages?.map((m) => m.text)).toEqual(['parent']);
  });

  it('conversations.history pages newest first and shows metadata only when asked', async ({ slackClient: slack }) => {
    for (let i = 1; i <= 5; i++) {
      await slack.chat.postMessage({ channel: 'C0GENERAL', text: `m${i}`, metadata: { event_type: 'n', event_payload: { i } } });
    }
    const p1 = await slack.conversations.history({ channel: 'C0GENERAL', limit: 2 });
    expect(p1.messages?.map((m) => m.text)).toEqual(['m5', 'm4']);
    expect(p1.has_more).toBe(true);
    expect(p1.messages?.[0].metadata).toBeUndefined();
    const p2 = await slack.conversations.history({
      channel: 'C0GENERAL',
      limit: 2,
      cursor: p1.response_metadata?.next_cursor,
      include_all_metadata: true,
    });
    expect(p2.messages?.map((m) => m.text)).toEqual(['m3', 'm2']);
    expect(p2.messages?.[0].metadata).toEqual({ event_type: 'n', event_payload: { i: 3 } });
    const p3 = await slack.conversations.history({ channel: 'C0GENERAL', limit: 2, cursor: p2.response_metadata?.next_cursor });
    expect(p3.messages?.map((m) => m.text)).toEqual(['m1']);
    expect(p3.has_more).toBe(false);
    expect(await slackError(slack.conversations.history({ channel: 'C0NOPE' }))).toBe('channel_not_found');
    expect(await slackError(slack.conversations.history({ channel: 'C0GENERAL', cursor: 'bm9wZQ==' }))).toBe('invalid_cursor');
  });

  it('conversations.list pages with response_metadata.next_cursor', async ({ slackClient: slack }) => {
    const p1 = await slack.conversations.list({ limit: 3 });
    expect(p1.channels?.map((c) => c.id)).toEqual(['C0CUST001', 'C0CUST002', 'C0GENERAL']);
    expect(p1.channels?.[0]).toMatchObject({ name: 'cust-ada', is_member: true, is_private: false });
    const p2 = await slack.conversations.list({ limit: 3, cursor: p1.response_metadata?.next_cursor });
    expect(p2.channels?.map((c) => c.id)).toEqual(['C0BILLING']);
    expect(p2.response_metadata?.next_cursor).toBe('');
    const all: string[] = [];
    for await (const page of slack.paginate('conversations.list', { limit: 1 })) {
      all.push(...((page as { channels?: Array<{ name?: string }> }).channels ?? []).map((c) => c.name ?? ''));
    }
    expect(all).toEqual(['cust-ada', 'cust-grace', 'general', 'billing']);
  });

  it('users.lookupByEmail finds seeded users and reports users_not_found', async ({ slackClient: slack }) => {
    const ada = await slack.users.lookupByEmail({ email: 'ada@example.com' });
    expect(ada.user).toMatchObject({ id: 'U0ADA', real_name: 'Ada Lovelace', profile: { email: 'ada@example.com' } });
    const grace = await slack.users.lookupByEmail({ email: 'GRACE@example.com' });
    expect(grace.user?.id).toBe('U0GRACE');
    expect(await slackError(slack.users.lookupByEmail({ email: 'nobody@example.com' }))).toBe('users_not_found');
  });

  it('answers injected rate limits with HTTP 429 and Retry-After', async ({ sandbox, post }) => {
    const res = await fetch(new URL('../_sandbox/rate-limit', sandbox.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'auth.test', count: 1, retry_after: 7 }),
    });
    expect(res.status).toBe(200);
    const limited = await post('auth.test', '', { authorization: 'Bearer xoxb-x' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    const after = await post('auth.test', '', { authorization: 'Bearer xoxb-x' });
    expect(after.status).toBe(200);
  });

  it('the WebClient waits out a 429 with Retry-After: 1 and succeeds', async ({ sandbox, slackClient: slack }) => {
    sandbox.injectRateLimit('chat.postMessage', 1, 1);
    const res = await slack.chat.postMessage({ channel: 'C0GENERAL', text: 'after the wait' });
    expect(res.ok).toBe(true);
    const calls = sandbox
      .state()
      .requests.filter((r) => r.method === 'chat.postMessage')
      .map((r) => r.status);
    expect(calls).toEqual([429, 200]);
    expect(sandbox.state().messages).toHaveLength(1);
  });

  it('fail-next commits the post, then drops the connection without an answer', async ({ sandbox, slackClient: slack }) => {
    const res = await fetch(new URL('../_sandbox/fail-next', sandbox.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'chat.postMessage' }),
    });
    expect(res.status).toBe(200);
    const lost = await slack.chat.postMessage({ channel: 'C0GENERAL', text: 'lost answer' }).then(
      () => undefined,
      (err: { code?: string }) => err.code,
    );
    expect(lost).toBe(ErrorCode.RequestError);
    const state = sandbox.state();
    // committed once and not resent by the client
    expect(state.messages.map((m) => m.text)).toEqual(['lost answer']);
    expect(state.requests.filter((r) => r.method === 'chat.postMessage').map((r) => r.status)).toEqual([0]);
  });

  it('exposes state and reset over HTTP without auth', async ({ sandbox, slackClient: slack }) => {
    await slack.chat.postMessage({ channel: 'C0GENERAL', text: 'to be reset' });
    const state = (await (await fetch(new URL('../_sandbox/state', sandbox.url))).json()) as {
      channels: Array<{ id: string; name: string }>;
      users: Array<{ id: string; email: string }>;
      messages: unknown[];
    };
    expect(state.channels.map((c) => `${c.id}:${c.name}`)).toEqual([
      'C0CUST001:cust-ada',
      'C0CUST002:cust-grace',
      'C0GENERAL:general',
      'C0BILLING:billing',
    ]);
    expect(state.users.filter((u) => u.email).map((u) => `${u.id}:${u.email}`)).toEqual([
      'U0ADA:ada@example.com',
      'U0GRACE:grace@example.com',
    ]);
    expect(state.messages).toHaveLength(1);
    const reset = await fetch(new URL('../_sandbox/reset', sandbox.url), { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(sandbox.state().messages).toHaveLength(0);
    const again = await slack.chat.postMessage({ channel: 'C0GENERAL', text: 'fresh' });
    expect(again.ts).toBe('1700000000.000100');
  });

  it('answers unknown methods the way Slack does', async ({ post }) => {
    const res = await post('nope.method', '', { authorization: 'Bearer xoxb-x' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: false, error: 'unknown_method' });
  });
});
