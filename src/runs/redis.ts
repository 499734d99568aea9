import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { InterlockError } from '../errors.ts';
import { OutageLog } from '../logger.ts';

/**
 * A command client: one Redis server, or a Redis Cluster. Every multi-key script and MULTI of
 * Interlock keeps its keys in one hash slot (see keys.ts), so either works wherever a client is taken.
 */
export type RedisClient = Redis | Cluster;

export interface RedisHandle {
  /**
   * The shared command connection of requests (HTTP, MCP, CLI) and of the store. It never holds a
   * command back for later: while Redis is away every command fails at once (no offline queue), a
   * command in flight when the connection drops fails and is not sent again, and a command with
   * no answer within INTERLOCK_REDIS_COMMAND_TIMEOUT_MS fails. It keeps reconnecting, so everything
   * works again when Redis returns.
   */
  client: RedisClient;
  /** a fresh connection for blocking reads (XREAD BLOCK); it fails on the first failed connection attempt */
  duplicate(): RedisClient;
  /**
   * The connection BullMQ workers are given (made on first use): it waits out an outage
   * (maxRetriesPerRequest: null, offline queue on) as BullMQ's blocking reads need. Never use it for
   * a request: its commands would run whenever Redis comes back.
   */
  workerClient(): RedisClient;
  /** where it points, without credentials, for messages */
  describe: string;
  embedded: boolean;
  close(): Promise<void>;
}

/** How long a command may go without an answer before its caller is told Redis is unavailable. */
export function commandTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.INTERLOCK_REDIS_COMMAND_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 2000;
}

/**
 * Reconnect forever, and soon after an outage ends: requests are answered 503 until the connection
 * is back, so a quarter of a second late at most (a refused connect costs next to nothing).
 */
const reconnectDelay = (times: number): number => Math.min(50 * times, 250);

/** Options of the request-path connection; see RedisHandle.client. */
function requestOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    // 0: commands queued or in flight fail at the first close instead of waiting for a reconnect…
    maxRetriesPerRequest: 0,
    // …and a command sent before the drop is not sent again once the connection is back: its caller
    // was already told it failed.
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs(),
    retryStrategy: reconnectDelay,
  };
}

/**
 * Blocking reads: a new connection must be able to take its first command before it is up (so
 * offline queue on), but a command waits at most for one connection attempt, and never survives a drop.
 */
function blockingOptions(): RedisOptions {
  return { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, retryStrategy: reconnectDelay };
}

/** BullMQ workers: "maxRetriesPerRequest must be null" for their blocking connections (BullMQ, Going to production). */
function workerOptions(): RedisOptions {
  return { maxRetriesPerRequest: null, retryStrategy: reconnectDelay };
}

/**
 * The layout settings of Interlock's private Redis, shared with the tests' and the bench's Redis so
 * all three store runs alike: no RDB snapshots, small stream nodes (each run has a small stream),
 * run hashes kept as listpacks.
 */
export const REDIS_LAYOUT_ARGS: readonly string[] = [
  '--save',
  '',
  '--stream-node-max-bytes',
  '512',
  '--hash-max-listpack-value',
  '4096',
  '--loglevel',
  'warning',
];

export const REDIS_HINT =
  'Interlock needs Redis. Either set REDIS_URL (e.g. redis://127.0.0.1:6379) or REDIS_CLUSTER_NODES (e.g. 10.0.0.1:6379,10.0.0.2:6379), or install redis-server so ' +
  'Interlock can start a private one: `apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS).';

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'REDIS_URL';
  }
}

async function ping(opts: { path: string } | string): Promise<boolean> {
  const c =
    typeof opts === 'string'
      ? new Redis(opts, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      : new Redis({ ...opts, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // A probe: its failure is the answer (false), not news.
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

/** What REDIS_CLUSTER_NODES says: the nodes to start from, and the options every node connection shares. */
export interface ClusterTarget {
  nodes: Array<{ host: string; port: number }>;
  /** username, password and TLS, taken from the entries written as URLs */
  redisOptions: { username?: string; password?: string; tls?: Record<string, never> };
  /** the nodes without credentials, for messages */
  describe: string;
}

/**
 * Parses `host:port,host:port,…` (a few masters are enough; the client learns the rest of the cluster
 * from them). An entry may be a URL instead, `redis://[user:password@]host:port` or `rediss://…` for
 * TLS: its credentials and TLS apply to every node, since a cluster shares them.
 */
export function parseClusterNodes(spec: string): ClusterTarget {
  const nodes: ClusterTarget['nodes'] = [];
  const redisOptions: ClusterTarget['redisOptions'] = {};
  for (const raw of spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(raw.includes('://') ? raw : `redis://${raw}`);
    } catch {
      // The entry is not echoed: a malformed URL may still hold a password.
      throw new InterlockError(
        'CONFIG_INVALID',
        `REDIS_CLUSTER_NODES entry ${nodes.length + 1} is not host:port or a redis:// URL`,
      );
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
      throw new InterlockError(
        'CONFIG_INVALID',
        `REDIS_CLUSTER_NODES entry ${nodes.length + 1} must be host:port, redis://… or rediss://…`,
      );
    }
    if (u.protocol === 'rediss:') redisOptions.tls = {};
    if (u.username) redisOptions.username ??= decodeURIComponent(u.username);
    if (u.password) redisOptions.password ??= decodeURIComponent(u.password);
    nodes.push({ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 6379 });
  }
  if (nodes.length === 0)
    throw new InterlockError(
      'CONFIG_INVALID',
      'REDIS_CLUSTER_NODES is empty: give host:port of one or more cluster nodes, comma-separated',
    );
  const list = nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(', ');
  return { nodes, redisOptions, describe: `Redis Cluster (${list}${redisOptions.tls ? ', TLS' : ''})` };
}

/**
 * Makes the request client and waits for it to be up (10 s at most); the last connection error says
 * why not, as REDIS_UNAVAILABLE naming `what`.
 */
async function openRequestClient(make: (o: RedisOptions) => RedisClient, what: string): Promise<RedisClient> {
  const client = make({ ...requestOptions(), lazyConnect: true });
  let lastError = '';
  // "Failed to refresh slots cache" says little; the last node's own error (refused, WRONGPASS) says why.
  const remember = (err: Error & { lastNodeError?: Error }) =>
    (lastError = err.lastNodeError ? `${err.message} (${err.lastNodeError.message})` : err.message);
  client.on('error', remember);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      }),
    ]);
    return client;
  } catch (err) {
    client.disconnect();
    throw new InterlockError('REDIS_UNAVAILABLE', `Cannot reach ${what}: ${lastError || (err as Error).message}`);
  } finally {
    clearTimeout(timer);
    client.off('error', remember);
  }
}

/**
 * A command that timed out says the connection no longer answers (a Redis that hangs, a host gone
 * without a reset, which TCP can take minutes to notice): the connection is dropped and reopened, so
 * the requests that follow are answered 503 at once (it is not ready) instead of each waiting out the
 * timeout. ioredis has no event for a timeout, so its one way in is wrapped.
 */
function reopenOnTimeout(client: Redis): void {
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    const answer = send(command, stream) as Promise<unknown>;
    answer.catch((err: unknown) => {
      // destroy, not end: a peer that does not answer would never finish a polite close either.
      if (err instanceof Error && err.message === 'Command timed out' && client.status === 'ready') client.stream.destroy();
    });
    return answer;
  };
}

/**
 * The handle over a way to make connections (`make` applies the given options to the target):
 * the request client (already connected), blocking duplicates, the worker connection, and one
 * outage log over the long-lived ones.
 */
function handleOver(
  make: (o: RedisOptions) => RedisClient,
  client: RedisClient,
  h: { describe: string; embedded: boolean; logger?: Logger; stop?: () => Promise<void> },
): RedisHandle {
  const watched: RedisClient[] = [];
  let closing = false;
  const outage = h.logger ? new OutageLog(h.logger, `Redis (${h.describe})`) : undefined;
  const watch = (c: RedisClient): RedisClient => {
    watched.push(c);
    if (!outage) return c;
    c.on('error', (err: Error) => closing || outage.fail(err.message));
    c.on('close', () => closing || outage.fail('connection closed'));
    c.on('ready', () => {
      if (watched.every((x) => x.status === 'ready')) outage.recovered();
    });
    return c;
  };
  watch(client);
  if (client instanceof Redis) reopenOnTimeout(client);
  let worker: RedisClient | undefined;
  return {
    client,
    duplicate: () => make(blockingOptions()),
    workerClient: () => (worker ??= watch(make(workerOptions()))),
    describe: h.describe,
    embedded: h.embedded,
    close: async () => {
      closing = true;
      // The worker connection retries forever, so it must be gone before an embedded server is.
      client.disconnect();
      worker?.disconnect();
      await h.stop?.();
    },
  };
}

async function connectCluster(target: ClusterTarget, logger: Logger | undefined): Promise<RedisHandle> {
  const make = (o: RedisOptions): Cluster => {
    // Reconnecting and the offline queue are the cluster's business, not each node connection's.
    const { enableOfflineQueue, retryStrategy: _retry, lazyConnect, ...node } = o;
    const options: ClusterOptions = {
      // Commands sent before the slot map is known, or while it is lost, wait only where the node options would.
      enableOfflineQueue: enableOfflineQueue ?? true,
      clusterRetryStrategy: reconnectDelay,
      redisOptions: { ...target.redisOptions, ...node },
      lazyConnect: lazyConnect ?? false,
    };
    const c = new Cluster(target.nodes, options);
    // The long-lived connections report through the outage log (handleOver's watch), once per outage;
    // a duplicate's failure rejects the read that uses it. This only keeps an unheard 'error' from throwing.
    c.on('error', () => {});
    return c;
  };
  const client = await openRequestClient(make, target.describe);
  return handleOver(make, client, { describe: target.describe, embedded: false, ...(logger ? { logger } : {}) });
}

/**
 * Connects to a Redis Cluster (`clusterNodes`, else REDIS_CLUSTER_NODES), to one Redis (`url`, else
 * REDIS_URL), or starts (or reuses) a private redis-server whose data lives under `dataDir` with
 * append-only persistence and `appendfsync always`, so a confirmed decision is on disk before it is
 * acknowledged. It listens on a unix socket only: nothing else on the machine
 * can reach it by port, and processes started from the same folder share it.
 * With a `logger`, an outage is logged when it starts, every 30 s while it lasts and when it ends.
 */
export async function connectRedis(
  opts: { url?: string; clusterNodes?: string; dataDir?: string; onStart?: (msg: string) => void; logger?: Logger } = {},
): Promise<RedisHandle> {
  const logger = opts.logger ? { logger: opts.logger } : {};
  // What the caller gives wins over the environment; of the environment, a cluster wins over one URL.
  const clusterNodes = opts.clusterNodes || (opts.url ? undefined : process.env.REDIS_CLUSTER_NODES || undefined);
  if (clusterNodes) return connectCluster(parseClusterNodes(clusterNodes), opts.logger);
  const url = opts.url ?? process.env.REDIS_URL;
  if (url) {
    const make = (o: RedisOptions): Redis => quiet(new Redis(url, o));
    const client = await openRequestClient(make, `Redis at ${redactUrl(url)}`);
    return handleOver(make, client, { describe: redactUrl(url), embedded: false, ...logger });
  }
  const dir = resolve(opts.dataDir ?? '.interlock');
  const sock = resolve(dir, 'redis.sock');
  const child = existsSync(sock) && (await ping({ path: sock })) ? undefined : await startPrivateRedis(dir, sock);
  if (child) opts.onStart?.(`started a private redis-server (data in ${dir}, append-only, fsync always)`);
  const make = (o: RedisOptions): Redis => quiet(new Redis({ path: sock, ...o }));
  const client = await openRequestClient(make, `the private redis-server on ${sock}`);
  const stop = () => stopPrivateRedis(child, sock);
  return handleOver(make, client, { describe: `redis-server on ${sock}`, embedded: true, ...logger, stop });
}

/**
 * The long-lived connections report through the outage log (handleOver's watch), once per outage;
 * a duplicate's failure rejects the read that uses it. This only keeps an unheard 'error' from throwing.
 */
function quiet(c: Redis): Redis {
  c.on('error', () => {});
  return c;
}

/** A redis-server on `sock` only, its data in `dir`; resolves once it answers PING. */
async function startPrivateRedis(dir: string, sock: string): Promise<ChildProcess> {
  const which = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (which.error || which.status !== 0)
    throw new InterlockError('REDIS_UNAVAILABLE', `REDIS_URL is not set and redis-server is not on PATH. ${REDIS_HINT}`);
  mkdirSync(dir, { recursive: true });
  rmSync(sock, { force: true });
  const log = resolve(dir, 'redis.log');
  const persistence = ['--appendonly', 'yes', '--appendfsync', 'always'];
  const args = ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--dir', dir, ...persistence];
  const child = spawn('redis-server', [...args, ...REDIS_LAYOUT_ARGS, '--logfile', log], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (let i = 0; i < 200 && !(await ping({ path: sock })); i++) {
    if (exited) throw new InterlockError('REDIS_UNAVAILABLE', `redis-server exited at start; see ${log}`);
    await sleep(25);
  }
  return child;
}

/** SHUTDOWN (which saves) for a server this process started; SIGTERM if it does not go within 3 s. */
async function stopPrivateRedis(child: ChildProcess | undefined, sock: string): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((r) => {
    child.once('exit', () => r());
    setTimeout(r, 3000).unref();
  });
  const admin = new Redis({ path: sock, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  // A server that is already gone needs no SHUTDOWN; the kill below covers one that hangs.
  admin.on('error', () => {});
  try {
    await admin.connect();
    await admin.call('SHUTDOWN');
  } catch {
    // SHUTDOWN closes the connection it came on; that is the success case.
  } finally {
    admin.disconnect();
  }
  await exited;
  if (child.exitCode === null) child.kill('SIGTERM');
}
