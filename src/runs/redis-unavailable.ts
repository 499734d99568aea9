import { ConnectionClosedError } from 'bullmq';
import { ReplyError } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';
import { InterlockError } from '../errors.ts';
import type { RedisClient } from './redis.ts';

/*
 * Telling "Redis cannot be reached" apart from every other failure, so that HTTP (503 with
 * Retry-After), the MCP facade (an error result) and the CLI (exit 1) say so, and logs count it
 * once per outage instead of once per attempt.
 */

/** Seconds a caller is told to wait (Retry-After) before trying again while Redis is unavailable. */
export const REDIS_RETRY_AFTER_SECONDS = 2;

/** Socket errors that say the server cannot be reached (or went away). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * ioredis rejects commands it could not deliver with plain Errors (no class or code), so these
 * messages are the only way to tell "Redis is away" from a bug; they are ioredis's own constants
 * (Redis.js, cluster/index.js, Command.js). Kept here, the one place that knows them, each with
 * what it means for a caller.
 */
const IOREDIS_UNREACHABLE = new Map([
  ['Connection is closed.', 'the connection was lost'],
  ["Stream isn't writeable and enableOfflineQueue options is false", 'not connected'],
  ['Command timed out', 'no answer in time'],
  ["Cluster isn't ready and enableOfflineQueue options is false", 'the cluster is not ready'],
  ['None of startup nodes is available', 'no cluster node answers'],
  ['Failed to refresh slots cache.', 'no cluster node answers'],
  ['Cluster is disconnected.', 'not connected'],
]);

/** Redis's own error prefixes for "not serving right now" (loading the AOF after a restart, a cluster without quorum). */
const UNAVAILABLE_REPLY = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * Whether `err`, from a Redis command, says Redis could not be reached (as opposed to a command Redis
 * answered with an error). `socketErrors` also counts socket errors (refused, reset, …), which only
 * a connection's own 'error' events carry: elsewhere they may come from a connector.
 */
export function isRedisUnreachable(err: unknown, opts: { socketErrors?: boolean } = {}): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof InterlockError) return err.code === 'REDIS_UNAVAILABLE';
  if (err instanceof ReplyError) return UNAVAILABLE_REPLY.test(err.message);
  if (err instanceof ConnectionClosedError || err instanceof MaxRetriesPerRequestError) return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (opts.socketErrors && code !== undefined && SOCKET_CODES.has(code)) return true;
  return IOREDIS_UNREACHABLE.has(err.message);
}

/** The typed error for an error that says Redis could not be reached; undefined for any other error. */
export function redisUnavailable(err: unknown): InterlockError | undefined {
  if (err instanceof InterlockError) return err.code === 'REDIS_UNAVAILABLE' ? err : undefined;
  if (!isRedisUnreachable(err)) return undefined;
  const e = err as Error;
  const reason = e instanceof ReplyError ? e.message : (IOREDIS_UNREACHABLE.get(e.message) ?? 'the connection was lost');
  return unavailable(reason, err);
}

function unavailable(reason: string, cause?: unknown): InterlockError {
  return new InterlockError(
    'REDIS_UNAVAILABLE',
    `Redis is unavailable (${reason}); the request was not carried out. Try again in a few seconds.`,
    { retryAfterSeconds: REDIS_RETRY_AFTER_SECONDS },
    cause === undefined ? undefined : { cause },
  );
}

/** Throws REDIS_UNAVAILABLE unless the connection is up: a request that needs Redis then fails at once. */
export function assertRedisReady(client: RedisClient): void {
  if (client.status === 'ready') return;
  throw unavailable(`not connected: ${client.status}`);
}
