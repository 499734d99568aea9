import { setImmediate } from 'node:timers/promises';
import { F, runIdOfConfirmation } from '../runs/keys.ts';
import { TERMINAL_RUN_STATUSES, type RunRecord, type RunStatus } from '../runs/records.ts';
import type { RunStore } from '../runs/store.ts';
import { examineBlocked, unblockRun } from './doctor-blocked.ts';
import { queueOfJob, stepJobId, type StepQueues } from './queues.ts';

/** What `interlock doctor` knows to look for; see docs/recovery.md. */
export type FindingKind =
  | 'ready_without_job'
  | 'ready_stale'
  | 'no_job'
  | 'confirmation_not_indexed'
  | 'confirmation_overdue'
  | 'awaiting_without_confirmation'
  | 'blocked_tool_approved'
  | 'connector_login_required'
  | 'blocked_login_done'
  | 'in_doubt_too_long';

export interface Finding {
  runId: string;
  stepId?: string;
  kind: FindingKind;
  /** why the run is stuck, in words */
  why: string;
  /** what --repair does about it; absent when a person must decide */
  repair?: string;
  /** after a repair: what was done */
  repaired?: string;
}

export interface DoctorOptions {
  store: RunStore;
  queues: StepQueues;
  /** how long a hand-off may take before a run without a job counts as stuck (the reconciler's bound) */
  boundMs: number;
  /** a step in doubt longer than this is reported (default 1 h) */
  inDoubtAfterMs?: number;
}

/** BullMQ states in which a job will still run (or is running). */
const LIVE = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

const IN_DOUBT_AFTER_MS = 3_600_000;

/**
 * Finds runs stuck by any rule it knows, each finding naming the run and why, and repairs what
 * can be repaired without guessing: a step is enqueued again only through its ready marker (the
 * step job decides, as after any crash, between running, resending with the same idempotency key
 * and in doubt), an index entry is written again, an overdue confirmation expires. A step in doubt
 * is only reported: whether the write happened is for a person to find out.
 */
export class Doctor {
  private readonly o: DoctorOptions;
  constructor(o: DoctorOptions) {
    this.o = o;
  }

  /**
   * Examines up to `limit` runs of the runs index, newest first, from `offset`, `batch` at a time
   * (50 by default). `yielding`: the event loop gets a turn between two batches, for a pass that
   * runs beside steps in a worker (the reconciler's scan), so reading and parsing runs never holds
   * a step up for more than a batch's worth.
   */
  async examine(
    opts: { offset?: number; limit?: number; kinds?: ReadonlySet<FindingKind>; batch?: number; yielding?: boolean } = {},
  ): Promise<{ checked: number; findings: Finding[]; next?: number }> {
    const offset = opts.offset ?? 0;
    const limit = opts.limit ?? 10_000;
    const batch = Math.max(1, opts.batch ?? 50);
    const ids = await this.o.store.redis.zrevrange(this.o.store.keys.runsIndex(), offset, offset + limit - 1);
    const findings: Finding[] = [];
    for (let i = 0; i < ids.length; i += batch) {
      if (opts.yielding && i > 0) await setImmediate();
      const found = await Promise.all(ids.slice(i, i + batch).map((id) => this.examineRun(id)));
      for (const f of found.flat()) if (!opts.kinds || opts.kinds.has(f.kind)) findings.push(f);
    }
    return { checked: ids.length, findings, ...(ids.length === limit ? { next: offset + limit } : {}) };
  }

  async examineRun(runId: string, now = Date.now()): Promise<Finding[]> {
    const got = (await this.nothingToFind(runId)) ? undefined : await this.o.store.getRunHash(runId);
    if (!got) return [];
    const { run, hash } = got;
    const moving = run.status === 'queued' || run.status === 'running';
    const marker = this.o.store.ready.marker(run, hash);
    if (marker) {
      const st = run.steps[marker.stepId]?.status;
      if (!moving || (st !== 'pending' && st !== 'running')) {
        return [
          {
            runId,
            stepId: marker.stepId,
            kind: 'ready_stale',
            why: `ready marker for step ${marker.stepId}, but the run is ${run.status} and the step ${st ?? 'unknown'}`,
            repair: 'clear the marker',
          },
        ];
      }
      if (
        now - marker.at > this.o.boundMs &&
        !(await this.jobLive(run, marker.stepId, [stepJobId(runId, marker.stepId, marker.generation), ...holderOf(run.id, hash)]))
      ) {
        return [
          {
            runId,
            stepId: marker.stepId,
            kind: 'ready_without_job',
            why: `step ${marker.stepId} was marked ready ${ago(now, marker.at)} and has no job`,
            repair: 'enqueue its job',
          },
        ];
      }
      return [];
    }
    if (moving) {
      const step = run.definition.steps.find((s) => !['succeeded', 'skipped'].includes(run.steps[s.id]?.status ?? 'pending'));
      const st = step ? run.steps[step.id]?.status : undefined;
      if (!step || (st !== 'pending' && st !== 'running') || now - run.updatedAt <= this.o.boundMs) return [];
      const candidates = [
        hash[F.job],
        stepJobId(runId, step.id, '0'),
        hash[F.stepConf(step.id)] && stepJobId(runId, step.id, hash[F.stepConf(step.id)]),
        // A job that runs the step in place of its own names it in `job` (worker/chain.ts).
      ].filter((x): x is string => !!x && x.startsWith(`${runId}.`));
      if (await this.jobLive(run, step.id, candidates)) return [];
      return [
        {
          runId,
          stepId: step.id,
          kind: 'no_job',
          why: `run ${run.status} at step ${step.id} (${st}) since ${ago(now, run.updatedAt)}, with no job and nothing marked ready`,
          repair: 'mark the step ready and enqueue it',
        },
      ];
    }
    if (run.status === 'awaiting_confirmation') return this.examinePaused(run, now);
    if (run.status === 'needs_attention') return this.examineAttention(run, now);
    return [];
  }

  /**
   * Most runs have ended, and an ended run without a ready marker has nothing to find: two fields
   * tell, instead of the whole hash read and every step parsed (the reconciler's scan walks 200
   * runs every few seconds, and a hundred-step run's hash is large).
   */
  private async nothingToFind(runId: string): Promise<boolean> {
    const [status, ready] = await this.o.store.redis.hmget(this.o.store.keys.run(runId), 'status', F.ready);
    return !ready && (status === null || TERMINAL_RUN_STATUSES.has(status as RunStatus));
  }

  private async examinePaused(run: RunRecord, now: number): Promise<Finding[]> {
    const waiting = Object.values(run.steps).filter((s) => s.status === 'awaiting_confirmation');
    const out: Finding[] = [];
    for (const s of waiting) {
      const conf = s.confirmationId ? await this.o.store.getConfirmation(s.confirmationId) : undefined;
      if (conf?.status !== 'pending') {
        out.push({
          runId: run.id,
          stepId: s.id,
          kind: 'awaiting_without_confirmation',
          why: `step ${s.id} awaits a confirmation, but ${conf ? `${conf.id} is ${conf.status}` : 'none is recorded'}; cancel the run`,
        });
        continue;
      }
      if (conf.expiresAt < now - this.o.boundMs) {
        out.push({
          runId: run.id,
          stepId: s.id,
          kind: 'confirmation_overdue',
          why: `confirmation ${conf.id} expired ${ago(now, conf.expiresAt)} and is still pending`,
          repair: 'expire it (the run fails, the tool is not called)',
        });
      } else if (!(await this.o.store.pendingIndexed(conf.id))) {
        out.push({
          runId: run.id,
          stepId: s.id,
          kind: 'confirmation_not_indexed',
          why: `confirmation ${conf.id} is pending but missing from the pending list, so nobody sees it and it never expires`,
          repair: 'put it back in the pending list',
        });
      }
    }
    return out;
  }

  private async examineAttention(run: RunRecord, now: number): Promise<Finding[]> {
    const out: Finding[] = [];
    const after = this.o.inDoubtAfterMs ?? IN_DOUBT_AFTER_MS;
    for (const s of Object.values(run.steps)) {
      if (s.status === 'in_doubt' && now - run.updatedAt > after) {
        out.push({
          runId: run.id,
          stepId: s.id,
          kind: 'in_doubt_too_long',
          why:
            `step ${s.id} has been in doubt for ${ago(now, run.updatedAt).replace(' ago', '')}: check whether the write happened, ` +
            `then interlock resolve ${run.id} ${s.id} --retry | --done-output <json> | --fail`,
        });
      }
    }
    out.push(...(await examineBlocked(this.o.store, run, now, this.o.boundMs)));
    return out;
  }

  /** Whether any of the jobs will still run the step. */
  private async jobLive(run: RunRecord, stepId: string, jobIds: string[]): Promise<boolean> {
    const step = run.definition.steps.find((s) => s.id === stepId);
    if (!step) return false;
    for (const id of new Set(jobIds)) {
      // A holder that runs the step in place may be a job of another connector's queue (chain.ts).
      const q = this.o.queues.get(queueOfJob(run.definition, run.id, id) ?? step.connector);
      const job = await q.getJob(id);
      if (job && LIVE.has(await job.getState())) return true;
    }
    return false;
  }

  /** Repairs one finding, if it can be repaired; says what was done. */
  async repair(f: Finding): Promise<string> {
    const { store, queues } = this.o;
    const got = await store.getRunHash(f.runId);
    if (!got) return 'the run is gone';
    const { run, hash } = got;
    switch (f.kind) {
      case 'ready_stale': {
        const m = store.ready.marker(run, hash);
        return m && (await store.ready.drop(m)) ? 'marker cleared' : 'the marker changed meanwhile; left alone';
      }
      case 'ready_without_job': {
        const m = store.ready.marker(run, hash);
        if (!m) return 'no marker any more; left alone';
        if (await this.jobLive(run, m.stepId, [stepJobId(run.id, m.stepId, m.generation), ...holderOf(run.id, hash)]))
          return 'its job is there now; left alone';
        if (!(await store.ready.still(m))) return 'the step was taken meanwhile; left alone';
        await queues.enqueue(run.definition, run.id, run.session, m.stepId, m.generation);
        return `enqueued ${stepJobId(run.id, m.stepId, m.generation)}`;
      }
      case 'no_job': {
        if (!f.stepId) return 'no step';
        const generation = `repair-${Date.now()}`;
        const r = await store.ready.mark(run.id, f.stepId, generation, 'interlock doctor --repair: no job and nothing ready');
        if (r !== 'ok') return `left alone (${r})`;
        await queues.enqueue(run.definition, run.id, run.session, f.stepId, generation);
        return `marked ready and enqueued ${stepJobId(run.id, f.stepId, generation)}`;
      }
      case 'confirmation_not_indexed': {
        const cid = f.stepId ? run.steps[f.stepId]?.confirmationId : undefined;
        const conf = cid ? await store.getConfirmation(cid) : undefined;
        if (conf?.status !== 'pending') return 'no longer pending; left alone';
        await store.indexPendingConfirmation(conf.id, conf.expiresAt);
        return `${conf.id} is in the pending list again`;
      }
      case 'confirmation_overdue': {
        const cid = f.stepId ? run.steps[f.stepId]?.confirmationId : undefined;
        if (!cid || runIdOfConfirmation(cid) !== run.id) return 'no confirmation';
        const r = await store.decide(cid, 'expire', { by: 'interlock doctor' });
        return r.outcome === 'expired' ? `${cid} expired; the run failed` : `left alone (${r.outcome})`;
      }
      case 'blocked_tool_approved':
      case 'blocked_login_done':
        return unblockRun(store, queues, run, f);
      default:
        return 'needs a person';
    }
  }
}

function ago(now: number, t: number): string {
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

export interface Diagnosis {
  checked: number;
  findings: Finding[];
}

/**
 * Every run of the runs index examined (as `interlock doctor` and GET /api/v1/doctor do), and
 * with `repair`, each finding that can be repaired repaired. `boundMs` is the reconciler's bound:
 * a hand-off younger than that is left to it.
 */
export async function diagnose(
  store: RunStore,
  queues: StepQueues,
  opts: { repair?: boolean; boundMs: number },
): Promise<Diagnosis> {
  const doctor = new Doctor({ store, queues, boundMs: opts.boundMs });
  const out: Diagnosis = { checked: 0, findings: [] };
  let offset: number | undefined = 0;
  while (offset !== undefined) {
    const r = await doctor.examine({ offset, limit: 1000 });
    out.checked += r.checked;
    out.findings.push(...r.findings);
    offset = r.next;
  }
  if (opts.repair) for (const f of out.findings) if (f.repair) f.repaired = await doctor.repair(f);
  return out;
}

/**
 * The job a ready marker names as its holder: a job running the run's steps in place of their own
 * (worker/chain.ts), in the queue of its own step (queueOfJob), which picks the step up while it lives.
 */
export function holderOf(runId: string, hash: Record<string, string>): string[] {
  const id = hash[F.job];
  return id?.startsWith(`${runId}.`) ? [id] : [];
}
