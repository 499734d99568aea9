import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConfirmationRecord, RunStatus } from '../runs/records.ts';
import { stepQueueIds } from './dashboard.ts';
import type { ServerServices } from './services.ts';

const RUN_STATUSES: RunStatus[] = [
  'queued',
  'running',
  'awaiting_confirmation',
  'needs_attention',
  'succeeded',
  'failed',
  'denied',
  'cancelled',
];
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'paused'] as const;
/** Scrapes read at most this many recent runs and confirmations; beyond it the gauges stop growing. */
export const SCRAPE_WINDOW = 10_000;

export interface StepFinished {
  connector: string;
  tool: string;
  durationMs: number;
  ok: boolean;
}

/**
 * Prometheus metrics for one `serve` process. Step timings come from this process's workers
 * (pass `onStepFinished` to app.startWorkers); everything else is read from Redis on each
 * scrape, so it is the same whichever process answers and survives restarts.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly svc: Pick<ServerServices, 'config' | 'queues' | 'queries'>;
  private readonly stepDuration: Histogram<'connector' | 'tool' | 'outcome'>;
  private readonly steps: Counter<'connector' | 'tool' | 'outcome'>;
  private readonly confirmationWait: Histogram<'connector' | 'tool' | 'decision'>;
  private readonly runs: Gauge<'status'>;
  private readonly pending: Gauge;
  private readonly oldestPending: Gauge;
  private readonly queueJobs: Gauge<'queue' | 'state'>;
  private scraping: Promise<string> | undefined;

  constructor(svc: Pick<ServerServices, 'config' | 'queues' | 'queries'>) {
    this.svc = svc;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'interlock_process_' });
    this.stepDuration = new Histogram({
      name: 'interlock_step_duration_seconds',
      help: "Wall time of a step job that called a tool, by connector and tool (this process's workers)",
      labelNames: ['connector', 'tool', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.steps = new Counter({
      name: 'interlock_steps_total',
      help: "Tool calls finished by this process's workers, by connector, tool and outcome",
      labelNames: ['connector', 'tool', 'outcome'],
      registers,
    });
    this.confirmationWait = new Histogram({
      name: 'interlock_confirmation_wait_seconds',
      help: `Time from a write pausing until a person decided (or it expired), over the last ${SCRAPE_WINDOW} confirmations`,
      labelNames: ['connector', 'tool', 'decision'],
      buckets: [1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
      registers,
    });
    this.runs = new Gauge({
      name: 'interlock_runs',
      help: `Runs by status (the last ${SCRAPE_WINDOW} runs)`,
      labelNames: ['status'],
      registers,
    });
    this.pending = new Gauge({ name: 'interlock_confirmations_pending', help: 'Writes waiting for a person now', registers });
    this.oldestPending = new Gauge({
      name: 'interlock_confirmation_oldest_pending_seconds',
      help: 'Age of the oldest write still waiting for a person',
      registers,
    });
    this.queueJobs = new Gauge({
      name: 'interlock_queue_jobs',
      help: 'Step jobs per connector queue and state',
      labelNames: ['queue', 'state'],
      registers,
    });
  }

  /** Hook for app.startWorkers({ onStepFinished }). */
  readonly onStepFinished = (i: StepFinished): void => {
    const labels = { connector: i.connector, tool: i.tool, outcome: i.ok ? 'ok' : 'error' };
    this.stepDuration.observe(labels, i.durationMs / 1000);
    this.steps.inc(labels);
  };

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text. Concurrent scrapes share one pass, since collecting resets the wait histogram. */
  scrape(): Promise<string> {
    this.scraping ??= this.collect()
      .then(() => this.registry.metrics())
      .finally(() => {
        this.scraping = undefined;
      });
    return this.scraping;
  }

  /** Reads what Redis knows into the gauges, right before they are rendered. */
  private async collect(): Promise<void> {
    const counts = await this.countRuns();
    for (const s of RUN_STATUSES) this.runs.set({ status: s }, counts.get(s) ?? 0);
    const confs = await this.recentConfirmations();
    const waiting = confs.filter((c) => c.status === 'pending');
    this.pending.set(waiting.length);
    this.oldestPending.set(waiting.length ? (Date.now() - Math.min(...waiting.map((c) => c.createdAt))) / 1000 : 0);
    // Rebuilt from the records each time: decisions made by the CLI or another process count too.
    this.confirmationWait.reset();
    for (const c of confs) {
      if (c.status === 'pending' || c.decidedAt === undefined) continue;
      this.confirmationWait.observe(
        { connector: c.connector, tool: c.tool, decision: c.status },
        Math.max(0, c.decidedAt - c.createdAt) / 1000,
      );
    }
    for (const id of stepQueueIds(this.svc.config())) {
      const jobs = await this.svc.queues.get(id).getJobCounts(...QUEUE_STATES);
      for (const st of QUEUE_STATES) this.queueJobs.set({ queue: id, state: st }, jobs[st] ?? 0);
    }
  }

  private async countRuns(): Promise<Map<RunStatus, number>> {
    const counts = new Map<RunStatus, number>();
    let cursor: number | undefined = 0;
    let seen = 0;
    while (cursor !== undefined && seen < SCRAPE_WINDOW) {
      const page: { runs: { status: RunStatus }[]; nextCursor?: number } = await this.svc.queries.listRuns({
        limit: 500,
        cursor,
      });
      for (const r of page.runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      seen += page.runs.length;
      cursor = page.runs.length === 0 ? undefined : page.nextCursor;
    }
    return counts;
  }

  private async recentConfirmations(): Promise<ConfirmationRecord[]> {
    const out: ConfirmationRecord[] = [];
    let cursor: number | undefined = 0;
    while (cursor !== undefined && out.length < SCRAPE_WINDOW) {
      const page: { confirmations: ConfirmationRecord[]; nextCursor?: number } = await this.svc.queries.listConfirmations({
        limit: 500,
        cursor,
      });
      out.push(...page.confirmations);
      cursor = page.nextCursor;
    }
    return out;
  }
}
