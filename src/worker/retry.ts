import { UnrecoverableError } from 'bullmq';
import { InterlockError } from '../errors.ts';
import type { ErrorInfo } from '../runs/records.ts';

/**
 * The one place that decides whether a failed step attempt is tried again. Transient trouble
 * reaching a connector is retried; anything the tool or the definition said is final.
 */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof InterlockError &&
    (err.code === 'CONNECTOR_UNAVAILABLE' || err.code === 'STEP_TIMEOUT' || err.code === 'REDIS_UNAVAILABLE')
  );
}

/**
 * Whether a failed request provably never reached the server (a refused connection, a session
 * that could not be opened): the pool says so with `maybeDelivered: false` (see
 * connectors/failure.ts), and then even a plain write may be sent again.
 */
export function neverDelivered(err: unknown): boolean {
  return (
    err instanceof InterlockError &&
    err.code === 'CONNECTOR_UNAVAILABLE' &&
    (err.details as { maybeDelivered?: unknown } | undefined)?.maybeDelivered === false
  );
}

export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof InterlockError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'INTERNAL', message: err.message };
  return { code: 'INTERNAL', message: String(err) };
}

/** Stops BullMQ from retrying: the step's outcome is already recorded. */
export function final(message: string): UnrecoverableError {
  return new UnrecoverableError(message);
}
