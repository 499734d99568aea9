import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { InterlockError } from '../errors.ts';

/**
 * What went wrong with one request, in the terms the pool decides on. `maybeDelivered` is false
 * only when the server provably did not run the request (refused connection, unknown session,
 * auth rejected), which is the engine's cue that even a write may be sent again.
 */
export type Failure =
  | { kind: 'aborted' }
  | { kind: 'timeout' }
  | { kind: 'connection'; maybeDelivered: boolean }
  | { kind: 'remote' };

function systemCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code: unknown = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return err.cause === undefined ? undefined : systemCode(err.cause);
}

function httpStatus(err: unknown): number | undefined {
  if (err instanceof StreamableHTTPError || err instanceof SseError) return err.code;
  return undefined;
}

export function classifyFailure(err: unknown, ctx: { signal?: AbortSignal; connectionAlive: boolean }): Failure {
  if (ctx.signal?.aborted) return { kind: 'aborted' };
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) return { kind: 'timeout' };
    if (err.code === ErrorCode.ConnectionClosed) return { kind: 'connection', maybeDelivered: true };
    return ctx.connectionAlive ? { kind: 'remote' } : { kind: 'connection', maybeDelivered: true };
  }
  const status = httpStatus(err);
  if (status !== undefined) {
    // A 4xx means the server turned the request away before running it (404: it forgot the session).
    return { kind: 'connection', maybeDelivered: !(status >= 400 && status < 500) };
  }
  // undici reports every network failure as a TypeError whose cause carries the socket error.
  if (err instanceof TypeError) return { kind: 'connection', maybeDelivered: systemCode(err) !== 'ECONNREFUSED' };
  // Transports throw bare Errors ("Not connected", the SSE POST failing); results that fail to
  // parse are ZodErrors, a subclass, and count as the server's fault.
  if (!ctx.connectionAlive || (err instanceof Error && Object.getPrototypeOf(err) === Error.prototype)) {
    return { kind: 'connection', maybeDelivered: true };
  }
  return { kind: 'remote' };
}

/** Connect failures that another attempt a few hundred milliseconds later cannot fix. */
export function isPermanentConnectFailure(err: unknown): boolean {
  if (err instanceof InterlockError) return true;
  const status = httpStatus(err);
  if (status === 401 || status === 403) return true;
  const code = systemCode(err);
  return code === 'ENOENT' || code === 'EACCES';
}
