/**
 * The WebClient that posts approval cards: the bot token named by `approvals.slack.token`
 * (default SLACK_BOT_TOKEN), pointed where the Slack connector points (INTERLOCK_SLACK_API_URL
 * wins; no token means the sandbox). One client per token and URL, rebuilt when either changes.
 */
import type { WebClient } from '@slack/web-api';
import { createSlackWebClient, slackEnvironment } from '../../connectors/slack/client.ts';
import { registerSecret } from '../../secrets.ts';
import type { SlackApprovalsConfig } from '../../workflows/types.ts';

export class SlackClients {
  private cached: { key: string; client: WebClient } | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;

  constructor(env: NodeJS.ProcessEnv, log: (line: string) => void) {
    this.env = env;
    this.log = log;
  }

  for(cfg: SlackApprovalsConfig): WebClient {
    const token = cfg.tokenEnv ? this.env[cfg.tokenEnv] : this.env.SLACK_BOT_TOKEN;
    registerSecret(token);
    const e = slackEnvironment({ ...this.env, SLACK_BOT_TOKEN: token ?? '' });
    const key = `${e.token}\n${e.slackApiUrl ?? ''}`;
    if (this.cached?.key !== key)
      this.cached = {
        key,
        client: createSlackWebClient({ token: e.token, ...(e.slackApiUrl ? { slackApiUrl: e.slackApiUrl } : {}), log: this.log }),
      };
    return this.cached.client;
  }
}
