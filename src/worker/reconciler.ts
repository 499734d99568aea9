import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RunStore } from '../runs/store.ts';
import { Doctor, type FindingKind, holderOf } from './doctor.ts';
import { queueOfJob, stepJobId, type StepQueues } from './queues.ts';

export interface ReconcilerOptions {
  store: RunStore;
  queues: StepQueues;
  logger: Logger;
  /** how often a pass runs (default INTERLOCK_RECONCILE_EVERY_MS or 5 s) */
  everyMs?: number;
}

/** A marker younger than this is left to the fast path, whose enqueue is on its way. */
export const READY_GRACE_MS = 1000;
/** A marker whose job is there is looked at again only after this long. */
const RECHECK_MS = 30_000;
const BATCH = 500;
/** runs of the runs index examined per pass for index drift */
const SCAN_BATCH = 200;
/** what a pass repairs on its own; the rest is for `interlock doctor` */
const SCAN_REPAIRS: ReadonlySet<FindingKind> = new Set([
  'confirmation_not_indexed',
  'confirmation_overdue',
  'ready_stale',
  'blocked_tool_approved',
]);

export function reconcileEveryMs(): number {
  const v = Number(process.env.INTERLOCK_RECONCILE_EVERY_MS ?? 5000);
  return Number.isFinite(v) && v > 0 ? v : 5000;
}

/**
 * The other half of the ready markers (includes/ready.lua): every worker process runs one, on
 * start and then every `everyMs`, one process at a time through a lock in Redis. A pass enqueues
 * the job of every step marked ready more than READY_GRACE_MS ago that has none, with the job id
 * the fast path would have used (so an enqueue that did happen is not doubled); drops index
 * entries whose marker is gone; and walks a slice of the runs index for drift a crash in an earlier
 * version could leave (a pending confirmation missing from its index, one past its deadline).
 * So a step left by a crash between its marker and its enqueue waits at most everyMs +
 * READY_GRACE_MS once any worker runs (plus the lock's TTL if a reconciler died mid-pass).
 */
export class Reconciler {
  private readonly o: ReconcilerOptions;
  private readonly doctor: Doctor;
  readonly everyMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private scanAt = 0;

  constructor(o: ReconcilerOptions) {
    this.o = o;
    this.everyMs = o.everyMs ?? reconcileEveryMs();
    this.doctor = new Doctor({ store: o.store, queues: o.queues, boundMs: this.everyMs + READY_GRACE_MS });
  }

  /** The longest a ready step waits for its job once a worker runs, lock hand-over aside. */
  get boundMs(): number {
    return this.everyMs + READY_GRACE_MS;
  }

  start(): this {
    const tick = () => {
      if (this.running) return;
      this.running = this.pass()
        .catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'reconciler pass failed'))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.everyMs);
    this.timer.unref();
    return this;
  }

  /** Stops the timer. A pass under way is not waited for: it may be abandoned anywhere (its lock expires), and waiting could hold up a shutdown while Redis does not answer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass, if no other process is running one; what it did. */
  async pass(now = Date.now()): Promise<{ enqueued: string[]; dropped: number; repaired: string[] } | undefined> {
    const { store } = this.o;
    const token = randomUUID();
    if (!(await store.ready.takeLock(token, Math.max(2 * this.everyMs, 10_000)))) return undefined;
    try {
      const enqueued: string[] = [];
      let dropped = 0;
      for (const e of await store.ready.entries(now - READY_GRACE_MS, BATCH)) {
        const r = await this.reconcileEntry(e.runId, e.score, now);
        if (r === 'dropped') dropped++;
        else if (r) enqueued.push(r);
      }
      const repaired = await this.scan();
      if (enqueued.length)
        this.o.logger.warn({ jobs: enqueued }, `reconciler: enqueued ${enqueued.length} ready step(s) that had no job`);
      if (repaired.length) this.o.logger.warn({ repaired }, `reconciler: repaired ${repaired.length} run(s)`);
      return { enqueued, dropped, repaired };
    } finally {
      await store.ready.releaseLock(token);
    }
  }

  /** The job id enqueued, 'dropped', or undefined when the step has its job. */
  private async reconcileEntry(runId: string, score: string, now: number): Promise<string | 'dropped' | undefined> {
    const { store, queues } = this.o;
    const got = await store.getRunHash(runId);
    const marker = got && store.ready.marker(got.run, got.hash);
    if (!got || !marker) return (await store.ready.dropEntry(runId, score)) ? 'dropped' : undefined;
    const { run } = got;
    const st = run.steps[marker.stepId]?.status;
    if ((run.status !== 'queued' && run.status !== 'running') || (st !== 'pending' && st !== 'running')) {
      return (await store.ready.drop(marker)) ? 'dropped' : undefined;
    }
    const step = run.definition.steps.find((s) => s.id === marker.stepId);
    if (!step) return (await store.ready.drop(marker)) ? 'dropped' : undefined;
    const jobId = stepJobId(runId, marker.stepId, marker.generation);
    // No job, and the marker still there after looking: a job that ran and was removed meanwhile
    // took the marker with it. With its job id, an enqueue that raced this one is the same job.
    // A job that runs the step in place of its own (chain.ts) is named in the marker: while it is
    // there, it holds the step (a crash leaves it to BullMQ's stall check, and its next run goes on).
    const q = queues.get(step.connector);
    const held = async () => {
      const [holder] = holderOf(runId, got.hash);
      if (holder === undefined || holder === jobId) return false;
      // The holder is a job of its own step's queue, which may be another connector's (chain.ts).
      const hq = queues.get(queueOfJob(run.definition, runId, holder) ?? step.connector);
      return !['unknown', 'completed', 'failed'].includes(await hq.getJobState(holder));
    };
    const lost = !(await q.getJob(jobId)) && !(await held()) && (await store.ready.still(marker));
    if (lost) await queues.enqueue(run.definition, runId, run.session, marker.stepId, marker.generation);
    await store.ready.defer(runId, now + RECHECK_MS);
    return lost ? jobId : undefined;
  }

  /** A slice of the runs index per pass, for drift an earlier version or a hand could leave. */
  private async scan(): Promise<string[]> {
    // Small batches with a turn of the event loop between them: this runs beside the steps of its process.
    const r = await this.doctor.examine({
      offset: this.scanAt,
      limit: SCAN_BATCH,
      kinds: SCAN_REPAIRS,
      batch: 10,
      yielding: true,
    });
    this.scanAt = r.next ?? 0;
    const out: string[] = [];
    for (const f of r.findings) out.push(`${f.runId} ${f.kind}: ${await this.doctor.repair(f)}`);
    return out;
  }
}
