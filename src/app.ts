import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ConfigSource } from './config/source.ts';
import { errorMessage } from './errors.ts';
import { OAuthConnectors, redirectUrlFromEnv } from './connectors/oauth/connectors.ts';
import { ConnectorPool } from './connectors/pool.ts';
import { createLogger } from './logger.ts';
import { registerConfigSecrets } from './secrets-config.ts';
import { connectRedis, type RedisHandle } from './runs/redis.ts';
import { observeCatalog } from './engine/pins.ts';
import { DEFAULT_AUDIT_RETENTION_MS } from './policy/types.ts';
import { RunStore } from './runs/store.ts';
import { Engine } from './engine/engine.ts';
import { openAICaller } from './llm/caller.ts';
import { Triggers } from './triggers/triggers.ts';
import { StepQueues } from './worker/queues.ts';
import { StepWorkers } from './worker/worker.ts';
import { findConfigFile, loadConfig } from './workflows/load.ts';
import type { InterlockConfig } from './workflows/types.ts';

export interface AppOptions {
  configFile?: string;
  config?: InterlockConfig;
  redisUrl?: string;
  /** a Redis Cluster instead, as REDIS_CLUSTER_NODES takes it: `host:port,host:port` */
  redisClusterNodes?: string;
  dataDir?: string;
  logger?: Logger;
  /** Redis key prefix; tests give each suite its own */
  prefix?: string;
  onNotice?: (msg: string) => void;
}

/**
 * Everything one Interlock process holds: config, Redis, the store, queues, the engine and the
 * connector pool. Workers start only when asked, so a CLI command that just triggers or decides
 * stays a pure client.
 */
export class App {
  /** the one owner of the config: reload it here and the engine, workers, pool and routes follow */
  readonly source: ConfigSource;
  readonly redis: RedisHandle;
  readonly store: RunStore;
  readonly queues: StepQueues;
  readonly engine: Engine;
  readonly pool: ConnectorPool;
  /** OAuth clients of the connectors with `auth: {type: oauth}`: logins, tokens in Redis, refresh */
  readonly oauth: OAuthConnectors;
  readonly logger: Logger;
  readonly prefix: string;
  /** schedules and webhooks: listed and paused anywhere, ticking where workers run */
  readonly triggers: Triggers;
  workers: StepWorkers | undefined;
  /** the queues the workers enqueue next steps on, over the workers' connection (see startWorkers) */
  private workerQueues: StepQueues | undefined;

  private constructor(config: InterlockConfig, redis: RedisHandle, logger: Logger, prefix: string) {
    this.source = new ConfigSource(config, logger);
    this.redis = redis;
    this.logger = logger;
    this.prefix = prefix;
    this.store = new RunStore(redis.client, prefix);
    this.store.audit.retention = () => this.config.policy.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
    this.queues = new StepQueues(redis.client, `${prefix}:q`);
    this.engine = new Engine(this.store, this.queues, this.source);
    const redirect = redirectUrlFromEnv(process.env);
    this.oauth = new OAuthConnectors({ vault: this.store.oauth, redirectUrl: redirect.url, redirectUrlFixed: redirect.fixed });
    this.oauth.onLogin((connector) => {
      this.engine.resumeAfterLogin(connector, 'login').then(
        (resumed) => {
          if (resumed.length) logger.info({ connector, runs: resumed }, 'connector logged in; paused runs resumed');
        },
        (err: unknown) => logger.warn({ connector, err: (err as Error).message }, 'could not resume runs after a login'),
      );
    });
    this.pool = new ConnectorPool(config.connectors, { logger, oauth: this.oauth });
    this.triggers = new Triggers({
      engine: this.engine,
      state: this.store.triggers,
      source: this.source,
      connection: redis.client,
      prefix,
      logger,
    });
    this.source.subscribe(async (next, diff) => {
      registerConfigSecrets(next);
      await this.pool.update(next.connectors, (id) => diff.connectors.changed.includes(id));
    });
    this.pool.onToolsChanged((id) => {
      observeCatalog(this.pool, this.store.pins, id).then(
        (changed) => {
          if (changed.length)
            logger.warn(
              { connector: id, tools: changed },
              'tools changed since they were pinned; disabled until an admin approves them',
            );
        },
        (err: unknown) => logger.warn({ connector: id, err: (err as Error).message }, 'could not compare tools with their pins'),
      );
    });
  }

  /** The current config; a snapshot, so read it again after a reload. */
  get config(): InterlockConfig {
    return this.source.current;
  }

  static async create(opts: AppOptions = {}): Promise<App> {
    const logger = opts.logger ?? createLogger();
    const config = opts.config ?? loadConfig(opts.configFile ?? findConfigFile());
    registerConfigSecrets(config);
    const redis = await connectRedis({
      ...(opts.redisUrl ? { url: opts.redisUrl } : {}),
      ...(opts.redisClusterNodes ? { clusterNodes: opts.redisClusterNodes } : {}),
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      onStart: opts.onNotice ?? ((m) => logger.info(m)),
      logger,
    });
    return new App(config, redis, logger, opts.prefix ?? process.env.INTERLOCK_PREFIX ?? 'il');
  }

  async startWorkers(
    opts: {
      sweepEveryMs?: number;
      onStepFinished?: (i: { connector: string; tool: string; durationMs: number; ok: boolean }) => void;
      /** how long a job may run its run's next steps in place (default INTERLOCK_CHAIN_SLICE_MS or 1 s; 0: never) */
      chainSliceMs?: number;
    } = {},
  ): Promise<StepWorkers> {
    if (this.workers) return this.workers;
    // Steps wait out a Redis outage on the workers' own connection: nobody waits for their answer, and
    // a step's commit that lands when Redis is back beats a write left in doubt. Requests never wait
    // (this.store and this.queues fail at once).
    const connection = this.redis.workerClient();
    this.workerQueues = new StepQueues(connection, `${this.prefix}:q`);
    const store = new RunStore(connection, this.prefix);
    store.audit.retention = this.store.audit.retention;
    this.workers = new StepWorkers({
      connection,
      prefix: `${this.prefix}:q`,
      config: this.source,
      llm: openAICaller(() => this.config.llm),
      store,
      queues: this.workerQueues,
      tools: this.pool,
      policy: () => this.config.policy,
      logger: this.logger,
      ...(opts.sweepEveryMs ? { sweepEveryMs: opts.sweepEveryMs } : {}),
      ...(opts.onStepFinished ? { onStepFinished: opts.onStepFinished } : {}),
      ...(opts.chainSliceMs !== undefined ? { chainSliceMs: opts.chainSliceMs } : {}),
    }).start();
    await this.workers.waitUntilReady();
    await this.triggers.start(connection);
    return this.workers;
  }

  /** Whether any worker process is listening on a queue this config uses. */
  async workersOnline(): Promise<boolean> {
    for (const id of Object.keys(this.config.connectors)) {
      if ((await this.queues.get(id).getWorkersCount()) > 0) return true;
    }
    return false;
  }

  async close(): Promise<void> {
    this.source.close();
    // While Redis is away a BullMQ close waits for it forever (its QUIT queues behind commands
    // waiting for the connection). The step workers bound their own wait (the grace period and a
    // second); the trigger worker and the queues, which hold nothing in flight, get one second more,
    // then closing the connections ends whatever still waits. With Redis up each is awaited in full.
    const triggers = this.triggers.close();
    await this.workers?.close();
    this.workers = undefined;
    const rest = Promise.all([triggers, this.workerQueues?.close(), this.queues.close()]);
    this.workerQueues = undefined;
    if (this.redis.client.status === 'ready') await rest;
    else {
      const done = new AbortController();
      const bound = sleep(1000, undefined, { signal: done.signal }).catch(() => {});
      const logged = rest.catch((err: unknown) =>
        this.logger.warn({ err: errorMessage(err) }, 'a queue did not close while Redis is away'),
      );
      await Promise.race([logged, bound]);
      done.abort();
    }
    await this.pool.close();
    await this.redis.close();
  }
}
