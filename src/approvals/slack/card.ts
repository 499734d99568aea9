/**
 * The Block Kit message a pending write becomes in Slack, and what it turns into once decided.
 * The buttons carry the confirmation id and the argumentsHash of the JSON shown, so a click
 * approves exactly what that person saw: if the payload changed meanwhile, the click is refused.
 */
import type { ConfirmationRecord } from '../../runs/records.ts';

/** Section text is limited to 3,000 characters; longer JSON goes behind a link to the page. */
const MAX_INLINE_JSON = 2_600;

export const ACTION_APPROVE = 'interlock.approve';
export const ACTION_DENY = 'interlock.deny';
/** approve, and remember for the run's session (allowed only to the run's owner; see Engine) */
export const ACTION_REMEMBER = 'interlock.approve_remember';

/** What a button carries: compact, since Slack limits a value to 2,000 characters. */
export interface ButtonValue {
  c: string;
  h: string;
}

export interface SlackCard {
  text: string;
  blocks: unknown[];
}

const mrkdwnEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function pageUrl(publicUrl: string, cid: string): string {
  return `${publicUrl.replace(/\/$/, '')}/ui/confirmations/${encodeURIComponent(cid)}`;
}

function payloadBlock(conf: ConfirmationRecord, publicUrl: string): unknown {
  const json = JSON.stringify(conf.arguments, null, 2);
  const text =
    json.length <= MAX_INLINE_JSON
      ? `\`\`\`${mrkdwnEscape(json)}\`\`\``
      : `The arguments are ${json.length.toLocaleString('en-US')} characters of JSON, too long for Slack: <${pageUrl(publicUrl, conf.id)}|read them in full on the confirmation page> before deciding.`;
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function headerBlocks(conf: ConfirmationRecord, publicUrl: string): unknown[] {
  const what = `${conf.connector}.${conf.tool}`;
  const lines = [
    `*Run* \`${conf.runId}\` of *${mrkdwnEscape(conf.workflow)}* wants to call *${mrkdwnEscape(what)}*${conf.owner ? `, started by *${mrkdwnEscape(conf.owner)}*` : ''}.`,
    conf.description ? `> ${mrkdwnEscape(conf.description.slice(0, 500))}` : undefined,
    conf.loosened?.length
      ? `:warning: Interlock's config loosened what the server declares for this tool: ${mrkdwnEscape(conf.loosened.join(', '))}.`
      : undefined,
  ].filter((l): l is string => l !== undefined);
  return [
    { type: 'header', text: { type: 'plain_text', text: `Approve a write: ${what}`.slice(0, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
    payloadBlock(conf, publicUrl),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `argumentsHash \`${conf.argumentsHash}\` · expires <!date^${Math.floor(conf.expiresAt / 1000)}^{date_short_pretty} {time}|${new Date(conf.expiresAt).toISOString()}> · <${pageUrl(publicUrl, conf.id)}|open in Interlock>`,
        },
      ],
    },
  ];
}

/** The card posted while the write waits: the full payload, its hash, and the two buttons. */
export function pendingCard(conf: ConfirmationRecord, publicUrl: string): SlackCard {
  const value = JSON.stringify({ c: conf.id, h: conf.argumentsHash } satisfies ButtonValue);
  return {
    text: `Approve a write: ${conf.connector}.${conf.tool} for run ${conf.runId} (argumentsHash ${conf.argumentsHash})`,
    blocks: [
      ...headerBlocks(conf, publicUrl),
      {
        type: 'actions',
        block_id: `interlock:${conf.id}`,
        elements: [
          { type: 'button', action_id: ACTION_APPROVE, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value },
          { type: 'button', action_id: ACTION_DENY, style: 'danger', text: { type: 'plain_text', text: 'Deny' }, value },
          {
            type: 'button',
            action_id: ACTION_REMEMBER,
            text: { type: 'plain_text', text: 'Approve & remember for this session' },
            value,
          },
        ],
      },
    ],
  };
}

const OUTCOME: Record<Exclude<ConfirmationRecord['status'], 'pending'>, string> = {
  approved: ':white_check_mark: Approved',
  denied: ':no_entry: Denied',
  expired: ':hourglass: Expired: nobody decided in time',
  cancelled: ':heavy_multiplication_x: Cancelled with its run',
};

const CHANNEL_WORDS: Record<string, string> = {
  slack: 'in Slack',
  ui: 'on the page',
  api: 'through the API',
  cli: 'from the CLI',
  chat: 'in interlock chat',
  'mcp-elicitation': 'in their MCP client',
  'mcp-url': 'on the page their MCP client opened',
  system: 'by Interlock',
};

/** The same card once decided: the buttons give way to who decided, where and when. */
export function decidedCard(conf: ConfirmationRecord, publicUrl: string): SlackCard {
  if (conf.status === 'pending') return pendingCard(conf, publicUrl);
  const who =
    conf.decidedBy && (conf.status === 'approved' || conf.status === 'denied')
      ? ` by *${mrkdwnEscape(conf.decidedBy)}*${conf.channel ? ` ${CHANNEL_WORDS[conf.channel] ?? `(${conf.channel})`}` : ''}`
      : '';
  const when = conf.decidedAt ? ` at ${new Date(conf.decidedAt).toISOString()}` : '';
  const line = `${OUTCOME[conf.status]}${who}${when}.`;
  return {
    text: `${line.replace(/[*:]/g, '')} ${conf.connector}.${conf.tool} for run ${conf.runId}`,
    blocks: [...headerBlocks(conf, publicUrl), { type: 'section', text: { type: 'mrkdwn', text: line } }],
  };
}

/** The button value back from Slack, or undefined when it is not one of ours. */
export function parseButtonValue(value: unknown): ButtonValue | undefined {
  if (typeof value !== 'string' || value.length > 2000) return undefined;
  try {
    const v = JSON.parse(value) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const { c, h } = v as Record<string, unknown>;
    return typeof c === 'string' && typeof h === 'string' && c.length <= 200 && h.length <= 200 ? { c, h } : undefined;
  } catch {
    return undefined;
  }
}
