import type { Logger } from 'pino';
import { errorMessage } from '../../errors.ts';
import type { ConfirmationRecord, RunRecord } from '../../runs/records.ts';
import { isRedisUnreachable } from '../../runs/redis-unavailable.ts';
import type { RunQueries } from '../services.ts';

export interface HomeSnapshot {
  runs: RunRecord[];
  confirmations: ConfirmationRecord[];
}

type Listener = (s: HomeSnapshot) => void;

/**
 * What the runs list and the confirmations page show, pushed to every open tab over one SSE
 * connection each (GET /ui/live). Runs have per-run event streams but no global one, and a
 * browser allows only six connections per host, so a list page cannot follow each run's stream;
 * instead one shared poller in this process reads the latest runs and the pending confirmations
 * while anybody is watching, and pushes only when something changed. The run page follows its
 * own run's event stream directly.
 */
export class LiveFeed {
  private readonly queries: RunQueries;
  private readonly intervalMs: number;
  private readonly logger: Logger | undefined;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private last: { key: string; snap: HomeSnapshot } | undefined;
  private polling = false;

  constructor(queries: RunQueries, opts: { intervalMs?: number; logger?: Logger } = {}) {
    this.queries = queries;
    this.intervalMs = opts.intervalMs ?? 500;
    this.logger = opts.logger;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    if (this.last) fn(this.last.snap);
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      this.timer.unref();
      void this.poll();
    }
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  async snapshot(): Promise<HomeSnapshot> {
    const [runs, confs] = await Promise.all([
      this.queries.listRuns({ limit: 50 }),
      this.queries.listConfirmations({ status: 'pending', limit: 50 }),
    ]);
    return { runs: runs.runs, confirmations: confs.confirmations };
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const snap = await this.snapshot();
      const key = JSON.stringify([
        snap.runs.map((r) => [r.id, r.status, r.updatedAt]),
        snap.confirmations.map((c) => [c.id, c.status]),
      ]);
      if (key === this.last?.key) return;
      this.last = { key, snap };
      for (const fn of this.listeners) fn(snap);
    } catch (err) {
      // Redis being away is logged once per outage by the connection (src/runs/redis.ts).
      if (!isRedisUnreachable(err)) this.logger?.warn({ err: errorMessage(err) }, 'live feed could not read runs');
    } finally {
      this.polling = false;
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.last = undefined;
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }
}
