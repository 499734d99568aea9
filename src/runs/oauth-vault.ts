/** The plain account summary's field (ACCOUNT_FIELD of connectors/oauth/vault.ts; runs holds it as data). */
const ACCOUNT_FIELD = 'account';
import type { Keys } from './keys.ts';
import type { RedisClient } from './redis.ts';

type ScriptFn = (...keysThenArgv: string[]) => Promise<unknown>;

/**
 * The Redis side of OAuth connectors (see Keys.oauth): their credentials, which arrive sealed,
 * the lock of a refresh, logins under way, and the runs waiting for a login. Structurally the
 * CredentialVault that src/connectors/oauth asks for: runs imports nothing from connectors.
 */
export class RedisCredentialVault {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly release: ScriptFn;

  constructor(redis: RedisClient, keys: Keys, releaseLock: ScriptFn) {
    this.redis = redis;
    this.keys = keys;
    this.release = releaseLock;
  }

  read(connector: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.oauth(connector));
  }

  async write(connector: string, fields: Record<string, string>): Promise<void> {
    if (Object.keys(fields).length) await this.redis.hset(this.keys.oauth(connector), fields);
  }

  async remove(connector: string, fields: string[]): Promise<void> {
    if (fields.length) await this.redis.hdel(this.keys.oauth(connector), ...fields);
  }

  async lock(connector: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.oauthLock(connector), owner, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(connector: string, owner: string): Promise<void> {
    await this.release(this.keys.oauthLock(connector), owner);
  }

  async putLogin(state: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.oauthLogin(state), value, 'PX', ttlMs);
  }

  async takeLogin(state: string): Promise<string | undefined> {
    return (await this.redis.getdel(this.keys.oauthLogin(state))) ?? undefined;
  }

  /** Whether the connector's last word is a login (its plain account summary says connected). */
  async connected(connector: string): Promise<boolean> {
    const raw = await this.redis.hget(this.keys.oauth(connector), ACCOUNT_FIELD);
    return !!raw && (JSON.parse(raw) as { status?: string }).status === 'connected';
  }

  async addWaiting(connector: string, runId: string, stepId: string): Promise<void> {
    await this.redis.sadd(this.keys.oauthWaiting(connector), `${runId}/${stepId}`);
  }

  /** Runs paused until the connector is logged in; each stays until dropWaiting, after its unblock. */
  async waiting(connector: string): Promise<Array<{ runId: string; stepId: string }>> {
    return (await this.redis.smembers(this.keys.oauthWaiting(connector))).map((m) => {
      const i = m.indexOf('/');
      return { runId: m.slice(0, i), stepId: m.slice(i + 1) };
    });
  }

  async dropWaiting(connector: string, runId: string, stepId: string): Promise<void> {
    await this.redis.srem(this.keys.oauthWaiting(connector), `${runId}/${stepId}`);
  }
}
