import type { Redis } from 'ioredis';
import { errorMessage } from '../errors.ts';
import type { RedisClient } from '../runs/redis.ts';
import type { ServerServices } from './services.ts';

interface Waiter {
  afterId: string;
  wake(): void;
}

const BLOCK_MS = 2000;
/** a cluster keeps run streams in different slots, which one XREAD cannot name together: it polls */
const CLUSTER_POLL_MS = 250;

/**
 * One Redis reader shared by every open event stream. A stream drains its run's events with
 * plain reads on the shared command connection and, once drained, waits here; the hub keeps one
 * blocking `XREAD … STREAMS k1 k2 …` over every run someone waits on, so 1,000 open streams hold
 * one extra Redis connection, not 1,000. A new waiter interrupts the blocked read with
 * `CLIENT UNBLOCK`, so it is heard at once rather than after the block expires.
 */
export class EventHub {
  private readonly svc: Pick<ServerServices, 'events' | 'logger'>;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private conn: RedisClient | undefined;
  private connId: number | undefined;
  private loop: Promise<void> | undefined;
  private blocked = false;
  private closed = false;

  constructor(svc: Pick<ServerServices, 'events' | 'logger'>) {
    this.svc = svc;
  }

  /** Runs someone waits on right now (for tests and metrics). */
  get watching(): number {
    return this.waiters.size;
  }

  /**
   * Resolves once the run's stream may hold an entry after `afterId` (the caller reads to see),
   * after `timeoutMs`, or when `signal` aborts.
   */
  wait(runId: string, afterId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(runId);
      if (!set) this.waiters.set(runId, (set = new Set()));
      const w: Waiter = {
        afterId,
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', w.wake);
          const s = this.waiters.get(runId);
          s?.delete(w);
          if (s?.size === 0) this.waiters.delete(runId);
          resolve();
        },
      };
      const timer = setTimeout(w.wake, timeoutMs);
      signal?.addEventListener('abort', w.wake, { once: true });
      set.add(w);
      this.kick();
    });
  }

  private kick(): void {
    if (!this.loop) {
      this.loop = this.run().finally(() => {
        this.loop = undefined;
        if (this.waiters.size > 0 && !this.closed) this.kick();
      });
    } else if (this.blocked && this.connId !== undefined && !this.svc.events.client.isCluster) {
      // The blocked read does not name the new run yet: end it early so the next one does.
      void (this.svc.events.client as Redis)
        .client('UNBLOCK', this.connId)
        .catch((err: unknown) =>
          this.svc.logger.debug({ err: errorMessage(err) }, 'event hub could not unblock its read; it wakes at its timeout'),
        );
    }
  }

  private async run(): Promise<void> {
    while (!this.closed && this.waiters.size > 0) {
      try {
        const woke = this.svc.events.client.isCluster ? await this.poll() : await this.block();
        for (const runId of woke) for (const w of [...(this.waiters.get(runId) ?? [])]) w.wake();
      } catch (err) {
        if (this.closed) return;
        this.svc.logger.warn({ err: errorMessage(err) }, 'event hub read failed; waking every stream to read again');
        for (const set of [...this.waiters.values()]) for (const w of [...set]) w.wake();
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** The run ids, their stream keys and the oldest id any of their waiters has. */
  private targets(): Array<{ runId: string; key: string; after: string }> {
    return [...this.waiters].map(([runId, set]) => ({
      runId,
      key: this.svc.events.streamKey(runId),
      after: [...set].map((w) => w.afterId).reduce((a, b) => (streamIdBefore(b, a) ? b : a)),
    }));
  }

  private async block(): Promise<string[]> {
    if (!this.conn) {
      this.conn = this.svc.events.duplicate();
      this.connId = Number(await (this.conn as Redis).client('ID'));
    }
    const t = this.targets();
    this.blocked = true;
    try {
      const res = await this.conn.xread(
        'COUNT',
        1,
        'BLOCK',
        BLOCK_MS,
        'STREAMS',
        ...t.map((x) => x.key),
        ...t.map((x) => x.after),
      );
      const keys = new Set((res ?? []).map(([key]) => key));
      return t.filter((x) => keys.has(x.key)).map((x) => x.runId);
    } finally {
      this.blocked = false;
    }
  }

  private async poll(): Promise<string[]> {
    const t = this.targets();
    const found = await Promise.all(
      t.map(async (x) =>
        (await this.svc.events.client.xread('COUNT', 1, 'STREAMS', x.key, x.after))?.length ? x.runId : undefined,
      ),
    );
    const woke = found.filter((x): x is string => x !== undefined);
    if (woke.length === 0) await new Promise((r) => setTimeout(r, CLUSTER_POLL_MS));
    return woke;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.wake();
    this.conn?.disconnect();
    this.conn = undefined;
  }
}

/** Whether Redis stream id `a` comes before `b`. */
function streamIdBefore(a: string, b: string): boolean {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  if (am.length !== bm.length) return am.length < bm.length;
  if (am !== bm) return am < bm;
  return Number(as) < Number(bs);
}
