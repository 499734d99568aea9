/**
 * One-time links to decide one confirmation, for MCP clients that ask a person through a URL
 * (URL-mode elicitation) rather than a form. The link's token is the capability: whoever opens
 * it may decide that one confirmation, once, as the identity it was minted for, before it
 * expires. Only the token's hash is stored, so a copy of Redis holds no usable link.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Keys } from './keys.ts';
import type { DecisionChannel } from './records.ts';
import type { RedisClient } from './redis.ts';

export interface DecideLink {
  confirmationId: string;
  /** the identity the decision is recorded as: the MCP connection's principal (OAuth subject or token name) */
  by: string;
  channel: DecisionChannel;
  /** may the holder ask to remember for the session (only the run's owner may) */
  mayRemember: boolean;
  expiresAt: number;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

export class DecideLinks {
  private readonly redis: RedisClient;
  private readonly keys: Keys;

  constructor(redis: RedisClient, keys: Keys) {
    this.redis = redis;
    this.keys = keys;
  }

  /** A new token for `link`; it lapses at link.expiresAt. */
  async mint(link: DecideLink): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const ms = Math.max(1000, link.expiresAt - Date.now());
    await this.redis.set(this.keys.decideLink(hashOf(token)), JSON.stringify(link), 'PX', ms);
    return token;
  }

  /** The link, without using it up (to show the page). */
  async peek(token: string): Promise<DecideLink | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const raw = await this.redis.get(this.keys.decideLink(hashOf(token)));
    return raw ? (JSON.parse(raw) as DecideLink) : undefined;
  }

  /** The link, used up: a second take of the same token finds nothing. */
  async take(token: string): Promise<DecideLink | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const raw = await this.redis.getdel(this.keys.decideLink(hashOf(token)));
    return raw ? (JSON.parse(raw) as DecideLink) : undefined;
  }

  async revoke(token: string): Promise<void> {
    if (TOKEN.test(token)) await this.redis.del(this.keys.decideLink(hashOf(token)));
  }
}
