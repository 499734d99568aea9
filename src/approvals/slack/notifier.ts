/**
 * Puts pending writes in front of approvers in Slack. The pending-confirmations index is the
 * record; Slack is a view of it, so the notifier sweeps the index rather than listening for
 * events: a process that dies between opening a confirmation and posting its card leaves nothing
 * behind that the next sweep (in any `serve` process) does not post. A short lock per confirmation
 * keeps two processes from both posting it. The same sweep closes cards whose confirmation was
 * decided elsewhere (page, API, CLI, chat) or expired, so nobody clicks a button that can no
 * longer decide anything.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../errors.ts';
import type { Keys } from '../../runs/keys.ts';
import type { ConfirmationRecord } from '../../runs/records.ts';
import type { RedisClient } from '../../runs/redis.ts';
import type { InterlockConfig, SlackApprovalsConfig } from '../../workflows/types.ts';
import { decidedCard, pendingCard } from './card.ts';
import type { SlackClients } from './client.ts';

export interface CardRef {
  channel: string;
  ts: string;
}

export interface SlackNotifierDeps {
  redis: RedisClient;
  keys: Keys;
  confirmations: { getConfirmation(cid: string): Promise<ConfirmationRecord | undefined> };
  config: () => InterlockConfig;
  clients: SlackClients;
  publicUrl: string;
  logger: Logger;
  /** how often the index is swept; default 2 s */
  everyMs?: number;
}

/** A card is kept a week past its confirmation's deadline, long enough to close it. */
const CARD_TTL_SECONDS = 7 * 86_400;
const POSTING_LOCK_SECONDS = 30;

export class SlackApprovalNotifier {
  private readonly d: SlackNotifierDeps;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(deps: SlackNotifierDeps) {
    this.d = deps;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.d.logger.warn({ err: errorMessage(err) }, 'slack approvals: a sweep failed; the next one retries'),
        )
        .finally(() => {
          this.running = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, this.d.everyMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: post what is pending without a card, close cards whose confirmation is decided. */
  async sweep(): Promise<{ posted: number; closed: number }> {
    const cfg = this.d.config().approvals?.slack;
    if (!cfg) return { posted: 0, closed: 0 };
    const { redis, keys } = this.d;
    // One sweeper at a time across processes; the lock lapses by itself if its holder dies.
    const lock = await redis.set(keys.slackSweepLock(), String(process.pid), 'PX', 15_000, 'NX');
    if (lock !== 'OK') return { posted: 0, closed: 0 };
    try {
      const posted = await this.postNew(cfg);
      const closed = await this.closeDecided(cfg);
      return { posted, closed };
    } finally {
      await redis.del(keys.slackSweepLock());
    }
  }

  private async postNew(cfg: SlackApprovalsConfig): Promise<number> {
    const { redis, keys } = this.d;
    const pending = await redis.zrange(keys.pendingConfirmations(), 0, -1);
    if (pending.length === 0) return 0;
    const exists = await Promise.all(pending.map((cid) => redis.exists(keys.slackCard(cid))));
    let posted = 0;
    for (const [i, cid] of pending.entries()) {
      if (exists[i]) continue;
      if (await this.post(cfg, cid)) posted++;
    }
    return posted;
  }

  /** Posts one card unless another process is at it; true when this call posted. */
  async post(cfg: SlackApprovalsConfig, cid: string): Promise<boolean> {
    const { redis, keys } = this.d;
    if ((await redis.set(keys.slackPosting(cid), '1', 'EX', POSTING_LOCK_SECONDS, 'NX')) !== 'OK') return false;
    const conf = await this.d.confirmations.getConfirmation(cid);
    if (!conf || conf.status !== 'pending') return false;
    const card = pendingCard(conf, this.d.publicUrl);
    const res = await this.d.clients
      .for(cfg)
      .chat.postMessage({ channel: cfg.channel, text: card.text, blocks: card.blocks as never });
    if (!res.ok || !res.channel || !res.ts) throw new Error(`chat.postMessage answered ${res.error ?? 'without channel and ts'}`);
    const ref: CardRef = { channel: res.channel, ts: res.ts };
    const ttl = Math.max(60, Math.ceil((conf.expiresAt - Date.now()) / 1000)) + CARD_TTL_SECONDS;
    await redis.set(keys.slackCard(cid), JSON.stringify(ref), 'EX', ttl);
    await redis.zadd(keys.slackOpenCards(), Date.now(), cid);
    this.d.logger.info({ confirmation: cid, channel: ref.channel }, 'slack approvals: card posted');
    return true;
  }

  private async closeDecided(cfg: SlackApprovalsConfig): Promise<number> {
    const open = await this.d.redis.zrange(this.d.keys.slackOpenCards(), 0, -1);
    let closed = 0;
    for (const cid of open) {
      const conf = await this.d.confirmations.getConfirmation(cid);
      if (conf?.status === 'pending') continue;
      if (conf) await this.close(cfg, conf);
      else await this.d.redis.zrem(this.d.keys.slackOpenCards(), cid);
      closed++;
    }
    return closed;
  }

  /**
   * Replaces a card's buttons with the outcome; done once, by whoever gets there first. A
   * confirmation still pending (an approval toward a quorum) leaves its card open: taking it out of
   * the open set here would keep any later close, the click's or the sweep's, from ever reaching it.
   * A decided confirmation never changes again, so whichever caller wins writes the final card.
   */
  async close(cfg: SlackApprovalsConfig, conf: ConfirmationRecord): Promise<void> {
    if (conf.status === 'pending') return;
    const { redis, keys } = this.d;
    if ((await redis.zrem(keys.slackOpenCards(), conf.id)) === 0) return;
    const raw = await redis.get(keys.slackCard(conf.id));
    if (!raw) return;
    const ref = JSON.parse(raw) as CardRef;
    const card = decidedCard(conf, this.d.publicUrl);
    try {
      await this.d.clients
        .for(cfg)
        .chat.update({ channel: ref.channel, ts: ref.ts, text: card.text, blocks: card.blocks as never });
    } catch (err) {
      // Put it back so the next sweep tries again; a card left with live buttons misleads people.
      await redis.zadd(keys.slackOpenCards(), Date.now(), conf.id);
      throw err;
    }
  }
}
