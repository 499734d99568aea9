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

/**
 * One attempt taken, in one step: counted (the count lives `window` from its first attempt at
 * least), or, past the limit, given back at once. Returns 0 when the attempt may go on, else
 * the lock's remaining milliseconds.
 * KEYS: 1 the pair's counter. ARGV: 1 window (ms), 2 attempts allowed.
 */
const BEGIN = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX')
if n <= tonumber(ARGV[2]) then return 0 end
redis.call('DECR', KEYS[1])
return redis.call('PTTL', KEYS[1])
`;

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

  /**
   * Takes one attempt for the pair before its password is checked, or answers how many
   * milliseconds it is locked for. The attempt counts as a failure until `succeeded` clears it,
   * so parallel guesses cannot all pass the check before any of them is counted: INCR is atomic,
   * and at most `attempts` of them get through. A locked attempt is given back.
   */
  async begin(name: string, address: string): Promise<{ lockedMs?: number }> {
    const ttl = Number(await this.redis.eval(BEGIN, 1, this.key(name, address), this.limit.windowMs, this.limit.attempts));
    if (ttl === 0) return {};
    return { lockedMs: ttl > 0 ? ttl : this.limit.windowMs };
  }

  /** The attempt failed: it stays counted, and the window starts again from it. */
  async failed(name: string, address: string): Promise<void> {
    await this.redis.pexpire(this.key(name, address), this.limit.windowMs, 'XX');
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
