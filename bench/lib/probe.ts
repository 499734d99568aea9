/**
 * Loaded with `node --expose-gc --import bench/lib/probe.ts src/cli.ts worker` so the bench can see
 * inside a worker process without touching its code:
 *
 * - every `socket.write` to the Redis port is counted per socket. ioredis writes one command, or one
 *   whole pipeline / MULTI, per write, so writes are request round trips (blocking reads included);
 *   the writes made while the socket is corked (a script and the enqueue behind it) count as one.
 * - on SIGUSR2 it collects garbage and prints one line to stderr:
 *   `BENCH_PROBE {"pid", "rss", "heapUsed", "sockets": [{"localPort", "writes"}]}`.
 *
 * The bench process imports it too and calls `probeSnapshot()` directly.
 * BENCH_REDIS_PORT names the port; without it nothing is counted.
 */
import { Socket } from 'node:net';

export interface SocketCount {
  localPort: number;
  writes: number;
}

export interface ProbeSnapshot {
  pid: number;
  rss: number;
  heapUsed: number;
  sockets: SocketCount[];
}

const counts = new Map<Socket, SocketCount>();
const excluded = new WeakSet<Socket>();
let port = Number(process.env.BENCH_REDIS_PORT ?? 0);

export function setProbePort(p: number): void {
  port = p;
}

/** Leaves a connection out of the counts (the bench's own observers). */
export function excludeSocket(s: unknown): void {
  if (s instanceof Socket) excluded.add(s);
}

type Write = Socket['write'];
const original: Write = Socket.prototype.write;
Socket.prototype.write = function (this: Socket, ...args: Parameters<Write>): boolean {
  if (port && this.remotePort === port && !excluded.has(this)) {
    let c = counts.get(this);
    if (!c) {
      c = { localPort: this.localPort ?? 0, writes: 0 };
      counts.set(this, c);
    }
    // Writes made while the socket is corked (RunStore.together) leave in one go: the first counts.
    if (!(this.writableCorked > 0 && this.writableLength > 0)) c.writes++;
  }
  return original.apply(this, args);
} as Write;

/** `collect` runs a full GC first (when --expose-gc is on) so heapUsed shows what is retained. */
export function probeSnapshot(collect = true): ProbeSnapshot {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { pid: process.pid, rss: m.rss, heapUsed: m.heapUsed, sockets: [...counts.values()].map((c) => ({ ...c })) };
}

if (process.env.BENCH_PROBE === '1') {
  process.on('SIGUSR2', () => {
    process.stderr.write(`BENCH_PROBE ${JSON.stringify(probeSnapshot())}\n`);
  });
}

/**
 * BENCH_ALLOC_PROF=<dir>: a sampling heap profile of everything the process allocates, collected
 * objects included (what `--heap-prof` leaves out, and what garbage collection time follows),
 * written there when the process exits. Open it in Chrome DevTools (Memory) or read it as JSON.
 */
if (process.env.BENCH_ALLOC_PROF) {
  const dir = process.env.BENCH_ALLOC_PROF;
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  process.on('exit', () => {
    // A session on the process's own thread answers synchronously, so this runs before the exit.
    session.post('HeapProfiler.stopSampling', (err, res) => {
      if (!err) writeFileSync(`${dir}/alloc-${process.pid}.heapprofile`, JSON.stringify(res.profile));
    });
  });
}
