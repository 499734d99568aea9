/**
 * The built-in Slack connector: an MCP server whose tools call the Slack Web API through `@slack/web-api`.
 * Give it a client from `createSlackWebClient` so rate limits are waited out and lost posts are not resent.
 */
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { IDEMPOTENCY_META_KEY } from '../types.ts';
import { errorResult } from './errors.ts';
import { postOnce, resolveChannelId } from './post.ts';

export interface SlackMcpServerOptions {
  client: WebClient;
  name?: string;
  version?: string;
}

const channelParam = z
  .string()
  .min(1)
  .describe('Channel ID such as C0CUST001 (preferred), or a channel name such as #general. Use list_channels to find IDs.');
const textParam = z
  .string()
  .min(1)
  .max(40_000)
  .describe(
    'Message text in Slack mrkdwn. Always given: it is the notification and screen-reader text even when blocks are sent.',
  );
const blocksParam = z
  .array(z.looseObject({ type: z.string().describe('Block Kit block type, e.g. "section"') }))
  .max(50)
  .optional()
  .describe('Optional Block Kit blocks for rich layout (at most 50). Leave out for a plain text message.');

const metadataShape = z.object({ event_type: z.string(), event_payload: z.record(z.string(), z.unknown()) });
const messageShape = z.object({
  ts: z.string().describe('message timestamp; its ID within the channel'),
  text: z.string(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  thread_ts: z.string().optional().describe('set on thread parents and replies'),
  reply_count: z.number().optional(),
  metadata: metadataShape.optional(),
});
const postedShape = {
  channel: z.string().describe('channel ID the message is in'),
  ts: z.string().describe('timestamp of the message; pass it as thread_ts to reply in its thread'),
  thread_ts: z.string().optional().describe('parent message ts, for replies'),
  text: z.string(),
  deduplicated: z.boolean().describe('true when a message with this idempotency key already existed and nothing new was posted'),
  idempotency_key: z.string().optional().describe('the Interlock step key recorded in the message metadata'),
};

const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true } as const;
const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true } as const;

function idempotencyKey(meta: Record<string, unknown> | undefined): string | undefined {
  const key = meta?.[IDEMPOTENCY_META_KEY];
  return typeof key === 'string' && key !== '' ? key : undefined;
}

function ok<T extends Record<string, unknown>>(text: string, structured: T): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

export function createSlackMcpServer(options: SlackMcpServerOptions): McpServer {
  const { client } = options;
  const server = new McpServer(
    { name: options.name ?? 'interlock-slack', version: options.version ?? '0.1.0' },
    {
      instructions:
        'Slack for Interlock workflows: post messages and thread replies (writes, deduplicated by the Interlock idempotency key), find users by email, list channels, read channel history.',
    },
  );
  const secrets = [client.token];
  const tools: RegisteredTool[] = [];

  tools.push(
    server.registerTool(
      'post_message',
      {
        title: 'Post a Slack message',
        description:
          'Post a new message to a Slack channel as the Interlock bot, e.g. to tell a customer channel that a refund was issued. ' +
          'Use reply_in_thread instead to answer inside an existing thread. A call carrying an Interlock idempotency key posts at most once: ' +
          'if the channel already has a message with that key, that message is returned with deduplicated: true.',
        inputSchema: { channel: channelParam, text: textParam, blocks: blocksParam },
        outputSchema: postedShape,
        annotations: { title: 'Post a Slack message', ...WRITE },
      },
      async (args, extra) => {
        try {
          const posted = await postOnce(client, { ...args, idempotencyKey: idempotencyKey(extra._meta) });
          const verb = posted.deduplicated ? 'Already posted (same idempotency key)' : 'Posted';
          return ok(`${verb}: message ${posted.ts} in ${posted.channel}.`, { ...posted });
        } catch (err) {
          return errorResult(err, { action: `post a message to ${args.channel}`, secrets, idempotent: true });
        }
      },
    ),
  );

  tools.push(
    server.registerTool(
      'reply_in_thread',
      {
        title: 'Reply in a Slack thread',
        description:
          'Post a reply inside the thread of an existing Slack message, e.g. to follow up on an earlier notification. ' +
          'Needs the parent message ts (from post_message or get_channel_history); fails with thread_not_found if there is no such message. ' +
          'Deduplicated by the Interlock idempotency key like post_message.',
        inputSchema: {
          channel: channelParam,
          thread_ts: z
            .string()
            .regex(/^\d+(\.\d+)?$/, 'a Slack ts such as 1700000000.000100')
            .describe('ts of the parent message whose thread to reply in'),
          text: textParam,
          blocks: blocksParam,
          broadcast: z
            .boolean()
            .default(false)
            .describe('also show the reply in the channel itself (Slack "also send to channel")'),
        },
        outputSchema: postedShape,
        annotations: { title: 'Reply in a Slack thread', ...WRITE },
      },
      async ({ broadcast, ...args }, extra) => {
        try {
          const posted = await postOnce(client, {
            ...args,
            reply_broadcast: broadcast,
            idempotencyKey: idempotencyKey(extra._meta),
          });
          const verb = posted.deduplicated ? 'Already replied (same idempotency key)' : 'Replied';
          return ok(`${verb}: message ${posted.ts} in thread ${args.thread_ts} of ${posted.channel}.`, { ...posted });
        } catch (err) {
          return errorResult(err, { action: `reply in thread ${args.thread_ts} of ${args.channel}`, secrets, idempotent: true });
        }
      },
    ),
  );

  tools.push(
    server.registerTool(
      'lookup_user_by_email',
      {
        title: 'Find a Slack user by email',
        description:
          "Find a person's Slack user ID and names from their email address, e.g. to mention a customer (<@ID>) in a message. " +
          'Fails with users_not_found when no member of the workspace has that email.',
        inputSchema: { email: z.email().describe('the email address the person uses for Slack') },
        outputSchema: {
          id: z.string().describe('Slack user ID, e.g. U0ADA; mention as <@ID>'),
          name: z.string(),
          real_name: z.string().optional(),
          display_name: z.string().optional(),
          email: z.string().optional(),
          is_bot: z.boolean(),
          deleted: z.boolean(),
          tz: z.string().optional(),
        },
        annotations: { title: 'Find a Slack user by email', ...READ },
      },
      async ({ email }) => {
        try {
          const { user } = await client.users.lookupByEmail({ email });
          const found = {
            id: user?.id ?? '',
            name: user?.name ?? '',
            ...(user?.real_name ? { real_name: user.real_name } : {}),
            ...(user?.profile?.display_name ? { display_name: user.profile.display_name } : {}),
            ...(user?.profile?.email ? { email: user.profile.email } : {}),
            is_bot: user?.is_bot ?? false,
            deleted: user?.deleted ?? false,
            ...(user?.tz ? { tz: user.tz } : {}),
          };
          return ok(`${email} is Slack user ${found.id} (${found.real_name ?? found.name}).`, found);
        } catch (err) {
          return errorResult(err, { action: `look up the Slack user with email ${email}`, secrets });
        }
      },
    ),
  );

  tools.push(
    server.registerTool(
      'list_channels',
      {
        title: 'List Slack channels',
        description:
          'List the channels of the workspace with their IDs, e.g. to find the ID of #billing before posting. ' +
          'Returns one page; pass next_cursor back as cursor for the next one.',
        inputSchema: {
          limit: z.number().int().min(1).max(1000).default(200).describe('maximum channels in this page (1-1000)'),
          cursor: z.string().optional().describe('next_cursor from the previous page; leave out for the first page'),
          include_private: z.boolean().default(false).describe('also list private channels the bot is a member of'),
          include_archived: z.boolean().default(false).describe('also list archived channels'),
        },
        outputSchema: {
          channels: z.array(
            z.object({
              id: z.string(),
              name: z.string(),
              is_private: z.boolean(),
              is_archived: z.boolean(),
              is_member: z.boolean().describe('whether the bot is in the channel (needed to post)'),
              num_members: z.number().optional(),
              purpose: z.string().optional(),
            }),
          ),
          next_cursor: z.string().optional().describe('present when there are more channels'),
        },
        annotations: { title: 'List Slack channels', ...READ },
      },
      async ({ limit, cursor, include_private, include_archived }) => {
        try {
          const res = await client.conversations.list({
            limit,
            types: include_private ? 'public_channel,private_channel' : 'public_channel',
            exclude_archived: !include_archived,
            ...(cursor ? { cursor } : {}),
          });
          const channels = (res.channels ?? []).map((c) => ({
            id: c.id ?? '',
            name: c.name ?? '',
            is_private: c.is_private ?? false,
            is_archived: c.is_archived ?? false,
            is_member: c.is_member ?? false,
            ...(c.num_members !== undefined ? { num_members: c.num_members } : {}),
            ...(c.purpose?.value ? { purpose: c.purpose.value } : {}),
          }));
          const next = res.response_metadata?.next_cursor || undefined;
          const names = channels.map((c) => `#${c.name} (${c.id})`).join(', ');
          return ok(`${channels.length} channel(s): ${names}${next ? ' (more with next_cursor)' : ''}`, {
            channels,
            ...(next ? { next_cursor: next } : {}),
          });
        } catch (err) {
          return errorResult(err, { action: 'list channels', secrets });
        }
      },
    ),
  );

  tools.push(
    server.registerTool(
      'get_channel_history',
      {
        title: "Read a Slack channel's recent messages",
        description:
          'Read the most recent top-level messages of a channel, newest first, with their ts, text, thread info and metadata, ' +
          'e.g. to check what was already said to a customer or to find a message to reply to. Thread replies are not included.',
        inputSchema: {
          channel: channelParam,
          limit: z.number().int().min(1).max(200).default(20).describe('maximum messages to return (1-200)'),
          cursor: z.string().optional().describe('next_cursor from the previous page, to read further back'),
          oldest: z.string().optional().describe('only messages after this Slack ts (Unix seconds, e.g. 1700000000.000000)'),
          latest: z.string().optional().describe('only messages before this Slack ts'),
        },
        outputSchema: {
          channel: z.string(),
          messages: z.array(messageShape),
          has_more: z.boolean(),
          next_cursor: z.string().optional().describe('present when older messages remain'),
        },
        annotations: { title: "Read a Slack channel's recent messages", ...READ },
      },
      async ({ channel, limit, cursor, oldest, latest }) => {
        try {
          const id = await resolveChannelId(client, channel);
          const res = await client.conversations.history({
            channel: id,
            limit,
            include_all_metadata: true,
            ...(cursor ? { cursor } : {}),
            ...(oldest ? { oldest } : {}),
            ...(latest ? { latest } : {}),
          });
          const messages = (res.messages ?? []).map((m) => ({
            ts: m.ts ?? '',
            text: m.text ?? '',
            ...(m.user ? { user: m.user } : {}),
            ...(m.bot_id ? { bot_id: m.bot_id } : {}),
            ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
            ...(m.reply_count !== undefined ? { reply_count: m.reply_count } : {}),
            ...(m.metadata?.event_type
              ? {
                  metadata: {
                    event_type: m.metadata.event_type,
                    event_payload: (m.metadata.event_payload ?? {}) as Record<string, unknown>,
                  },
                }
              : {}),
          }));
          const next = res.response_metadata?.next_cursor || undefined;
          return ok(`${messages.length} message(s) from ${id}${res.has_more ? ', more available' : ''}.`, {
            channel: id,
            messages,
            has_more: res.has_more ?? false,
            ...(next ? { next_cursor: next } : {}),
          });
        } catch (err) {
          return errorResult(err, { action: `read the history of ${channel}`, secrets });
        }
      },
    ),
  );

  return server;
}
