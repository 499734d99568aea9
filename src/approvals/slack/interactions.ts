/**
 * A click on an approval card, as Slack sends it to `POST /slack/interactions`. In order: the
 * signature and its 5-minute window (before anything in the body is read), a replay of a request
 * already acted on, the Slack user mapped to an approver, then the decision, bound to the hash the
 * button carries. Whatever is refused changes nothing; the person who clicked is told why in an
 * ephemeral message, and the answer says so too.
 */
import { createHash } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { InterlockError, errorMessage } from '../../errors.ts';
import { quorumState } from '../../policy/words.ts';
import type { Keys } from '../../runs/keys.ts';
import type { ConfirmationRecord, DecisionChannel } from '../../runs/records.ts';
import type { RedisClient } from '../../runs/redis.ts';
import type { InterlockConfig, SlackApprovalsConfig } from '../../workflows/types.ts';
import { ACTION_APPROVE, ACTION_DENY, ACTION_REMEMBER, type ButtonValue, parseButtonValue } from './card.ts';
import type { SlackClients } from './client.ts';
import type { SlackApprovalNotifier } from './notifier.ts';
import { SLACK_SIGNATURE_WINDOW_SECONDS, type SlackSignedRequest, verifySlackRequest } from './signature.ts';

interface DecisionOptions {
  by: string;
  channel: DecisionChannel;
  remember?: 'session';
}

export interface InteractionDeps {
  redis: RedisClient;
  keys: Keys;
  config: () => InterlockConfig;
  env: NodeJS.ProcessEnv;
  decisions: {
    approve(cid: string, argumentsHash: string, opts: DecisionOptions): Promise<ConfirmationRecord>;
    deny(cid: string, opts: DecisionOptions): Promise<ConfirmationRecord>;
  };
  clients: SlackClients;
  notifier: Pick<SlackApprovalNotifier, 'close'>;
  logger: Logger;
}

export type InteractionAnswer =
  | { ok: true; confirmationId: string; status: ConfirmationRecord['status']; decidedBy: string }
  | { ok: false; error: { code: string; message: string } };

interface Click {
  userId: string;
  actionId: string;
  value: ButtonValue;
  channel?: string;
}

/** Throws for a request that is not Slack's (the HTTP edge answers 401/404/409); returns what was done otherwise. */
export async function handleInteraction(d: InteractionDeps, req: SlackSignedRequest): Promise<InteractionAnswer> {
  const cfg = d.config().approvals?.slack;
  if (!cfg) throw new InterlockError('NOT_FOUND', 'Slack approvals are not configured (approvals.slack in the config)');
  const secret = d.env[cfg.signingSecretEnv];
  if (!secret) {
    d.logger.error(`slack approvals: ${cfg.signingSecretEnv} is not set, so every Slack request is refused`);
    throw new InterlockError(
      'UNAUTHORIZED',
      `The Slack signing secret (${cfg.signingSecretEnv}) is not set on this server: refused`,
    );
  }
  verifySlackRequest(secret, req);
  await refuseReplay(d, req.signature ?? '');
  const click = parseClick(req.body);
  const refuse = async (code: string, message: string): Promise<InteractionAnswer> => {
    await tell(d.clients.for(cfg), cfg, click, message, d.logger);
    return { ok: false, error: { code, message } };
  };
  const approver = cfg.users[click.userId];
  if (!approver)
    return refuse(
      'FORBIDDEN',
      `You are not an approver in Interlock: Slack user ${click.userId} is not in approvals.slack.users. Nothing was decided.`,
    );
  return decide(d, cfg, click, approver).catch((err: unknown) => {
    if (err instanceof InterlockError && err.code !== 'INTERNAL' && err.code !== 'REDIS_UNAVAILABLE')
      return refuse(err.code, `${err.message}. Nothing was decided by this click.`);
    throw err;
  });
}

async function decide(d: InteractionDeps, cfg: SlackApprovalsConfig, click: Click, approver: string): Promise<InteractionAnswer> {
  const { c: cid, h: hash } = click.value;
  const opts: DecisionOptions = { by: approver, channel: 'slack' };
  const conf =
    click.actionId === ACTION_DENY
      ? await d.decisions.deny(cid, opts)
      : await d.decisions.approve(cid, hash, click.actionId === ACTION_REMEMBER ? { ...opts, remember: 'session' } : opts);
  d.logger.info({ confirmation: cid, by: approver, status: conf.status }, 'slack approvals: decided from Slack');
  if (conf.status === 'pending') {
    // One approval toward a quorum: the card stays as it is, so only the clicker hears it counted.
    const q = conf.policy?.kind === 'rule' ? conf.policy.require : undefined;
    const where = q ? ` ${quorumState(q, conf.approvals ?? [])}` : '';
    await tell(d.clients.for(cfg), cfg, click, `Your approval is recorded:${where} The write waits for the rest.`, d.logger);
    return { ok: true, confirmationId: cid, status: conf.status, decidedBy: approver };
  }
  // The card shows who decided at once; if Slack is unreachable now, the notifier's sweep retries.
  // The answer does not wait for a close the sweep claimed first (possibly in another process): the
  // card is a view the sweep converges, and this answer reports the decision, not the card. An
  // approval below a quorum leaves the confirmation pending, and its card open (see close).
  await d.notifier
    .close(cfg, conf)
    .catch((err: unknown) =>
      d.logger.warn({ err: errorMessage(err), confirmation: cid }, 'slack approvals: could not update the card yet'),
    );
  return { ok: true, confirmationId: cid, status: conf.status, decidedBy: approver };
}

/**
 * A signed request is good for five minutes; within them, the same request sent again is refused
 * here rather than relying on the first decision having closed the confirmation.
 */
async function refuseReplay(d: InteractionDeps, signature: string): Promise<void> {
  const seen = createHash('sha256').update(signature).digest('hex');
  const first = await d.redis.set(d.keys.slackSeen(seen), '1', 'EX', SLACK_SIGNATURE_WINDOW_SECONDS * 2, 'NX');
  if (first !== 'OK')
    throw new InterlockError(
      'REQUEST_REPLAYED',
      'This Slack request was already received and acted on; a replay changes nothing',
    );
}

function parseClick(body: string): Click {
  const bad = (why: string) => new InterlockError('BAD_REQUEST', `Not an approval card click: ${why}`);
  const raw = new URLSearchParams(body).get('payload');
  if (!raw) throw bad('the form has no payload field');
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw bad('the payload is not JSON');
  }
  if (p.type !== 'block_actions') throw bad(`payload type ${JSON.stringify(p.type)}, expected "block_actions"`);
  const user = p.user as { id?: unknown } | undefined;
  const action = (Array.isArray(p.actions) ? p.actions[0] : undefined) as { action_id?: unknown; value?: unknown } | undefined;
  const channel = (p.channel as { id?: unknown } | undefined)?.id;
  if (typeof user?.id !== 'string') throw bad('no user');
  if (typeof action?.action_id !== 'string' || ![ACTION_APPROVE, ACTION_DENY, ACTION_REMEMBER].includes(action.action_id))
    throw bad('not one of the card’s buttons');
  const value = parseButtonValue(action.value);
  if (!value) throw bad('the button carries no confirmation');
  return { userId: user.id, actionId: action.action_id, value, ...(typeof channel === 'string' ? { channel } : {}) };
}

/** An ephemeral message: only the person who clicked sees why nothing happened. */
async function tell(client: WebClient, cfg: SlackApprovalsConfig, click: Click, text: string, logger: Logger): Promise<void> {
  try {
    await client.chat.postEphemeral({ channel: click.channel ?? cfg.channel, user: click.userId, text });
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'slack approvals: could not tell the person why their click changed nothing');
  }
}
