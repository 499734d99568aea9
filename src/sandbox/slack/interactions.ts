/**
 * Button clicks, sent the way Slack sends them to an app's interactivity URL: a `block_actions`
 * payload, form-encoded as `payload=<json>`, signed with the app's signing secret (`v0=` + hex
 * HMAC-SHA256 of `v0:<timestamp>:<body>`) in X-Slack-Signature and X-Slack-Request-Timestamp.
 * A test or demo says who clicked which button on which message; the overrides make the forgeries
 * a receiver must refuse (a wrong secret, an old timestamp, a changed button value).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SlackStore } from './state.ts';

export interface Click {
  channel: string;
  /** the message's ts */
  ts: string;
  /** the Slack user id clicking */
  user: string;
  action_id: string;
  /** sign with this secret instead of the configured one */
  signing_secret?: string;
  /** seconds since the epoch to sign and send instead of now */
  timestamp?: number;
  /** send this button value instead of the one on the message */
  value?: string;
}

export interface ClickResult {
  /** the receiver's HTTP status and body */
  status: number;
  body: unknown;
  /** the exact request, so a test can send it again as a replay */
  request: { url: string; headers: Record<string, string>; body: string };
}

export class ClickError extends Error {}

interface Button {
  action_id: string;
  block_id?: string;
  text?: unknown;
  value?: string;
  style?: string;
}

function findButton(blocks: unknown[] | undefined, actionId: string): Button | undefined {
  for (const b of blocks ?? []) {
    const block = b as { type?: string; block_id?: string; elements?: unknown[] };
    if (block.type !== 'actions') continue;
    for (const e of block.elements ?? []) {
      const el = e as Button & { type?: string };
      if (el.type === 'button' && el.action_id === actionId)
        return { ...el, ...(block.block_id ? { block_id: block.block_id } : {}) };
    }
  }
  return undefined;
}

export async function sendClick(store: SlackStore, click: Click): Promise<ClickResult> {
  const target = store.interactivity;
  if (!target)
    throw new ClickError('no interactivity URL: start the sandbox with interactivity, or POST /_sandbox/interactivity');
  const channel = store.findChannel(click.channel);
  const message = channel && store.messages.find((m) => m.channel === channel.id && m.ts === click.ts);
  if (!channel || !message) throw new ClickError(`no message ${click.ts} in ${click.channel}`);
  const user = store.users.find((u) => u.id === click.user);
  if (!user) throw new ClickError(`no user ${click.user}`);
  const button = findButton(message.blocks, click.action_id);
  if (!button) throw new ClickError(`message ${click.ts} has no button ${click.action_id}`);
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    type: 'block_actions',
    user: { id: user.id, username: user.name, name: user.name, team_id: store.team.id },
    api_app_id: store.bot.app_id,
    token: 'sandbox-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: channel.id, is_ephemeral: false },
    trigger_id: `${now}.${randomBytes(6).toString('hex')}`,
    team: { id: store.team.id, domain: store.team.domain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel.id, name: channel.name },
    message: {
      type: 'message',
      ts: message.ts,
      text: message.text,
      user: message.user,
      bot_id: message.bot_id,
      blocks: message.blocks,
    },
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/${store.team.id}/${randomBytes(6).toString('hex')}`,
    actions: [
      {
        action_id: button.action_id,
        block_id: button.block_id,
        text: button.text,
        value: click.value ?? button.value,
        ...(button.style ? { style: button.style } : {}),
        type: 'button',
        action_ts: `${now}.${String(Date.now() % 1000).padStart(6, '0')}`,
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(click.timestamp ?? now);
  const secret = click.signing_secret ?? target.signingSecret;
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`,
  };
  const res = await fetch(target.url, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, request: { url: target.url, headers, body } };
}
