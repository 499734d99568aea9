import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { InterlockError, errorMessage } from '../errors.ts';
import type { ConnectorConfig } from './config.ts';
import { validateArguments } from './arguments.ts';
import { UNCHECKED, checkedCallResult } from './call-result.ts';
import { ToolCatalog, fetchToolPages, type CatalogEntry } from './catalog.ts';
import { classifyFailure } from './failure.ts';
import type { FetchLike } from './oauth/connector-auth.ts';
import { isLoginRequired } from './oauth/login-required.ts';
import type { OAuthConnectors } from './oauth/connectors.ts';
import { toCallResult } from './results.ts';
import { ConnectorSession, DEFAULT_BACKOFF, abortReason, raceAbort, type BackoffOptions } from './session.ts';
import { defaultInterlockCommand, type InterlockCommand } from './transport.ts';
import { IDEMPOTENCY_META_KEY, type CallOptions, type ConnectorStatus, type ToolCallResult, type ToolInfo } from './types.ts';

export interface ConnectorPoolOptions {
  logger?: Logger;
  /** where `${env:NAME}` references and bearer tokens are read from; default process.env */
  env?: NodeJS.ProcessEnv;
  /** how to start this binary for `command: interlock`; default this checkout's bin/interlock.js */
  interlockCommand?: InterlockCommand;
  backoff?: Partial<BackoffOptions>;
  /** spawn + initialize budget per connect attempt; default 30 s */
  connectTimeoutMs?: number;
  /** OAuth clients of the connectors with `auth: {type: oauth}`; without it such connectors fail to connect */
  oauth?: OAuthConnectors;
}

function oauthFetchOf(oauth: OAuthConnectors | undefined, config: ConnectorConfig): { oauthFetch?: FetchLike } {
  const client = oauth?.for(config);
  return client ? { oauthFetch: client.fetch } : {};
}

interface Entry {
  config: ConnectorConfig;
  session: ConnectorSession;
  catalog: ToolCatalog;
  /** bumped on every invalidation, so a listing that started before it is not trusted after */
  gen: number;
  /** requests on this entry's session now; a retired entry closes its session when none is left */
  busy: number;
  loading?: { gen: number; promise: Promise<unknown> };
}

interface Attempt {
  what: 'call' | 'list';
  label: string;
  /** a write is never sent twice by the pool; a read is retried once on a fresh connection */
  write: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * The MCP client side of one Interlock process: one session per connector, opened on first use
 * and shared by every step, plus each connector's tool catalog. Failures come out as
 * InterlockErrors whose codes the engine decides on: CONNECTOR_UNAVAILABLE (reaching the server),
 * STEP_TIMEOUT, TOOL_ERROR (the server answered with a protocol error); a tool's own
 * `isError` result is returned, not thrown.
 */
export class ConnectorPool {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(connectorId: string) => void>();
  private readonly log: Logger;

  private readonly opts: ConnectorPoolOptions;
  private readonly backoff: BackoffOptions;

  constructor(connectors: Record<string, ConnectorConfig>, opts: ConnectorPoolOptions = {}) {
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'connectors' });
    this.opts = opts;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    for (const [id, config] of Object.entries(connectors)) this.entries.set(id, this.open(config));
  }

  private open(config: ConnectorConfig): Entry {
    const entry: Entry = {
      config,
      catalog: new ToolCatalog(config.id, config.tools),
      gen: 0,
      busy: 0,
      session: new ConnectorSession(config, {
        logger: this.log,
        env: this.opts.env ?? process.env,
        interlock: this.opts.interlockCommand ?? defaultInterlockCommand(),
        backoff: this.backoff,
        connectTimeoutMs: this.opts.connectTimeoutMs ?? 30_000,
        onToolsChanged: () => this.serverSaysToolsChanged(entry),
        // A server that restarted may list different tools, so the next use lists them again. No
        // generation bump: a listing in flight runs on this very connection and is current.
        onConnected: (reconnect) => {
          if (reconnect) entry.catalog.invalidate();
        },
        ...oauthFetchOf(this.opts.oauth, config),
      }),
    };
    return entry;
  }

  /**
   * Takes a reloaded config's connectors: added and changed ones get a new session (opened on first
   * use), removed and changed ones have their old session closed once the calls on it are done,
   * unchanged ones keep theirs. `changed` says which to renew (ConfigSource's diff, which leaves
   * source positions out).
   */
  async update(connectors: Record<string, ConnectorConfig>, changed: (id: string) => boolean): Promise<void> {
    const retired: Entry[] = [];
    for (const [id, e] of this.entries) {
      if (!Object.hasOwn(connectors, id) || changed(id)) {
        this.entries.delete(id);
        retired.push(e);
      } else {
        e.config = connectors[id];
      }
    }
    for (const [id, config] of Object.entries(connectors)) if (!this.entries.has(id)) this.entries.set(id, this.open(config));
    await Promise.all(
      retired.map(async (e) => {
        // A write in flight is not cut off (that would leave it in doubt); its call timeout bounds the wait.
        while (e.busy > 0) await sleep(50);
        await e.session.close();
      }),
    );
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new InterlockError('CONNECTOR_NOT_FOUND', `No connector named "${id}"`, { connector: id });
    return e;
  }

  /** Enabled tools (allow/deny applied), from cache unless `refresh`. */
  async listTools(id: string, opts: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<ToolInfo[]> {
    return (await this.loadCatalog(this.entry(id), opts)).enabled();
  }

  /** Every listed tool with whether allow/deny leaves it enabled, for pages that show both. */
  async listAllTools(id: string, opts: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<CatalogEntry[]> {
    return (await this.loadCatalog(this.entry(id), opts)).all();
  }

  refresh(id: string): Promise<ToolInfo[]> {
    return this.listTools(id, { refresh: true });
  }

  /**
   * The tool, or TOOL_NOT_FOUND / TOOL_DISABLED. A name missing from the cache triggers one fresh
   * listing first: servers that add tools without announcing it are common.
   */
  async getTool(id: string, name: string, signal?: AbortSignal): Promise<ToolInfo> {
    const e = this.entry(id);
    let catalog = await this.loadCatalog(e, signal ? { signal } : {});
    if (!catalog.find(name)) catalog = await this.loadCatalog(e, { refresh: true, ...(signal ? { signal } : {}) });
    return catalog.require(name);
  }

  async callTool(id: string, name: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<ToolCallResult> {
    const tool = await this.getTool(id, name, opts.signal);
    validateArguments(tool, args);
    return this.send(tool, args, opts);
  }

  /** Calls a tool its caller already looked up and whose arguments it checked (the step processor does both). */
  async send(tool: ToolInfo, args: Record<string, unknown>, opts: CallOptions = {}): Promise<ToolCallResult> {
    const e = this.entry(tool.connector);
    const { connector: id, name } = tool;
    const timeoutMs = opts.timeoutMs ?? e.config.timeoutMs;
    const params = {
      name,
      arguments: args,
      ...(opts.idempotencyKey === undefined ? {} : { _meta: { [IDEMPOTENCY_META_KEY]: opts.idempotencyKey } }),
    };
    const attempt: Attempt = {
      what: 'call',
      label: `${id}.${name}`,
      write: tool.write,
      timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    // A plain request rather than client.callTool: the SDK's own output-schema check throws a
    // protocol error that hides the output; results.ts checks it and names the field instead.
    // The answer's shape is checked by checkedCallResult (call-result.ts), as the SDK would.
    const result = await this.withConnection(e, attempt, async (client) =>
      checkedCallResult(
        await client.request({ method: 'tools/call', params }, UNCHECKED, {
          timeout: timeoutMs,
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      ),
    );
    return toCallResult(result);
  }

  status(): ConnectorStatus[] {
    return [...this.entries.entries()].map(([id, e]) => {
      const s: ConnectorStatus = { id, state: e.session.state, connects: e.session.connects };
      if (e.session.lastError !== undefined) s.lastError = e.session.lastError;
      if (e.catalog.loaded) s.toolCount = e.catalog.enabled().length;
      return s;
    });
  }

  /** Called with the connector id after a reload found its tool list different. */
  onToolsChanged(cb: (connectorId: string) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.session.close()));
  }

  private invalidate(e: Entry): void {
    e.gen++;
    e.catalog.invalidate();
  }

  private serverSaysToolsChanged(e: Entry): void {
    this.invalidate(e);
    this.loadCatalog(e, {}).catch((err: unknown) => {
      this.log.warn({ connector: e.config.id, err: e.session.scrub(errorMessage(err)) }, 'tool list reload failed');
    });
  }

  private async loadCatalog(e: Entry, opts: { refresh?: boolean; signal?: AbortSignal }): Promise<ToolCatalog> {
    if (opts.refresh) this.invalidate(e);
    // An invalidation while a listing is in flight makes that listing stale; list again, a few times at most.
    for (let round = 0; round < 3 && !e.catalog.loaded; round++) {
      if (!e.loading || e.loading.gen !== e.gen) {
        const gen = e.gen;
        const attempt: Attempt = {
          what: 'list',
          label: `${e.config.id} tools/list`,
          write: false,
          timeoutMs: e.config.timeoutMs,
        };
        const promise = this.withConnection(e, attempt, (client) =>
          fetchToolPages(client, { timeoutMs: e.config.timeoutMs }),
        ).then((raw) => {
          if (gen !== e.gen) return;
          if (e.catalog.set(raw)) this.emit(e.config.id);
        });
        const loading = { gen, promise };
        e.loading = loading;
        void promise
          .finally(() => {
            if (e.loading === loading) e.loading = undefined;
          })
          // Every caller awaits e.loading.promise below and hears its failure; this branch only must not be unhandled.
          .catch(() => {});
      }
      await (opts.signal ? raceAbort(e.loading.promise, opts.signal) : e.loading.promise);
    }
    if (!e.catalog.loaded)
      throw e.session.unavailable('its tool list keeps changing while being read', { maybeDelivered: false });
    return e.catalog;
  }

  private emit(id: string): void {
    for (const cb of this.listeners) {
      try {
        cb(id);
      } catch (err) {
        this.log.warn({ connector: id, err: errorMessage(err) }, 'onToolsChanged listener threw');
      }
    }
  }

  private async withConnection<T>(e: Entry, a: Attempt, op: (client: Client) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      const live = await e.session.acquire(a.signal);
      e.busy++;
      try {
        return await op(live.client);
      } catch (err) {
        // The request never reached the tool: no token, or one the server refused and a refresh could not replace.
        if (isLoginRequired(err)) throw err;
        const f = classifyFailure(err, { ...(a.signal ? { signal: a.signal } : {}), connectionAlive: live.alive });
        const message = e.session.scrub(errorMessage(err));
        if (f.kind === 'aborted' && a.signal) throw abortReason(a.signal);
        if (f.kind === 'timeout' && a.what === 'call') {
          throw new InterlockError('STEP_TIMEOUT', `${a.label} did not answer within ${a.timeoutMs} ms`, {
            connector: e.config.id,
            timeoutMs: a.timeoutMs,
          });
        }
        if (f.kind === 'remote' && a.what === 'call') {
          throw new InterlockError('TOOL_ERROR', `${a.label} failed: ${message}`, { connector: e.config.id });
        }
        const maybeDelivered = f.kind === 'connection' ? f.maybeDelivered : true;
        if (f.kind === 'connection') {
          e.session.discard(live, err);
          if (!a.write && n === 1) {
            this.log.info({ connector: e.config.id, err: message }, `${a.label}: connection lost, retrying the read once`);
            continue;
          }
        }
        throw e.session.unavailable(`${a.label}: ${message}`, { maybeDelivered });
      } finally {
        e.busy--;
      }
    }
  }
}
