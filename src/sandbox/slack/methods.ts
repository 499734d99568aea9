/**
 * The Web API methods the sandbox answers. Each takes the request's parameters as the wire carried them
 * (form fields are strings; JSON bodies may carry objects) and returns Slack's `{ok, ...}` body.
 */
import { chatPostEphemeral, chatUpdate } from './edits.ts';
import {
  type SandboxChannel,
  type SandboxMessage,
  type SandboxUser,
  type SlackStore,
  type MessageMetadata,
  tsToMicros,
} from './state.ts';

export type Params = Record<string, unknown>;
export type SlackAnswer = { ok: true; [key: string]: unknown } | { ok: false; error: string; [key: string]: unknown };
type Handler = (store: SlackStore, params: Params) => SlackAnswer;

const MAX_TEXT_LENGTH = 40_000;

const fail = (error: string, extra: Record<string, unknown> = {}): SlackAnswer => ({ ok: false, error, ...extra });

function str(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

function bool(params: Params, name: string): boolean {
  const v = params[name];
  return v === true || v === 1 || v === 'true' || v === '1';
}

/** The SDK JSON-encodes objects into form fields; JSON bodies carry them as they are. */
function json(params: Params, name: string): { value?: unknown; invalid?: true } {
  const v = params[name];
  if (v === undefined || v === null || v === '') return {};
  if (typeof v !== 'string') return { value: v };
  try {
    return { value: JSON.parse(v) as unknown };
  } catch {
    return { invalid: true };
  }
}

/** Slack clamps out-of-range limits instead of rejecting them. */
function limit(params: Params, fallback: number, max: number): number {
  const n = Number(str(params, 'limit') ?? fallback);
  if (!Number.isFinite(n) || n <= 0) return fallback;
  return Math.min(Math.floor(n), max);
}

const encodeCursor = (kind: string, at: string): string => Buffer.from(`${kind}:${at}`).toString('base64');

function decodeCursor(params: Params, kind: string): { at?: string; invalid?: true } {
  const cursor = str(params, 'cursor');
  if (!cursor) return {};
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  if (!decoded.startsWith(`${kind}:`)) return { invalid: true };
  return { at: decoded.slice(kind.length + 1) };
}

function channelById(store: SlackStore, params: Params): SandboxChannel | undefined {
  const id = str(params, 'channel');
  return id ? store.channels.find((c) => c.id === id) : undefined;
}

function isMetadata(v: unknown): v is MessageMetadata {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    typeof m.event_type === 'string' &&
    m.event_type !== '' &&
    typeof m.event_payload === 'object' &&
    m.event_payload !== null &&
    !Array.isArray(m.event_payload)
  );
}

/** A message as the API shows it: without the sandbox's own `channel` field, metadata only when asked for. */
function view(m: SandboxMessage, withMetadata: boolean): Record<string, unknown> {
  const { channel: _channel, metadata, ...rest } = m;
  return withMetadata && metadata ? { ...rest, metadata } : rest;
}

function userView(store: SlackStore, u: SandboxUser): Record<string, unknown> {
  return {
    id: u.id,
    team_id: store.team.id,
    name: u.name,
    real_name: u.real_name,
    deleted: u.deleted,
    is_bot: u.is_bot,
    is_admin: false,
    tz: u.tz,
    profile: { real_name: u.real_name, display_name: u.display_name, email: u.email || undefined, team: store.team.id },
  };
}

function channelView(c: SandboxChannel, botId: string): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    is_channel: !c.is_private,
    is_group: c.is_private,
    is_private: c.is_private,
    is_archived: c.is_archived,
    is_general: c.name === 'general',
    is_member: c.members.includes(botId),
    created: c.created,
    creator: c.creator,
    topic: { value: c.topic, creator: '', last_set: 0 },
    purpose: { value: c.purpose, creator: c.creator, last_set: c.created },
    num_members: c.members.length,
  };
}

function inWindow(ts: string, params: Params): boolean {
  const t = tsToMicros(ts) ?? 0;
  const inclusive = bool(params, 'inclusive');
  const oldest = tsToMicros(str(params, 'oldest') ?? '');
  const latest = tsToMicros(str(params, 'latest') ?? '');
  if (oldest !== undefined && (inclusive ? t < oldest : t <= oldest)) return false;
  if (latest !== undefined && (inclusive ? t > latest : t >= latest)) return false;
  return true;
}

/** Returns one page of `items` after the cursor position, Slack's has_more / next_cursor included. */
function page<T>(
  items: T[],
  key: (item: T) => string,
  kind: string,
  params: Params,
  size: number,
): SlackAnswer | { slice: T[]; hasMore: boolean; next: string } {
  const cursor = decodeCursor(params, kind);
  if (cursor.invalid) return fail('invalid_cursor');
  let start = 0;
  if (cursor.at !== undefined) {
    start = items.findIndex((i) => key(i) === cursor.at);
    if (start < 0) return fail('invalid_cursor');
  }
  const slice = items.slice(start, start + size);
  const rest = items[start + size];
  return { slice, hasMore: rest !== undefined, next: rest === undefined ? '' : encodeCursor(kind, key(rest)) };
}

const authTest: Handler = (store) => ({
  ok: true,
  url: `https://${store.team.domain}.slack.com/`,
  team: store.team.name,
  user: store.bot.name,
  team_id: store.team.id,
  user_id: store.bot.user_id,
  bot_id: store.bot.bot_id,
  is_enterprise_install: false,
});

const postMessage: Handler = (store, params) => {
  const channelParam = str(params, 'channel');
  const channel = channelParam ? store.findChannel(channelParam) : undefined;
  if (!channel) return fail('channel_not_found');
  if (channel.is_archived) return fail('is_archived');
  if (!channel.members.includes(store.bot.user_id)) return fail('not_in_channel');

  const blocks = json(params, 'blocks');
  if (blocks.invalid || (blocks.value !== undefined && !Array.isArray(blocks.value))) return fail('invalid_blocks');
  const text = str(params, 'text') ?? '';
  const blockList = blocks.value as unknown[] | undefined;
  if (text === '' && (!blockList || blockList.length === 0)) return fail('no_text');
  if (text.length > MAX_TEXT_LENGTH) return fail('msg_too_long');

  const metadata = json(params, 'metadata');
  if (metadata.invalid || (metadata.value !== undefined && !isMetadata(metadata.value))) return fail('invalid_metadata_format');

  let threadTs = str(params, 'thread_ts');
  if (threadTs !== undefined && tsToMicros(threadTs) === undefined) return fail('invalid_thread_ts');
  // Slack threads a reply-to-a-reply under the original parent; an unknown parent is accepted but orphaned.
  const parent = threadTs === undefined ? undefined : store.messages.find((m) => m.channel === channel.id && m.ts === threadTs);
  if (parent?.thread_ts) threadTs = parent.thread_ts;

  const ts = store.nextTs();
  const message: SandboxMessage = {
    type: 'message',
    channel: channel.id,
    ts,
    text,
    user: store.bot.user_id,
    bot_id: store.bot.bot_id,
    app_id: store.bot.app_id,
    team: store.team.id,
    ...(blockList ? { blocks: blockList } : {}),
    ...(metadata.value !== undefined ? { metadata: metadata.value as MessageMetadata } : {}),
    ...(threadTs !== undefined ? { thread_ts: threadTs } : {}),
    ...(threadTs !== undefined && bool(params, 'reply_broadcast') ? { subtype: 'thread_broadcast' as const } : {}),
  };
  store.messages.push(message);

  const root = threadTs === undefined ? undefined : store.messages.find((m) => m.channel === channel.id && m.ts === threadTs);
  if (root) {
    root.thread_ts = root.ts;
    root.reply_count = (root.reply_count ?? 0) + 1;
    root.reply_users = [...new Set([...(root.reply_users ?? []), message.user])];
    root.reply_users_count = root.reply_users.length;
    root.latest_reply = ts;
  }
  return { ok: true, channel: channel.id, ts, message: view(message, true) };
};

const history: Handler = (store, params) => {
  const channel = channelById(store, params);
  if (!channel) return fail('channel_not_found');
  // Replies stay in their thread; only parents, plain messages and broadcasts show in the channel.
  const top = store.messages
    .filter(
      (m) => m.channel === channel.id && (m.thread_ts === undefined || m.thread_ts === m.ts || m.subtype === 'thread_broadcast'),
    )
    .filter((m) => inWindow(m.ts, params))
    .reverse();
  const p = page(top, (m) => m.ts, 'next_ts', params, limit(params, 100, 999));
  if ('ok' in p) return p;
  const withMetadata = bool(params, 'include_all_metadata');
  return {
    ok: true,
    messages: p.slice.map((m) => view(m, withMetadata)),
    has_more: p.hasMore,
    pin_count: 0,
    ...(p.hasMore ? { response_metadata: { next_cursor: p.next } } : {}),
  };
};

const replies: Handler = (store, params) => {
  const channel = channelById(store, params);
  if (!channel) return fail('channel_not_found');
  const ts = str(params, 'ts');
  const target = ts === undefined ? undefined : store.messages.find((m) => m.channel === channel.id && m.ts === ts);
  if (!target) return fail('thread_not_found');
  const rootTs = target.thread_ts ?? target.ts;
  const thread = store.messages.filter((m) => m.channel === channel.id && (m.ts === rootTs || m.thread_ts === rootTs));
  const [root, ...rest] = thread;
  const visible = [root, ...rest.filter((m) => inWindow(m.ts, params))];
  const p = page(visible, (m) => m.ts, 'reply_ts', params, limit(params, 1000, 1000));
  if ('ok' in p) return p;
  const withMetadata = bool(params, 'include_all_metadata');
  return {
    ok: true,
    messages: p.slice.map((m) => view(m, withMetadata)),
    has_more: p.hasMore,
    ...(p.hasMore ? { response_metadata: { next_cursor: p.next } } : {}),
  };
};

const list: Handler = (store, params) => {
  const types = (str(params, 'types') ?? 'public_channel').split(',').map((t) => t.trim());
  const excludeArchived = bool(params, 'exclude_archived');
  const channels = store.channels.filter(
    (c) =>
      (c.is_private
        ? types.includes('private_channel') && c.members.includes(store.bot.user_id)
        : types.includes('public_channel')) && !(excludeArchived && c.is_archived),
  );
  const p = page(channels, (c) => c.id, 'channel', params, limit(params, 100, 1000));
  if ('ok' in p) return p;
  return {
    ok: true,
    channels: p.slice.map((c) => channelView(c, store.bot.user_id)),
    response_metadata: { next_cursor: p.next },
  };
};

const lookupByEmail: Handler = (store, params) => {
  const email = str(params, 'email')?.toLowerCase();
  const user = email ? store.users.find((u) => u.email.toLowerCase() === email) : undefined;
  if (!user) return fail('users_not_found');
  return { ok: true, user: userView(store, user) };
};

const usersInfo: Handler = (store, params) => {
  const id = str(params, 'user');
  const user = id ? store.users.find((u) => u.id === id) : undefined;
  if (!user) return fail('user_not_found');
  return { ok: true, user: userView(store, user) };
};

const conversationsInfo: Handler = (store, params) => {
  const channel = channelById(store, params);
  if (!channel) return fail('channel_not_found');
  return { ok: true, channel: channelView(channel, store.bot.user_id) };
};

const usersList: Handler = (store, params) => {
  const p = page(store.users, (u) => u.id, 'user', params, limit(params, 200, 1000));
  if ('ok' in p) return p;
  return {
    ok: true,
    members: p.slice.map((u) => userView(store, u)),
    cache_ts: Math.floor(Date.now() / 1000),
    response_metadata: { next_cursor: p.next },
  };
};

/** users.profile.get: the caller's own profile without `user`; `include_labels` changes nothing without custom fields. */
const profileGet: Handler = (store, params) => {
  const id = str(params, 'user') ?? store.bot.user_id;
  const user = store.users.find((u) => u.id === id);
  if (!user) return fail('user_not_found');
  const [first = '', ...rest] = user.real_name.split(' ');
  return {
    ok: true,
    profile: {
      real_name: user.real_name,
      real_name_normalized: user.real_name,
      display_name: user.display_name,
      display_name_normalized: user.display_name,
      first_name: first,
      last_name: rest.join(' '),
      ...(user.email ? { email: user.email } : {}),
      status_text: '',
      status_emoji: '',
      status_expiration: 0,
      title: '',
      phone: '',
      skype: '',
      fields: {},
      team: store.team.id,
    },
  };
};

/** Emoji names as Slack accepts them: lower case, digits, `_`, `-`, `+`, `'`, and a `::skin-tone-N` suffix. */
const EMOJI_NAME = /^[a-z0-9_+'-]+(::skin-tone-[2-6])?$/;

const reactionsAdd: Handler = (store, params) => {
  const channelId = str(params, 'channel');
  const timestamp = str(params, 'timestamp');
  const name = str(params, 'name')?.replace(/^:|:$/g, '');
  if (!channelId || !timestamp) return fail('no_item_specified');
  const channel = store.channels.find((c) => c.id === channelId);
  if (!channel) return fail('channel_not_found');
  if (!name || !EMOJI_NAME.test(name)) return fail('invalid_name');
  const message = store.messages.find((m) => m.channel === channel.id && m.ts === timestamp);
  if (!message) return fail('message_not_found');
  const me = store.bot.user_id;
  const reactions = (message.reactions ??= []);
  const existing = reactions.find((r) => r.name === name);
  if (existing?.users.includes(me)) return fail('already_reacted');
  if (reactions.length >= 50 && !existing) return fail('too_many_emoji');
  if (existing) {
    existing.users.push(me);
    existing.count++;
  } else reactions.push({ name, users: [me], count: 1 });
  return { ok: true };
};

export const METHODS: Record<string, Handler> = {
  'api.test': (_store, params) => ({ ok: true, args: params }),
  'auth.test': authTest,
  'chat.postMessage': postMessage,
  'chat.update': chatUpdate,
  'chat.postEphemeral': chatPostEphemeral,
  'conversations.history': history,
  'conversations.replies': replies,
  'conversations.list': list,
  'conversations.info': conversationsInfo,
  'users.lookupByEmail': lookupByEmail,
  'users.info': usersInfo,
  'users.list': usersList,
  'users.profile.get': profileGet,
  'reactions.add': reactionsAdd,
};
