/**
 * Remembered decisions in Redis: each session's grants in one hash (`grants(session)`), each
 * grant's uses in a list beside it, and an index of grant id → session so an operator can list
 * and revoke by id. The session's hash expires a week after it was last written: a session
 * nobody touches has ended, and its grants with it.
 */
import { randomBytes } from 'node:crypto';
import { type ScopedGrant, isActive } from '../grants/grant.ts';
import { InterlockError } from '../errors.ts';
import { scrub } from '../secrets.ts';
import { parseGrants } from './grant-parse.ts';
import type { Keys } from './keys.ts';
import type { RedisClient } from './redis.ts';

type ScriptFn = (...keysThenArgv: string[]) => Promise<unknown>;

export const SESSION_GRANTS_TTL_S = 7 * 86400;

/** One recorded use of a grant: which write it let through. */
export interface GrantUse {
  runId: string;
  stepId: string;
  confirmationId: string;
  argumentsHash: string;
  at: number;
}

export type NewGrant = Omit<ScopedGrant, 'id' | 'uses' | 'revokedAt' | 'revokedBy'> & { id?: string };

const j = (v: unknown): string => scrub(JSON.stringify(v));

export function newGrantId(): string {
  return `g${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
}

export class GrantStore {
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly s: Record<'useGrant', ScriptFn>;

  constructor(redis: RedisClient, keys: Keys, scripts: Record<'useGrant', ScriptFn>) {
    this.redis = redis;
    this.keys = keys;
    this.s = scripts;
  }

  /** Stores a grant. The index entry goes first (another slot on a cluster): an entry without a grant is pruned when listed. */
  async create(g: NewGrant): Promise<ScopedGrant> {
    const grant: ScopedGrant = { ...g, id: g.id ?? newGrantId(), uses: 0 };
    const { uses: _uses, ...stored } = grant;
    await this.redis.hset(this.keys.grantIndex(), grant.id, grant.session);
    const key = this.keys.grants(g.session);
    await this.redis.multi().hset(key, `g:${grant.id}`, j(stored)).expire(key, SESSION_GRANTS_TTL_S).exec();
    return grant;
  }

  async forSession(session: string): Promise<ScopedGrant[]> {
    return parseGrants(session, await this.redis.hgetall(this.keys.grants(session)));
  }

  async get(id: string): Promise<ScopedGrant | undefined> {
    const session = await this.redis.hget(this.keys.grantIndex(), id);
    if (session === null) return undefined;
    return (await this.forSession(session)).find((g) => g.id === id);
  }

  async require(id: string): Promise<ScopedGrant> {
    const g = await this.get(id);
    if (!g) throw new InterlockError('NOT_FOUND', `No grant with id '${id}' (it may have ended with its session)`);
    return g;
  }

  /**
   * Every grant the index names, newest first; `all` keeps revoked, expired and used-up ones
   * (the default lists only those that can still let a write through). Index entries whose
   * session ended are dropped here.
   */
  async list(opts: { all?: boolean; session?: string; now?: number } = {}): Promise<ScopedGrant[]> {
    const now = opts.now ?? Date.now();
    const index = await this.redis.hgetall(this.keys.grantIndex());
    const sessions = [...new Set(Object.values(index))].filter((s) => !opts.session || s === opts.session);
    const found = new Map<string, ScopedGrant>();
    await Promise.all(
      sessions.map(async (s) => {
        for (const g of await this.forSession(s)) found.set(g.id, g);
      }),
    );
    const gone = Object.keys(index).filter((id) => !found.has(id) && (!opts.session || index[id] === opts.session));
    if (gone.length) await this.redis.hdel(this.keys.grantIndex(), ...gone);
    return [...found.values()].filter((g) => opts.all || isActive(g, now)).sort((a, b) => b.at - a.at);
  }

  /** Revokes a grant: no write is let through by it from now on (the use script checks). */
  async revoke(id: string, by: string): Promise<ScopedGrant> {
    const g = await this.require(id);
    if (g.revokedAt === undefined)
      await this.redis.hsetnx(this.keys.grants(g.session), `g:${id}:revoked`, j({ at: Date.now(), by }));
    return this.require(id);
  }

  /** The writes a grant let through, oldest first. */
  async uses(g: Pick<ScopedGrant, 'id' | 'session'>): Promise<GrantUse[]> {
    const raw = await this.redis.lrange(this.keys.grantUses(g.session, g.id), 0, -1);
    return raw.map((r) => JSON.parse(r) as GrantUse);
  }

  /** Counts a use on its own (a cluster, and remembered denies); see useGrant-2.lua. */
  async use(g: Pick<ScopedGrant, 'id' | 'session'>, use: GrantUse): Promise<'ok' | 'missing' | 'revoked' | 'expired' | 'spent'> {
    const r = (await this.s.useGrant(
      this.keys.grants(g.session),
      this.keys.grantUses(g.session, g.id),
      g.id,
      String(use.at),
      j(use),
    )) as string[];
    return r[0] as 'ok' | 'missing' | 'revoked' | 'expired' | 'spent';
  }

  /** Ends a session: its grants go, and their index entries when next listed. */
  async endSession(session: string): Promise<void> {
    const ids = (await this.forSession(session)).map((g) => g.id);
    await this.redis.del(this.keys.grants(session), ...ids.map((id) => this.keys.grantUses(session, id)));
  }
}
