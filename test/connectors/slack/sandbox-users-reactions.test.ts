/** users.list, users.profile.get and reactions.add in the Slack sandbox, through the real WebClient: what the reference Slack MCP server calls. */
import { WebClient } from '@slack/web-api';
import { describe, expect } from 'vitest';
import { test } from '../../helpers/fixtures.ts';
import type { SlackSandbox } from '../../../src/sandbox/slack/index.ts';

/** `sandbox`: the file's Slack emulator, back at its seed for each test; `slackClient` (named `slack` in the tests): a WebClient on it. */
const it = test.extend<{ sandbox: SlackSandbox; slackClient: WebClient }>({
  sandbox: async ({ slack }, use) => {
    slack.reset();
    await use(slack);
  },
  slackClient: async ({ sandbox }, use) =>
    use(
      new WebClient('xoxb-sandbox-users', {
        slackApiUrl: sandbox.url,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
      }),
    ),
});

const platformError = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: { data?: { error?: string } }) => e.data?.error,
  );

describe('users', () => {
  it('users.list pages through every member with a cursor, each with a profile', async ({ slackClient: slack }) => {
    const first = await slack.users.list({ limit: 2 });
    expect(first.ok).toBe(true);
    expect(first.members?.map((u) => u.id)).toEqual(['U0ADA', 'U0GRACE']);
    expect(first.members?.[0]).toMatchObject({
      name: 'ada',
      real_name: 'Ada Lovelace',
      team_id: 'T0INTERLOCK',
      profile: { email: 'ada@example.com' },
    });
    const cursor = first.response_metadata?.next_cursor ?? '';
    expect(cursor).not.toBe('');
    const rest = await slack.users.list({ limit: 2, cursor });
    expect(rest.members?.map((u) => u.id)).toContain('U0BOT');
    expect(rest.response_metadata?.next_cursor).toBe('');
    expect(await platformError(slack.users.list({ cursor: 'bm9wZQ==' }))).toBe('invalid_cursor');
  });

  it("users.profile.get answers a user's profile, and the caller's own without a user", async ({ slackClient: slack }) => {
    const ada = await slack.users.profile.get({ user: 'U0ADA', include_labels: true });
    expect(ada.profile).toMatchObject({
      real_name: 'Ada Lovelace',
      display_name: 'ada',
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.com',
      team: 'T0INTERLOCK',
    });
    expect((await slack.users.profile.get({})).profile).toMatchObject({ real_name: 'Interlock' });
    expect(await platformError(slack.users.profile.get({ user: 'U0NOPE' }))).toBe('user_not_found');
  });
});

describe('reactions.add', () => {
  it('adds a reaction the history then shows, once per user', async ({ slackClient: slack }) => {
    const posted = await slack.chat.postMessage({ channel: 'C0BILLING', text: 'refund done' });
    const ts = posted.ts ?? '';
    expect(await slack.reactions.add({ channel: 'C0BILLING', timestamp: ts, name: 'white_check_mark' })).toMatchObject({
      ok: true,
    });
    const history = await slack.conversations.history({ channel: 'C0BILLING', limit: 1 });
    expect(history.messages?.[0]).toMatchObject({ ts, reactions: [{ name: 'white_check_mark', users: ['U0BOT'], count: 1 }] });
    expect(await platformError(slack.reactions.add({ channel: 'C0BILLING', timestamp: ts, name: 'white_check_mark' }))).toBe(
      'already_reacted',
    );
  });

  it("answers Slack's errors for a missing message, channel or bad name", async ({ slackClient: slack }) => {
    const ts = (await slack.chat.postMessage({ channel: 'C0BILLING', text: 'x' })).ts ?? '';
    expect(await platformError(slack.reactions.add({ channel: 'C0BILLING', timestamp: '1.000001', name: 'tada' }))).toBe(
      'message_not_found',
    );
    expect(await platformError(slack.reactions.add({ channel: 'C0NOPE', timestamp: ts, name: 'tada' }))).toBe(
      'channel_not_found',
    );
    expect(await platformError(slack.reactions.add({ channel: 'C0BILLING', timestamp: ts, name: 'Not An Emoji' }))).toBe(
      'invalid_name',
    );
  });
});
