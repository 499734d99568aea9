/**
 * Turns what the Slack SDK throws into MCP tool results with `isError: true`: the Slack error code plus what
 * the caller can do about it. Nothing from the request (least of all the token) is echoed back.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode } from '@slack/web-api';
import { isRateLimitRetry, redactSecrets } from './client.ts';

const AUTH_HINT =
  'Slack rejected the bot token. Set SLACK_BOT_TOKEN to a valid bot token (xoxb-…) with the needed scopes and restart the connector.';
const THREAD_HINT =
  'There is no message with this ts in the channel. Use get_channel_history to find the parent message and pass its ts.';

const HINTS: Record<string, string> = {
  channel_not_found:
    'The channel does not exist or the bot cannot see it. Use list_channels to find the channel ID; invite the bot to private channels first.',
  not_in_channel: 'The bot is not a member of this channel. Invite it to the channel (/invite) and try again.',
  is_archived: 'The channel is archived. Unarchive it or choose another channel.',
  users_not_found:
    'No Slack user has this email address. Check the address for typos, or ask an admin whether the person has a Slack account.',
  user_not_found: 'No Slack user has this ID.',
  invalid_auth: AUTH_HINT,
  not_authed: AUTH_HINT,
  account_inactive: AUTH_HINT,
  token_revoked: AUTH_HINT,
  token_expired: AUTH_HINT,
  no_text: 'The message needs text (or blocks). Pass a non-empty text.',
  invalid_blocks: 'blocks is not valid Block Kit. Check the block JSON, or send plain text only.',
  invalid_blocks_format: 'blocks is not valid Block Kit. Check the block JSON, or send plain text only.',
  msg_too_long: 'The text is longer than Slack allows (40,000 characters). Shorten it.',
  thread_not_found: THREAD_HINT,
  invalid_thread_ts: THREAD_HINT,
  invalid_cursor: 'The cursor is invalid or expired. Start again without a cursor.',
  ratelimited: 'Slack is rate-limiting this app. Try again later.',
  invalid_metadata_format: 'Slack refused the message metadata.',
};

/** A failure the connector itself detects, reported in Slack's vocabulary. */
export class SlackToolError extends Error {
  readonly slackError: string;
  constructor(slackError: string, message?: string) {
    super(message ?? slackError);
    this.name = 'SlackToolError';
    this.slackError = slackError;
  }
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null && name in err ? (err as Record<string, unknown>)[name] : undefined;
}

/** The Slack error code of a platform error (`{ok:false, error}`), if that is what `err` is. */
export function slackErrorCode(err: unknown): string | undefined {
  if (err instanceof SlackToolError) return err.slackError;
  if (field(err, 'code') !== ErrorCode.PlatformError) return undefined;
  const data = field(err, 'data');
  const code = field(data, 'error');
  return typeof code === 'string' ? code : undefined;
}

/** True when the request may have reached Slack but no answer came back. */
export function isLostAnswer(err: unknown): boolean {
  const code = field(err, 'code');
  if (code === ErrorCode.RequestError) return !isRateLimitRetry(err);
  if (code === ErrorCode.HTTPError) {
    const status = field(err, 'statusCode');
    return typeof status === 'number' && status >= 500;
  }
  return false;
}

export interface ErrorContext {
  /** what was being done, e.g. "post to C0CUST001" */
  action: string;
  /** secrets to scrub beyond token-shaped strings */
  secrets?: Array<string | undefined>;
  /** a write with an idempotency key: tell the caller that retrying is safe */
  idempotent?: boolean;
}

export function describeSlackError(err: unknown, ctx: ErrorContext): string {
  const code = slackErrorCode(err);
  let text: string;
  if (code) {
    const needed = field(field(err, 'data'), 'needed');
    const hint =
      code === 'missing_scope'
        ? `The bot token lacks the scope ${typeof needed === 'string' ? needed : 'this method needs'}. Add it to the Slack app and reinstall it.`
        : (HINTS[code] ?? 'See https://docs.slack.dev/reference/methods for what this error means.');
    text = `Slack error ${code} while trying to ${ctx.action}. ${hint}`;
  } else if (isRateLimitRetry(err)) {
    text = `Slack kept rate-limiting the request to ${ctx.action}; gave up after several waits. Try again later.`;
  } else if (isLostAnswer(err)) {
    const detail = err instanceof Error ? err.message : String(err);
    text = `No answer from Slack while trying to ${ctx.action} (${detail}).`;
    if (ctx.idempotent) text += ' The message may or may not have been posted; retrying with the same idempotency key is safe.';
  } else {
    const detail = err instanceof Error ? err.message : String(err);
    text = `Failed to ${ctx.action}: ${detail}`;
  }
  return redactSecrets(text, ...(ctx.secrets ?? []));
}

export function errorResult(err: unknown, ctx: ErrorContext): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: describeSlackError(err, ctx) }] };
}
