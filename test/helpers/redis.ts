import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_LAYOUT_ARGS } from '../../src/runs/redis.ts';

/** what every test redis-server runs with: no RDB snapshots, and small stream nodes and listpacks so tests reach the encodings big data would */

/** A free TCP port on loopback, found by binding port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server for one test suite, on a free port with append-only persistence
 * in a temp dir, so a test can kill it and start it again without losing data.
 */
export class TestRedis {
  port = 0;
  dir = '';
  private proc: ChildProcess | undefined;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.dir) this.dir = mkdtempSync(join(tmpdir(), 'interlock-redis-'));
    if (!this.port) this.port = await freePort();
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        ...REDIS_LAYOUT_ARGS,
      ],
      { stdio: 'ignore' },
    );
    const client = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await client.connect();
        await client.ping();
        client.disconnect();
        return this;
      } catch {
        client.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A private Redis Cluster for one test suite: `masters` redis-servers with cluster mode on, on free
 * loopback ports (client and bus port each), no replicas, slots split evenly. Built with
 * `redis-cli --cluster create` when redis-cli is on PATH, otherwise with CLUSTER ADDSLOTSRANGE and
 * CLUSTER MEET; ready once every node reports `cluster_state:ok` and knows every other node.
 */
export class TestCluster {
  ports: number[] = [];
  dir = '';
  private procs: ChildProcess[] = [];

  /** as REDIS_CLUSTER_NODES takes them */
  get nodes(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  async start(masters = 3, opts: { useRedisCli?: boolean } = {}): Promise<this> {
    this.dir = mkdtempSync(join(tmpdir(), 'interlock-cluster-'));
    const taken = new Set<number>();
    const port = async () => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    const buses: number[] = [];
    for (let i = 0; i < masters; i++) {
      this.ports.push(await port());
      buses.push(await port());
    }
    for (let i = 0; i < masters; i++) {
      const p = this.ports[i];
      this.procs.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(p),
            '--cluster-port',
            String(buses[i]),
            '--bind',
            '127.0.0.1',
            '--dir',
            this.dir,
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${p}.conf`,
            '--cluster-node-timeout',
            '5000',
            '--appendonly',
            'no',
            ...REDIS_LAYOUT_ARGS,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    const admins = this.ports.map((p) => {
      const c = new Redis(p, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      return c;
    });
    try {
      for (const c of admins) {
        for (let i = 0; ; i++) {
          try {
            if (c.status !== 'ready') await c.connect();
            await c.ping();
            break;
          } catch {
            if (i > 100) throw new Error(`cluster node on port ${c.options.port} did not start`);
            c.disconnect();
            await sleep(50);
          }
        }
      }
      const useRedisCli = opts.useRedisCli ?? spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
      if (useRedisCli) {
        const r = spawnSync('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], {
          encoding: 'utf8',
          timeout: 20_000,
        });
        if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stdout}${r.stderr}`);
      } else {
        for (let i = 0; i < masters; i++) {
          const from = Math.floor((16384 * i) / masters);
          const to = Math.floor((16384 * (i + 1)) / masters) - 1;
          await admins[i].call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
          if (i > 0) await admins[0].call('CLUSTER', 'MEET', '127.0.0.1', String(this.ports[i]), String(buses[i]));
        }
      }
      const deadline = Date.now() + 20_000;
      for (const c of admins) {
        for (;;) {
          const info = String(await c.call('CLUSTER', 'INFO'));
          if (info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`)) break;
          if (Date.now() > deadline) throw new Error(`cluster did not become ok: ${info}`);
          await sleep(50);
        }
      }
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      for (const c of admins) c.disconnect();
    }
    return this;
  }

  /** A plain connection to one master, for looking at what it holds. */
  node(i: number): Redis {
    const c = new Redis(this.ports[i], '127.0.0.1', { maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    return c;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map((p) => {
        if (p.exitCode !== null || p.signalCode !== null) return undefined;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        return exited;
      }),
    );
    this.procs = [];
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
