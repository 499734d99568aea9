import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { InterlockError } from '../../errors.ts';
import type { Keys } from '../../runs/keys.ts';
import type { RedisClient } from '../../runs/redis.ts';

/**
 * The `requestState` of an MCP 2026-07-28 multi-round-trip tool call that reached a gate. The
 * client holds it between the `input_required` answer and its retry, so on the way back it is
 * attacker-controlled input: it is signed (HMAC-SHA256), expires, names the caller it was minted
 * for, and is good for one answer only (its nonce is recorded in Redis until it would expire).
 * Signed, not encrypted: it carries ids and a hash, never a secret.
 */
export interface McpStatePayload {
  /** the confirmation asked about */
  cid: string;
  /** the argumentsHash the person sees; an approval binds to exactly this */
  hash: string;
  /** the run asked about, so the retry can follow it */
  runId: string;
  /** the conversation whose "remember" grants the answer may create (see docs/mcp.md) */
  conversation: string;
}

interface Sealed extends McpStatePayload {
  /** who the state was minted for: the token name or OAuth subject */
  principal: string;
  /** unix seconds */
  exp: number;
  nonce: string;
}

export type RequestStateFault = 'malformed' | 'signature' | 'expired' | 'principal' | 'replayed';

const WHY: Record<RequestStateFault, string> = {
  malformed: 'it is not a request state Interlock issued',
  signature: 'its signature does not match (it was changed or signed with another key)',
  // Not "call the tool again": that would start another run. The write named in the state still waits.
  expired: 'it expired (the write still waits for a person: get_run shows where to decide it)',
  principal: 'it was issued to another caller',
  replayed: 'it was already answered once (get_run shows what became of the write)',
};

/** A request state refused; nothing was decided. */
export class RequestStateError extends InterlockError {
  readonly fault: RequestStateFault;
  constructor(fault: RequestStateFault) {
    super(fault === 'replayed' ? 'REQUEST_REPLAYED' : 'BAD_REQUEST', `requestState refused: ${WHY[fault]}. Nothing was decided.`);
    this.name = 'RequestStateError';
    this.fault = fault;
  }
}

export interface RequestStatesDeps {
  redis: RedisClient;
  keys: Keys;
  /** INTERLOCK_MCP_STATE_KEY; at least 32 bytes. None: one generated and kept in Redis, shared by every process. */
  key?: string;
  /** how long a state may wait for the person's answer; default 10 min */
  ttlSeconds?: number;
  now?: () => number;
}

export interface RequestStates {
  mint(payload: McpStatePayload, principal: string): Promise<string>;
  /** Verifies and spends a state: a second call with the same state is refused as replayed. */
  redeem(state: string, principal: string): Promise<McpStatePayload>;
}

const PREFIX = 'il1';
const MIN_KEY_BYTES = 32;

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

function sealedFrom(json: unknown): Sealed | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const o = json as Record<string, unknown>;
  const strings = ['cid', 'hash', 'runId', 'conversation', 'principal', 'nonce'] as const;
  if (!strings.every((k) => typeof o[k] === 'string') || typeof o.exp !== 'number') return undefined;
  return o as unknown as Sealed;
}

export function createRequestStates(deps: RequestStatesDeps): RequestStates {
  const ttl = deps.ttlSeconds ?? 600;
  const now = deps.now ?? Date.now;
  if (deps.key !== undefined && Buffer.byteLength(deps.key) < MIN_KEY_BYTES) {
    throw new InterlockError('CONFIG_INVALID', `INTERLOCK_MCP_STATE_KEY must be at least ${MIN_KEY_BYTES} bytes long`);
  }
  let key: Promise<Buffer> | undefined;
  const secret = (): Promise<Buffer> => {
    key ??= (async () => {
      if (deps.key !== undefined) return Buffer.from(deps.key);
      // SET NX: the first process to need a key makes it; every other one reads that one.
      await deps.redis.set(deps.keys.mcpStateKey(), randomBytes(32).toString('hex'), 'NX');
      const stored = await deps.redis.get(deps.keys.mcpStateKey());
      if (!stored) throw new InterlockError('REDIS_UNAVAILABLE', 'the MCP request-state key could not be read from Redis');
      return Buffer.from(stored, 'hex');
    })().catch((err: unknown) => {
      key = undefined;
      throw err;
    });
    return key;
  };
  const mac = async (body: string): Promise<Buffer> =>
    createHmac('sha256', await secret())
      .update(`${PREFIX}.${body}`)
      .digest();

  async function open(state: string, principal: string): Promise<Sealed> {
    const parts = state.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX || !parts[1] || !parts[2]) throw new RequestStateError('malformed');
    const [, body = '', sig = ''] = parts;
    const want = await mac(body);
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new RequestStateError('signature');
    let sealed: Sealed | undefined;
    try {
      sealed = sealedFrom(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    } catch {
      sealed = undefined;
    }
    if (!sealed) throw new RequestStateError('malformed');
    if (sealed.exp * 1000 <= now()) throw new RequestStateError('expired');
    const a = Buffer.from(sealed.principal);
    const b = Buffer.from(principal);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new RequestStateError('principal');
    return sealed;
  }

  return {
    async mint(payload, principal) {
      const sealed: Sealed = {
        cid: payload.cid,
        hash: payload.hash,
        runId: payload.runId,
        conversation: payload.conversation,
        principal,
        exp: Math.floor(now() / 1000) + ttl,
        nonce: randomUUID(),
      };
      const body = b64(JSON.stringify(sealed));
      return `${PREFIX}.${body}.${b64(await mac(body))}`;
    },
    async redeem(state, principal) {
      const s = await open(state, principal);
      const left = Math.max(1, s.exp - Math.floor(now() / 1000));
      // Spent before anything is decided, so two retries racing with one state decide at most once.
      const first = await deps.redis.set(deps.keys.mcpStateUsed(s.nonce), '1', 'EX', left, 'NX');
      if (first !== 'OK') throw new RequestStateError('replayed');
      return { cid: s.cid, hash: s.hash, runId: s.runId, conversation: s.conversation };
    },
  };
}
