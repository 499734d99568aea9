import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { InterlockError } from '../errors.ts';

/**
 * A command client: one Redis server, or a Redis Cluster. Every multi-key script and MULTI of
 * Interlock keeps its keys in one hash slot (see keys.ts), so either works wherever a client is taken.
 */
export type RedisClient = Redis | Cluster;

export interface RedisHandle {
  /** the shared command connection (maxRetriesPerRequest: null, as BullMQ workers need) */
  client: RedisClient;
  /** a fresh connection (on a cluster: a fresh cluster client) with the same target, for blocking reads */
  duplicate(): RedisClient;
  /** where it points, without credentials, for messages */
  describe: string;
  embedded: boolean;
  close(): Promise<void>;
}

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
  const c = typeof opts === 'string'
    ? new Redis(opts, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    : new Redis({ ...opts, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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
  for (const raw of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(raw.includes('://') ? raw : `redis://${raw}`);
    } catch {
      // The entry is not echoed: a malformed URL may still hold a password.
      throw new InterlockError('CONFIG_INVALID', `REDIS_CLUSTER_NODES entry ${nodes.length + 1} is not host:port or a redis:// URL`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
      throw new InterlockError('CONFIG_INVALID', `REDIS_CLUSTER_NODES entry ${nodes.length + 1} must be host:port, redis://… or rediss://…`);
    }
    if (u.protocol === 'rediss:') redisOptions.tls = {};
    if (u.username) redisOptions.username ??= decodeURIComponent(u.username);
    if (u.password) redisOptions.password ??= decodeURIComponent(u.password);
    nodes.push({ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 6379 });
  }
  if (nodes.length === 0) throw new InterlockError('CONFIG_INVALID', 'REDIS_CLUSTER_NODES is empty: give host:port of one or more cluster nodes, comma-separated');
  const list = nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(', ');
  return { nodes, redisOptions, describe: `Redis Cluster (${list}${redisOptions.tls ? ', TLS' : ''})` };
}

async function connectCluster(target: ClusterTarget): Promise<RedisHandle> {
  const options: ClusterOptions = {
    // BullMQ workers need commands that wait out a failover instead of failing after a few retries.
    redisOptions: { ...target.redisOptions, maxRetriesPerRequest: null },
  };
  const make = () => {
    const c = new Cluster(target.nodes, options);
    c.on('error', () => {});
    return c;
  };
  const client = make();
  // A cluster client queues commands until it has the slot map, retrying forever; give up after a while.
  let lastError = '';
  // "Failed to refresh slots cache" says little; the last node's own error (refused, WRONGPASS) says why.
  const remember = (err: Error & { lastNodeError?: Error }) => (lastError = err.lastNodeError ? `${err.message} (${err.lastNodeError.message})` : err.message);
  client.on('error', remember);
  let timer: NodeJS.Timeout | undefined;
  const pong = client.ping();
  pong.catch(() => {});
  try {
    await Promise.race([
      pong,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(lastError || 'no answer within 10 s')), 10_000);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw new InterlockError('REDIS_UNAVAILABLE', `Cannot reach ${target.describe}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    client.off('error', remember);
  }
  return { client, duplicate: make, describe: target.describe, embedded: false, close: async () => void client.disconnect() };
}

/**
 * Connects to a Redis Cluster (`clusterNodes`, else REDIS_CLUSTER_NODES), to one Redis (`url`, else
 * REDIS_URL), or starts (or reuses) a private redis-server whose data lives under `dataDir` with
 * append-only persistence and `appendfsync always`, so a confirmed decision is on disk before it is
 * acknowledged. It listens on a unix socket only: nothing else on the machine
 * can reach it by port, and processes started from the same folder share it.
 */
export async function connectRedis(opts: { url?: string; clusterNodes?: string; dataDir?: string; onStart?: (msg: string) => void } = {}): Promise<RedisHandle> {
  // What the caller gives wins over the environment; of the environment, a cluster wins over one URL.
  const clusterNodes = opts.clusterNodes || (opts.url ? undefined : process.env.REDIS_CLUSTER_NODES || undefined);
  if (clusterNodes) return connectCluster(parseClusterNodes(clusterNodes));
  const url = opts.url ?? process.env.REDIS_URL;
  if (url) {
    const make = () => {
      const c = new Redis(url, { maxRetriesPerRequest: null });
      c.on('error', () => {});
      return c;
    };
    const client = make();
    try {
      await client.ping();
    } catch (err) {
      client.disconnect();
      throw new InterlockError('REDIS_UNAVAILABLE', `Cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}`);
    }
    return { client, duplicate: make, describe: redactUrl(url), embedded: false, close: async () => void client.disconnect() };
  }

  const dir = resolve(opts.dataDir ?? '.interlock');
  const sock = resolve(dir, 'redis.sock');
  let child: ChildProcess | undefined;
  if (!(existsSync(sock) && (await ping({ path: sock })))) {
    const which = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
    if (which.error || which.status !== 0) throw new InterlockError('REDIS_UNAVAILABLE', `REDIS_URL is not set and redis-server is not on PATH. ${REDIS_HINT}`);
    mkdirSync(dir, { recursive: true });
    rmSync(sock, { force: true });
    child = spawn('redis-server', [
      '--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--stream-node-max-bytes', '512', '--hash-max-listpack-value', '4096', '--loglevel', 'warning', '--logfile', resolve(dir, 'redis.log'),
    ], { stdio: 'ignore' });
    let exited = false;
    child.once('exit', () => (exited = true));
    for (let i = 0; i < 200 && !(await ping({ path: sock })); i++) {
      if (exited) throw new InterlockError('REDIS_UNAVAILABLE', `redis-server exited at start; see ${resolve(dir, 'redis.log')}`);
      await sleep(25);
    }
    opts.onStart?.(`started a private redis-server (data in ${dir}, append-only, fsync always)`);
  }
  const make = () => {
    const c = new Redis({ path: sock, maxRetriesPerRequest: null });
    c.on('error', () => {});
    return c;
  };
  const client = make();
  await client.ping();
  return {
    client,
    duplicate: make,
    describe: `redis-server on ${sock}`,
    embedded: true,
    close: async () => {
      // The shared client retries forever (BullMQ needs that), so it must be gone before the server is.
      client.disconnect();
      if (child && child.exitCode === null) {
        const c = child;
        const exited = new Promise<void>((r) => { c.once('exit', () => r()); setTimeout(r, 3000).unref(); });
        const admin = new Redis({ path: sock, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
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
        if (c.exitCode === null) c.kill('SIGTERM');
      }
    },
  };
}
