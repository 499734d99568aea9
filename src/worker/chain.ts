/**
 * Running a chain's next step in place: when a step commits and the next one is a call on a
 * connector this process serves, the job goes on to run it itself instead of ending and enqueueing
 * a job for it. On the connector whose queue the job came from it keeps the concurrency place it
 * already holds (one job, one call at a time); on another connector it takes one of that
 * connector's places (places.ts), if one is free at once. It takes the step's rate-limit slots as
 * any step does, and the commit of step k answers what step k+1 needs (commitStep-n.lua in place):
 * one Redis round trip between two steps.
 *
 * What stays as it was: every step is committed before the next one starts; the commit marks the
 * next step ready, naming this job as its holder, so a crash anywhere leaves the marker and the
 * holder job, which BullMQ hands back when its lock runs out, and whose next run (or the
 * reconciler) enqueues the marked step (see settle in execute.ts). The reconciler and the doctor
 * look the holder up in its own queue, the queue of the step its id names. A cancel between two
 * steps is seen in the run the commit answers.
 *
 * The job hands the chain to the queue, as a step ends today, when the next step is elsewhere
 * (a connector this process does not serve, or one with no free place, an llm step, a control-flow
 * step), when its time slice is used up and other jobs wait for a place (so one long run never
 * holds a place others wait for), when its lock could not be renewed, when the process shuts down,
 * and from inside a borrowed step, when the step would wait for a rate-limit slot beyond a short
 * wait, be retried, or be handed back (handOff).
 */
import type { Job } from 'bullmq';
import type { RunRecord } from '../runs/records.ts';
import type { StepDef, TemplateContext } from '../workflows/types.ts';
import { contextOf, refreshContext } from './flow/context.ts';
import type { StepDeps, StepJob } from './execute.ts';
import type { LoadedStep } from '../runs/store.ts';
import type { StepJobData } from './queues.ts';
import type { Release } from './places.ts';

/** INTERLOCK_CHAIN_SLICE_MS, default 1 s: how long one job may go on running its run's next steps; 0 turns it off. */
export function chainSliceMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.INTERLOCK_CHAIN_SLICE_MS;
  const v = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(v) && v >= 0 ? v : 1000;
}

export interface ChainOptions {
  sliceMs: number;
  /** whether BullMQ could not renew the job's lock: another worker may have it */
  lost: () => boolean;
  /** aborted when the process shuts down */
  stopping?: AbortSignal | undefined;
  /** whether jobs wait for a place in this job's queue or, for `connector`, for one of its places (asked once a slice is used up) */
  othersWaiting: (connector: string) => Promise<boolean>;
  /** a place of another connector this process serves, if one is free now (places.ts) */
  place?: (connector: string) => Release | undefined;
}

/** One job's license to run the steps after its own, and the step it took on last. */
export class Chain {
  readonly job: Job<StepJobData>;
  private until: number;
  private readonly o: ChainOptions;
  /** set by an in-place commit: the next step this job now holds, and what it needs */
  taken: { stepId: string; loaded: LoadedStep } | undefined;
  /** what templates see, kept from step to step (see context) */
  private view: { steps: RunRecord['steps']; ctx: TemplateContext; incremental: boolean } | undefined;
  /** the steps whose records changed since the context was last asked for */
  private changed: string[] = [];
  /** the place of another connector the job holds for the step it runs in place there */
  private borrowed: { connector: string; release: Release } | undefined;

  constructor(job: Job<StepJobData>, o: ChainOptions) {
    this.job = job;
    this.o = o;
    this.until = Date.now() + o.sliceMs;
  }

  /** An in-place commit of `committed` handed this job the next step, with what it needs. */
  took(committed: string, next: string, loaded: LoadedStep): void {
    this.taken = { stepId: next, loaded };
    this.changed.push(committed, next);
  }

  /**
   * What templates see for `run`, the run this job holds. Built once; while each in-place commit
   * updates that run's steps record (runs/parse.ts advanceRun), only the steps it changed are
   * looked at again, instead of a view of every step of a long chain at every step.
   */
  context(run: RunRecord): TemplateContext {
    let v = this.view;
    if (v?.incremental && v.steps === run.steps) refreshContext(v.ctx, run, this.changed);
    else {
      v = { steps: run.steps, ctx: contextOf(run), incremental: !run.definition.steps.some((s) => s.kind === 'parallel') };
      this.view = v;
    }
    this.changed = [];
    return v.ctx;
  }

  /**
   * Whether this job may run `step` in place once the step before it commits. A slice used up
   * hands the run to the back of the queue only when other jobs wait there for a place: with
   * nobody waiting, nobody is held up, and the job takes another slice.
   */
  async accepts(step: StepDef | undefined): Promise<boolean> {
    if (step?.kind !== 'call' || this.job.id === undefined || this.o.lost() || this.o.stopping?.aborted) return this.refuse();
    if (Date.now() >= this.until) {
      if (await this.o.othersWaiting(step.connector)) return this.refuse();
      this.until = Date.now() + this.o.sliceMs;
    }
    return this.placeFor(step.connector);
  }

  /**
   * The job's own queue's place is the one the job holds; a step on another connector needs one of
   * that connector's places, taken now or not at all. The call before it has answered when this is
   * asked, so a place held for it is let go first.
   */
  private placeFor(connector: string): boolean {
    if (connector === this.job.queueName) {
      this.release();
      return true;
    }
    if (this.borrowed?.connector === connector) return true;
    this.release();
    const release = this.o.place?.(connector);
    if (!release) return false;
    this.borrowed = { connector, release };
    return true;
  }

  private refuse(): false {
    this.release();
    return false;
  }

  /** Lets go of the place of another connector this job holds, if any: when it stops running steps in place, or moves on. */
  release(): void {
    this.borrowed?.release();
    this.borrowed = undefined;
  }
}

/**
 * A step this job took on in place goes to a job of its own, generation '0' (the one its ready
 * marker names): for a rate-limit wait, a retry (`priorAttempts` say how many it used here), a
 * shutdown, or a position that is not this job's to settle.
 */
export async function handOff(
  d: StepDeps,
  j: StepJob,
  why: string,
  o: { delayMs?: number; undeliveredAttempt?: number; priorAttempts?: number } = {},
): Promise<string> {
  await d.queues.enqueue(j.run.definition, j.run.id, j.run.session, j.step.id, '0', o.delayMs ?? 0, {
    ...(o.undeliveredAttempt !== undefined ? { undeliveredAttempt: o.undeliveredAttempt } : {}),
    ...(o.priorAttempts ? { priorAttempts: o.priorAttempts } : {}),
  });
  return `handed off: ${why}`;
}
