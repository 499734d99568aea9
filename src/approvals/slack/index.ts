/**
 * Slack approvals as one piece `interlock serve` starts: the notifier that posts and closes
 * cards, and the handler behind `POST /slack/interactions`. Both read the current config on
 * every use, so a reload that adds, changes or removes `approvals.slack` takes effect at once.
 */
import type { Logger } from 'pino';
import type { Keys } from '../../runs/keys.ts';
import type { ConfirmationRecord } from '../../runs/records.ts';
import type { RedisClient } from '../../runs/redis.ts';
import type { SlackSignedRequest } from './signature.ts';
import type { InterlockConfig } from '../../workflows/types.ts';
import { SlackClients } from './client.ts';
import { type InteractionAnswer, type InteractionDeps, handleInteraction } from './interactions.ts';
import { SlackApprovalNotifier } from './notifier.ts';

export interface SlackApprovalsDeps {
  redis: RedisClient;
  keys: Keys;
  config: () => InterlockConfig;
  confirmations: { getConfirmation(cid: string): Promise<ConfirmationRecord | undefined> };
  decisions: InteractionDeps['decisions'];
  publicUrl: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** the notifier's sweep interval; default 2 s */
  everyMs?: number;
}

export interface SlackApprovals {
  notifier: SlackApprovalNotifier;
  handle(req: SlackSignedRequest): Promise<InteractionAnswer>;
  close(): Promise<void>;
}

export function createSlackApprovals(d: SlackApprovalsDeps): SlackApprovals {
  const env = d.env ?? process.env;
  const logger = d.logger.child({ component: 'slack-approvals' });
  const clients = new SlackClients(env, (line) => logger.warn(line));
  const notifier = new SlackApprovalNotifier({
    redis: d.redis,
    keys: d.keys,
    confirmations: d.confirmations,
    config: d.config,
    clients,
    publicUrl: d.publicUrl,
    logger,
    ...(d.everyMs ? { everyMs: d.everyMs } : {}),
  });
  return {
    notifier,
    handle: (req) =>
      handleInteraction(
        { redis: d.redis, keys: d.keys, config: d.config, env, decisions: d.decisions, clients, notifier, logger },
        req,
      ),
    close: () => notifier.stop(),
  };
}

export type { InteractionAnswer } from './interactions.ts';
export type { SlackSignedRequest } from './signature.ts';
