/**
 * The top-level `approvals` section: where else a confirmation is put in front of people. Today
 * that is Slack: each pending write is posted to a channel with Approve / Deny buttons, and the
 * clicks come back signed to `POST /slack/interactions`.
 */
import { type Field, type Source, readEntries, readMap, readString } from './source.ts';
import { readSecretRef } from './schema.ts';
import type { SourcePos } from './types.ts';

export interface SlackApprovalsConfig {
  /** channel id (C0…) or name (#billing) the cards are posted to */
  channel: string;
  /** environment variable holding the Slack app's signing secret */
  signingSecretEnv: string;
  /** environment variable holding the bot token that posts; default SLACK_BOT_TOKEN (sandbox when unset) */
  tokenEnv?: string;
  /** Slack user id → the approver name decisions are recorded under */
  users: Record<string, string>;
  pos: SourcePos;
}

export interface ApprovalsConfig {
  slack?: SlackApprovalsConfig;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const APPROVER_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

export function readApprovals(src: Source, f: Field): ApprovalsConfig {
  const m = readMap(src, f, 'approvals', { optional: ['slack'] });
  const slack = m?.slack ? readSlackApprovals(src, m.slack) : undefined;
  return slack ? { slack } : {};
}

function readSlackApprovals(src: Source, f: Field): SlackApprovalsConfig | undefined {
  const m = readMap(src, f, 'approvals.slack', { required: ['channel', 'signing_secret', 'users'], optional: ['token'] });
  if (!m) return undefined;
  const channel = m.channel && readString(src, m.channel, 'approvals.slack channel');
  if (channel !== undefined && m.channel && !/^(#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{2,})$/.test(channel))
    src.add(
      m.channel.pos,
      m.channel.path,
      'approvals.slack channel must be a channel id (C0…) or a name starting with # (#billing)',
    );
  const signingSecretEnv = m.signing_secret && readSecretRef(src, m.signing_secret, 'approvals.slack signing_secret');
  const tokenEnv = m.token ? readSecretRef(src, m.token, 'approvals.slack token') : undefined;
  const users = m.users ? readUsers(src, m.users) : undefined;
  if (channel === undefined || signingSecretEnv === undefined || users === undefined || (m.token && tokenEnv === undefined))
    return undefined;
  return { channel, signingSecretEnv, ...(tokenEnv ? { tokenEnv } : {}), users, pos: f.keyPos };
}

function readUsers(src: Source, f: Field): Record<string, string> | undefined {
  const entries = readEntries(src, f, 'approvals.slack users');
  if (!entries) return undefined;
  const out: Record<string, string> = {};
  let ok = true;
  for (const e of entries) {
    if (!SLACK_USER_ID.test(e.key)) {
      src.add(e.keyPos, e.path, `"${e.key}" is not a Slack user id (U… or W…, as in a profile's "Copy member ID")`);
      ok = false;
    }
    const name = readString(src, e, `the approver for Slack user ${e.key}`);
    if (name !== undefined && !APPROVER_NAME.test(name)) {
      src.add(e.pos, e.path, 'an approver name is 1–64 letters, digits, or _ . @ -');
      ok = false;
    }
    if (name !== undefined) out[e.key] = name;
    else ok = false;
  }
  if (entries.length === 0)
    src.add(f.pos, f.path, 'approvals.slack users must map at least one Slack user id to an approver name');
  return ok && entries.length > 0 ? out : undefined;
}
