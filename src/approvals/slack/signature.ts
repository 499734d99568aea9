/**
 * Slack signs every request it sends to an app: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`
 * under the app's signing secret, with the timestamp in `X-Slack-Request-Timestamp`. Nothing in a
 * request is trusted before this check passes, and a request older than five minutes is refused
 * whatever its signature, so a captured click cannot be sent again later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { InterlockError } from '../../errors.ts';

export const SLACK_SIGNATURE_WINDOW_SECONDS = 5 * 60;

export interface SlackSignedRequest {
  /** the raw body exactly as received; parsing it first would change what was signed */
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
}

export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** Throws UNAUTHORIZED (details.reason: missing, stale or signature) unless Slack signed `req` within the window. */
export function verifySlackRequest(secret: string, req: SlackSignedRequest, nowMs: number = Date.now()): void {
  if (!req.timestamp || !req.signature)
    throw new InterlockError(
      'UNAUTHORIZED',
      'Not a Slack request: X-Slack-Request-Timestamp and X-Slack-Signature are required',
      { reason: 'missing' },
    );
  const ts = Number(req.timestamp);
  if (!/^\d{1,12}$/.test(req.timestamp) || Math.abs(nowMs / 1000 - ts) > SLACK_SIGNATURE_WINDOW_SECONDS)
    throw new InterlockError(
      'UNAUTHORIZED',
      `The Slack request's timestamp is more than ${SLACK_SIGNATURE_WINDOW_SECONDS / 60} minutes from now (a replay, or a clock far off): refused`,
      { reason: 'stale' },
    );
  const expected = Buffer.from(slackSignature(secret, req.timestamp, req.body));
  const given = Buffer.from(req.signature);
  // timingSafeEqual needs equal lengths; comparing the lengths first reveals nothing secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new InterlockError('UNAUTHORIZED', "The Slack request's signature does not match the signing secret: refused", {
      reason: 'signature',
    });
}
