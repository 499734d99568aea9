import { createHmac } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Keys } from '../../../runs/keys.ts';
import type { RedisClient } from '../../../runs/redis.ts';
import { seal, unseal } from './keys.ts';

/** Models whose records belong to a grant: revoking the grant (consent withdrawn, code reused) removes them all. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'BackchannelAuthenticationRequest',
]);

/**
 * oidc-provider's storage on Redis, so every `interlock serve` process sharing one Redis shares
 * the authorization server's state: a code issued by one process is redeemed at another.
 * Records are JSON with Redis' own expiry; each lookup index (user code, interaction uid,
 * grant) is a key of its own with the same expiry.
 *
 * oidc-provider names a code or refresh token's record by the token itself, and its record holds
 * it again (and a client's record its secret). So key names are an HMAC of the id and records
 * are sealed with AES-256-GCM (keys from the server secret): Redis alone, a dump or a replica,
 * yields no token, code or client secret.
 */
export function redisAdapter(
  redis: RedisClient,
  keys: Keys,
  secrets: { names: Buffer; records: Buffer },
): new (
  name: string,
) => Adapter {
  const hide = (kind: string, id: string) => createHmac('sha256', secrets.names).update(`${kind}\0${id}`).digest('base64url');
  return class RedisAdapter implements Adapter {
    private readonly name: string;

    constructor(name: string) {
      this.name = name;
    }

    private key(id: string): string {
      return keys.authServer(this.name, hide(this.name, id));
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.key(id);
      const multi = redis.multi();
      const sealed = seal(JSON.stringify(payload), secrets.records);
      if (expiresIn > 0) multi.set(key, sealed, 'EX', expiresIn);
      else multi.set(key, sealed);
      if (GRANTABLE.has(this.name) && payload.grantId) {
        const grantKey = keys.authServer('grant-index', hide('Grant', payload.grantId));
        multi.rpush(grantKey, key);
        // The index lives as long as the longest record in it.
        if (expiresIn > 0) {
          multi.expire(grantKey, expiresIn, 'GT');
          multi.expire(grantKey, expiresIn, 'NX');
        }
      }
      if (payload.userCode) this.index(multi, 'user-code', payload.userCode, id, expiresIn);
      if (payload.uid) this.index(multi, 'uid', payload.uid, id, expiresIn);
      await multi.exec();
    }

    private index(multi: ReturnType<RedisClient['multi']>, kind: string, value: string, id: string, expiresIn: number): void {
      const k = keys.authServer(`${this.name}-${kind}`, hide(`${this.name}-${kind}`, value));
      const sealed = seal(id, secrets.records);
      if (expiresIn > 0) multi.set(k, sealed, 'EX', expiresIn);
      else multi.set(k, sealed);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const key = this.key(id);
      const [raw, consumed] = await redis.mget(key, `${key}:consumed`);
      if (!raw) return undefined;
      const payload = JSON.parse(unseal(raw, secrets.records)) as AdapterPayload;
      return consumed ? { ...payload, consumed: Number(consumed) } : payload;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.findBy('user-code', userCode);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.findBy('uid', uid);
    }

    private async findBy(kind: string, value: string): Promise<AdapterPayload | undefined> {
      const sealed = await redis.get(keys.authServer(`${this.name}-${kind}`, hide(`${this.name}-${kind}`, value)));
      return sealed ? this.find(unseal(sealed, secrets.records)) : undefined;
    }

    /** Marks a code or token used, beside the record and gone with it, so the record itself is never rewritten. */
    async consume(id: string): Promise<void> {
      const key = this.key(id);
      const ttl = await redis.pttl(key);
      if (ttl === -2) return;
      const mark = `${key}:consumed`;
      const now = String(Math.floor(Date.now() / 1000));
      if (ttl > 0) await redis.set(mark, now, 'PX', ttl, 'NX');
      else await redis.set(mark, now, 'NX');
    }

    async destroy(id: string): Promise<void> {
      const key = this.key(id);
      await redis.del(key, `${key}:consumed`);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const grantKey = keys.authServer('grant-index', hide('Grant', grantId));
      const members = await redis.lrange(grantKey, 0, -1);
      const multi = redis.multi();
      for (const k of members) multi.del(k, `${k}:consumed`);
      multi.del(grantKey);
      await multi.exec();
    }
  };
}
