import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { InterlockError, errorMessage } from '../errors.ts';
import type { ConnectorConfig } from './config.ts';
import { scrub } from '../secrets.ts';
import { scrubSecrets } from './env.ts';
import { isPermanentConnectFailure } from './failure.ts';
import type { FetchLike } from './oauth/connector-auth.ts';
import { isLoginRequired } from './oauth/login-required.ts';
import { buildTransport, type InterlockCommand } from './transport.ts';
import type { ConnectorState } from './types.ts';

export interface BackoffOptions {
  /** wait before the first retry after a failed connect; doubles per consecutive failure */
  initialDelayMs: number;
  maxDelayMs: number;
  /** connect attempts one call may spend before it gives up with CONNECTOR_UNAVAILABLE */
  attemptsPerCall: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 100, maxDelayMs: 5000, attemptsPerCall: 4 };

/** One established MCP client connection. `alive` turns false once, when it is lost or closed. */
export interface Live {
  client: Client;
  alive: boolean;
}

export interface SessionOptions {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  interlock: InterlockCommand;
  backoff: BackoffOptions;
  /** for spawning and initialize; apart from call timeouts, since a cold child can take seconds to start */
  connectTimeoutMs: number;
  /** the server sent notifications/tools/list_changed */
  onToolsChanged: () => void;
  /** a connection was established; `reconnect` when it replaces one that was lost */
  onConnected: (reconnect: boolean) => void;
  /** the fetch of an OAuth connector (token on, refresh once across processes) */
  oauthFetch?: FetchLike;
}

const CLIENT_INFO = { name: 'interlock', version: '0.1.0' };

/**
 * One connector's client session: connected on first use, shared by every caller in this process,
 * and replaced on the next use after it dies. Concurrent callers share one connect attempt, and
 * consecutive failed attempts back off exponentially across calls, so a dead server is not hammered.
 */
export class ConnectorSession {
  readonly config: ConnectorConfig;
  state: ConnectorState = 'idle';
  lastError: string | undefined;
  /** successful connects so far; more than one means the session was re-established */
  connects = 0;
  private readonly opts: SessionOptions;
  private readonly log: Logger;
  private live: Live | undefined;
  private pending: Promise<Live> | undefined;
  private failures = 0;
  private closed = false;
  /** aborts a backoff wait when the pool closes, so close() is not held up by it */
  private readonly closing = new AbortController();
  /** the client of a connect attempt under way, so close() can stop a child that is still starting */
  private starting: Client | undefined;
  private readonly secrets = new Set<string>();

  constructor(config: ConnectorConfig, opts: SessionOptions) {
    this.config = config;
    this.opts = opts;
    this.log = opts.logger.child({ connector: config.id });
  }

  /** Text with every secret this session has resolved replaced, fit for logs and errors. */
  scrub(text: string): string {
    return scrub(scrubSecrets(text, [...this.secrets]));
  }

  unavailable(message: string, details: Record<string, unknown> = {}): InterlockError {
    return new InterlockError('CONNECTOR_UNAVAILABLE', this.scrub(`Connector "${this.config.id}" is unavailable: ${message}`), {
      connector: this.config.id,
      ...details,
    });
  }

  /** The live connection, connecting (or reconnecting) first if there is none. */
  acquire(signal?: AbortSignal): Promise<Live> {
    if (this.closed) return Promise.reject(this.unavailable('the connector pool is closed', { maybeDelivered: false }));
    if (this.live?.alive) return Promise.resolve(this.live);
    if (!this.pending) {
      const p = this.connectWithBackoff().finally(() => {
        if (this.pending === p) this.pending = undefined;
      });
      // Callers that gave up (aborted) no longer await it; the rejection is still theirs to see.
      p.catch(() => {});
      this.pending = p;
    }
    return signal ? raceAbort(this.pending, signal) : this.pending;
  }

  /** Drops a connection a caller found broken; the next acquire builds a new one. */
  discard(live: Live, reason: unknown): void {
    this.lost(live, this.scrub(errorMessage(reason)));
  }

  private async connectWithBackoff(): Promise<Live> {
    const { initialDelayMs, maxDelayMs, attemptsPerCall } = this.opts.backoff;
    for (let attempt = 1; ; attempt++) {
      if (this.failures > 0) {
        const delay = Math.min(initialDelayMs * 2 ** (this.failures - 1), maxDelayMs);
        // close() aborts the wait; the loop then sees `closed` and stops.
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => {});
      }
      if (this.closed) throw this.unavailable('the connector pool is closed', { maybeDelivered: false });
      this.state = this.connects > 0 ? 'reconnecting' : 'connecting';
      try {
        const live = await this.connectOnce();
        this.failures = 0;
        return live;
      } catch (err) {
        this.failures++;
        const message = this.scrub(errorMessage(err));
        this.lastError = message;
        this.log.warn({ attempt, err: message }, 'connect failed');
        // Another attempt cannot log anybody in: the step pauses until a person does.
        if (isLoginRequired(err)) {
          this.state = 'failed';
          throw err;
        }
        if (attempt >= attemptsPerCall || this.closed || isPermanentConnectFailure(err)) {
          if (!this.closed) this.state = 'failed';
          throw this.unavailable(message, { maybeDelivered: false });
        }
      }
    }
  }

  private async connectOnce(): Promise<Live> {
    const built = buildTransport(this.config, this.opts.env, this.opts.interlock, this.opts.oauthFetch);
    for (const s of built.secrets) if (s) this.secrets.add(s);
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    const live: Live = { client, alive: false };
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      if (live.alive) this.opts.onToolsChanged();
    });
    client.onclose = () => this.lost(live, 'connection closed');
    client.onerror = (err) => this.transportError(live, err);
    if (built.stderr) {
      createInterface({ input: built.stderr }).on('line', (line) => {
        this.log.debug({ stderr: this.scrub(line) }, 'connector stderr');
      });
    }
    this.starting = client;
    try {
      await client.connect(built.transport, { timeout: this.opts.connectTimeoutMs });
    } catch (err) {
      // The connect error is the news; closing the half-open client only frees it.
      await client.close().catch(() => {});
      throw err;
    } finally {
      this.starting = undefined;
    }
    if (this.closed) {
      // The pool closed while this connected: the client is dropped, whatever its close says.
      await client.close().catch(() => {});
      throw this.unavailable('the connector pool is closed', { maybeDelivered: false });
    }
    live.alive = true;
    this.live = live;
    this.connects++;
    this.state = 'connected';
    this.lastError = undefined;
    this.log.info({ connects: this.connects }, this.connects > 1 ? 'reconnected' : 'connected');
    this.opts.onConnected(this.connects > 1);
    return live;
  }

  /**
   * Transports report background trouble here rather than failing a request: a streamable-HTTP
   * server answering the standalone GET with 404 has forgotten our session (if we had one), and an SSE stream
   * that broke cannot deliver responses any more, so both end this connection.
   */
  private transportError(live: Live, err: Error): void {
    const message = this.scrub(errorMessage(err));
    this.log.debug({ err: message }, 'transport error');
    // A 404 means a forgotten session only when there is one: a stateless server (no
    // Mcp-Session-Id) that does not serve the optional GET stream may answer it with 404.
    const transport = live.client.transport;
    const hasSession = transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined;
    const sessionGone = (err instanceof StreamableHTTPError && err.code === 404 && hasSession) || err instanceof SseError;
    if (sessionGone) this.lost(live, message);
  }

  private lost(live: Live, reason: string): void {
    if (!live.alive) return;
    live.alive = false;
    if (this.live === live) {
      this.live = undefined;
      if (!this.closed) {
        this.state = 'idle';
        this.lastError = reason;
        this.log.info({ reason }, 'connection lost');
      }
    }
    // Closing rejects every pending request with a generic "connection closed"; waiting a turn
    // lets the request that hit the failure settle first with the error that says what happened
    // (a 404 proves the server never ran it, "connection closed" does not).
    setImmediate(
      () =>
        void live.client
          .close()
          .catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'lost connection did not close cleanly')),
    );
  }

  /** Ends the session: tells a streamable-HTTP server to drop it, and stops a stdio child. */
  async close(): Promise<void> {
    this.closed = true;
    this.state = 'closed';
    const live = this.live;
    this.live = undefined;
    this.closing.abort();
    await this.starting
      ?.close()
      .catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'connecting client did not close cleanly'));
    // A connect in flight fails for the callers awaiting it; here it only has to settle.
    await this.pending?.catch(() => {});
    if (!live) return;
    live.alive = false;
    const transport = live.client.transport;
    if (transport instanceof StreamableHTTPClientTransport) {
      const terminated = transport
        .terminateSession()
        .catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'server did not take the session end (DELETE)'));
      await Promise.race([terminated, sleep(1000)]);
    }
    await live.client
      .close()
      .catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'connection did not close cleanly'));
  }
}

/** `p`, or the caller's abort reason as soon as `signal` fires; `p` itself keeps running. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** What an aborted call rejects with: the caller's own reason, so it recognises its abort. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
