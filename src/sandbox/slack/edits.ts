/**
 * chat.update and chat.postEphemeral, as Slack answers them: an update replaces a bot message's
 * text and blocks (only the bot's own, in the channel it was posted to); an ephemeral message goes
 * to one member of the channel and never into its history.
 */
import type { Params, SlackAnswer } from './methods.ts';
import type { SlackStore } from './state.ts';

const fail = (error: string): SlackAnswer => ({ ok: false, error });

function str(params: Params, name: string): string | undefined {
  const v = params[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function blocksOf(params: Params): { value?: unknown[]; invalid?: true } {
  const v = params.blocks;
  if (v === undefined || v === '') return {};
  try {
    const parsed = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
    return Array.isArray(parsed) ? { value: parsed } : { invalid: true };
  } catch {
    return { invalid: true };
  }
}

export function chatUpdate(store: SlackStore, params: Params): SlackAnswer {
  const channel = store.findChannel(str(params, 'channel') ?? '');
  if (!channel) return fail('channel_not_found');
  const ts = str(params, 'ts');
  const message = store.messages.find((m) => m.channel === channel.id && m.ts === ts);
  if (!message) return fail('message_not_found');
  if (message.user !== store.bot.user_id) return fail('cant_update_message');
  const blocks = blocksOf(params);
  if (blocks.invalid) return fail('invalid_blocks');
  const text = str(params, 'text');
  if (text === undefined && !blocks.value) return fail('no_text');
  if (text !== undefined) message.text = text;
  if (blocks.value) message.blocks = blocks.value;
  message.edited = { user: store.bot.user_id, ts: store.nextTs() };
  return { ok: true, channel: channel.id, ts: message.ts, text: message.text };
}

export function chatPostEphemeral(store: SlackStore, params: Params): SlackAnswer {
  const channel = store.findChannel(str(params, 'channel') ?? '');
  if (!channel) return fail('channel_not_found');
  const user = str(params, 'user');
  if (!user || !store.users.some((u) => u.id === user)) return fail('user_not_found');
  if (!channel.members.includes(user)) return fail('user_not_in_channel');
  const text = str(params, 'text') ?? '';
  if (text === '') return fail('no_text');
  const message_ts = store.nextTs();
  store.ephemerals.push({ channel: channel.id, user, text, message_ts });
  return { ok: true, message_ts };
}
