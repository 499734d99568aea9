import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Keys } from '../../../runs/keys.ts';
import type { RedisClient } from '../../../runs/redis.ts';

export interface SignInLimit {
  /** failed sign-ins allowed for one user name from one address */
  attempts: number;
  /** how long the count lasts after the last failure */
  windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMIT: SignInLimit = { attempts: 5, windowMs: 15 * 60_000 };

/**
 * Failed sign-ins counted per (user name, client address) in Redis, so every `interlock serve`
 * process sharing it counts together. After `attempts` failures the pair is locked until
 * `windowMs` passes without another failure; a locked attempt is not checked (so the right
 * password is refused too) and not counted (so a person waiting it out is not locked longer).
 *
 * A name that is nobody's is counted exactly like a real one, and the locked answer is the same,
 * so the limit tells nobody which names exist. The counter's key is an HMAC of the pair: Redis
 * holds neither the names people typed nor their addresses. Per address, a lock on one person
 * does not lock them out from everywhere (an attacker cannot lock alice out of her own machine).
 */
export class SignInThrottle {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly secret: Buffer;
  readonly limit: SignInLimit;

  constructor(redis: RedisClient, keys: Keys, secret: Buffer, limit: SignInLimit = DEFAULT_SIGN_IN_LIMIT) {
    this.redis = redis;
    this.keys = keys;
    this.secret = secret;
    this.limit = limit;
  }

  private key(name: string, address: string): string {
    const id = createHmac('sha256', this.secret).update(`${name.toLowerCase()}\0${address}`).digest('base64url');
    return this.keys.authServer('sign-in-failures', id);
  }

  /** Milliseconds until the pair may try again; undefined when it may now. */
  async lockedFor(name: string, address: string): Promise<number | undefined> {
    const key = this.key(name, address);
    const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.pttl(key)]);
    if (Number(count ?? 0) < this.limit.attempts) return undefined;
    return ttl > 0 ? ttl : this.limit.windowMs;
  }

  /** Counts a failure; the window starts again from it. */
  async failed(name: string, address: string): Promise<void> {
    const key = this.key(name, address);
    await this.redis.multi().incr(key).pexpire(key, this.limit.windowMs).exec();
  }

  /** A sign-in that worked forgets the pair's failures. */
  async succeeded(name: string, address: string): Promise<void> {
    await this.redis.del(this.key(name, address));
  }
}

/**
 * The address a sign-in came from. Behind the HTTPS proxy Interlock trusts (an https public URL,
 * as for oidc-provider's X-Forwarded-*), the last X-Forwarded-For entry: the one the proxy added.
 * Earlier entries are whatever the client sent, so they are never used.
 */
export function clientAddress(incoming: IncomingMessage, behindProxy: boolean): string {
  if (behindProxy) {
    const forwarded = incoming.headers['x-forwarded-for'];
    const list = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',');
    const last = list[list.length - 1]?.trim();
    if (last) return last;
  }
  return incoming.socket.remoteAddress ?? 'unknown';
}
