import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { InterlockError } from '../errors.ts';

export interface RedisHandle {
  /** the shared command connection (maxRetriesPerRequest: null, as BullMQ workers need) */
  client: Redis;
  /** a fresh connection with the same target, for blocking reads */
  duplicate(): Redis;
  /** where it points, without credentials, for messages */
  describe: string;
  embedded: boolean;
  close(): Promise<void>;
}

export const REDIS_HINT =
  'Interlock needs Redis. Either set REDIS_URL (e.g. redis://127.0.0.1:6379), or install redis-server so ' +
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

/**
 * Connects to REDIS_URL, or starts (or reuses) a private redis-server whose data lives under
 * `dataDir` with append-only persistence and `appendfsync always`, so a confirmed decision is on
 * disk before it is acknowledged. It listens on a unix socket only: nothing else on the machine
 * can reach it by port, and processes started from the same folder share it.
 */
export async function connectRedis(opts: { url?: string; dataDir?: string; onStart?: (msg: string) => void } = {}): Promise<RedisHandle> {
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
