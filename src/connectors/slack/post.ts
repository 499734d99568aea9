/**
 * Posting with an idempotency key. Slack has no idempotency header, so the key rides in the message's own
 * metadata and "already posted?" is answered by reading the channel (or thread) back before posting.
 */
import type { ChatPostMessageArguments, WebClient } from '@slack/web-api';
import { SlackToolError, isLostAnswer } from './errors.ts';

export const STEP_EVENT_TYPE = 'interlock_step';
/** How many recent channel messages the duplicate check reads; an Interlock retry comes soon after the first try. */
export const LOOKBACK_MESSAGES = 200;
const MAX_THREAD_PAGES = 5;
const MAX_CHANNEL_LIST_PAGES = 20;
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

/** The part of a history or thread message the duplicate check reads. */
interface MessageLike {
  ts?: string;
  text?: string;
  thread_ts?: string;
  metadata?: { event_type?: string; event_payload?: unknown };
}

export interface PostedMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  deduplicated: boolean;
  idempotency_key?: string;
}

export interface PostRequest {
  channel: string;
  text: string;
  blocks?: Array<{ type: string; [key: string]: unknown }>;
  thread_ts?: string;
  reply_broadcast?: boolean;
  idempotencyKey?: string;
}

/** conversations.history and .replies want an ID; people and workflows often write `#name`. */
export async function resolveChannelId(client: WebClient, channel: string): Promise<string> {
  if (CHANNEL_ID.test(channel)) return channel;
  const name = channel.replace(/^#/, '');
  let cursor: string | undefined;
  for (let i = 0; i < MAX_CHANNEL_LIST_PAGES; i++) {
    const res = await client.conversations.list({
      types: 'public_channel,private_channel',
      exclude_archived: true,
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    const hit = res.channels?.find((c) => c.name === name);
    if (hit?.id) return hit.id;
    cursor = res.response_metadata?.next_cursor || undefined;
    if (!cursor) break;
  }
  throw new SlackToolError('channel_not_found', `no channel named #${name}`);
}

function carriesKey(m: MessageLike, key: string): boolean {
  return (
    m.metadata?.event_type === STEP_EVENT_TYPE &&
    (m.metadata.event_payload as Record<string, unknown> | undefined)?.idempotency_key === key
  );
}

/**
 * The message carrying `key`, if one was posted. For a reply, reading the thread also proves the parent
 * exists (Slack itself would silently orphan a reply to an unknown ts).
 */
export async function findByKey(
  client: WebClient,
  channel: string,
  key: string | undefined,
  threadTs?: string,
): Promise<MessageLike | undefined> {
  if (threadTs !== undefined) {
    let cursor: string | undefined;
    for (let i = 0; i < MAX_THREAD_PAGES; i++) {
      const res = await client.conversations.replies({
        channel,
        ts: threadTs,
        include_all_metadata: true,
        limit: LOOKBACK_MESSAGES,
        ...(cursor ? { cursor } : {}),
      });
      const hit = key === undefined ? undefined : res.messages?.find((m) => carriesKey(m, key));
      if (hit || key === undefined) return hit;
      cursor = res.response_metadata?.next_cursor || undefined;
      if (!cursor) return undefined;
    }
    return undefined;
  }
  if (key === undefined) return undefined;
  const res = await client.conversations.history({ channel, include_all_metadata: true, limit: LOOKBACK_MESSAGES });
  return res.messages?.find((m) => carriesKey(m, key));
}

function asPosted(channel: string, m: MessageLike, deduplicated: boolean, key: string | undefined): PostedMessage {
  return {
    channel,
    ts: m.ts ?? '',
    ...(m.thread_ts && m.thread_ts !== m.ts ? { thread_ts: m.thread_ts } : {}),
    text: m.text ?? '',
    deduplicated,
    ...(key !== undefined ? { idempotency_key: key } : {}),
  };
}

export async function postOnce(client: WebClient, req: PostRequest): Promise<PostedMessage> {
  const channel = await resolveChannelId(client, req.channel);
  const key = req.idempotencyKey;
  const existing = await findByKey(client, channel, key, req.thread_ts);
  if (existing) return asPosted(channel, existing, true, key);

  try {
    const thread = req.thread_ts === undefined ? {} : { thread_ts: req.thread_ts, reply_broadcast: req.reply_broadcast ?? false };
    const args: ChatPostMessageArguments = {
      channel,
      text: req.text,
      ...(req.blocks ? { blocks: req.blocks } : {}),
      ...thread,
      ...(key !== undefined ? { metadata: { event_type: STEP_EVENT_TYPE, event_payload: { idempotency_key: key } } } : {}),
    };
    const res = await client.chat.postMessage(args);
    return {
      channel: res.channel ?? channel,
      ts: res.ts ?? '',
      ...(req.thread_ts !== undefined ? { thread_ts: res.message?.thread_ts ?? req.thread_ts } : {}),
      text: res.message?.text ?? req.text,
      deduplicated: false,
      ...(key !== undefined ? { idempotency_key: key } : {}),
    };
  } catch (err) {
    // The post may have landed even though its answer did not; the key lets us find out instead of guessing.
    if (key === undefined || !isLostAnswer(err)) throw err;
    // A lookup that fails too proves nothing: the original error (lost answer) goes to the caller, who may find it in doubt.
    const landed = await findByKey(client, channel, key, req.thread_ts).catch(() => undefined);
    if (landed) return asPosted(channel, landed, false, key);
    throw err;
  }
}
