/**
 * Issue 14: an explicitly set INTERLOCK_SLACK_API_URL / INTERLOCK_STRIPE_API_URL is where the
 * built-in connectors send, even when a real-looking key is set; before, a set Slack token
 * silently sent to slack.com. The canary test (secrets-kinds.test.ts) shows the same end to end
 * against the sandboxes.
 */
import { describe, expect, it } from 'vitest';
import { slackEnvironment } from '../../src/connectors/slack/client.ts';
import { createStripeClientFromEnv } from '../../src/connectors/stripe/client.ts';

describe('an explicit API URL wins over a real key', () => {
  it('Slack: a bot token with INTERLOCK_SLACK_API_URL goes to that URL, with that token', () => {
    expect(
      slackEnvironment({ SLACK_BOT_TOKEN: 'xoxb-real-looking', INTERLOCK_SLACK_API_URL: 'http://127.0.0.1:4011/api/' }),
    ).toEqual({ token: 'xoxb-real-looking', slackApiUrl: 'http://127.0.0.1:4011/api/', sandbox: false });
    expect(slackEnvironment({ SLACK_BOT_TOKEN: 'xoxb-real-looking' })).toEqual({ token: 'xoxb-real-looking', sandbox: false });
    expect(slackEnvironment({ INTERLOCK_SLACK_API_URL: ' http://127.0.0.1:4011/api/ ' })).toMatchObject({
      slackApiUrl: 'http://127.0.0.1:4011/api/',
      sandbox: true,
    });
  });

  it('Stripe: a test key with INTERLOCK_STRIPE_API_URL goes to that URL', () => {
    expect(
      createStripeClientFromEnv({ STRIPE_SECRET_KEY: 'sk_test_real_looking', INTERLOCK_STRIPE_API_URL: 'http://127.0.0.1:4010' }),
    ).toMatchObject({ apiUrl: 'http://127.0.0.1:4010', live: false });
  });
});
