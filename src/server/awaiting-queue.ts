import { BaseAdapter } from '@bull-board/api/dist/queueAdapters/base.js';
import type {
  AppJobScheduler,
  JobCounts,
  JobSchedulerUpdateResult,
  JobStatus,
  QueueJob,
  QueueJobJson,
  QueueMetrics,
  Status,
} from '@bull-board/api/dist/types.js';
import { InterlockError } from '../errors.ts';
import type { ConfirmationRecord } from '../runs/records.ts';
import type { RunQueries } from './services.ts';

export const AWAITING_QUEUE_NAME = 'awaiting-confirmation';

/**
 * A read-only bull-board "queue" whose jobs are the pending confirmations.
 *
 * A step paused at a write holds no BullMQ job by design (the run is keys in Redis until someone
 * decides), so on the real connector queues it would look like nothing is happening. This view
 * lists each paused step as a waiting job, with the whole payload as its data, read straight from
 * the run store on every poll: there is no second copy to keep in sync. Every mutating action
 * refuses; decisions are made on /ui or through the API, bound to the argumentsHash.
 */
export class AwaitingConfirmationAdapter extends BaseAdapter {
  private readonly store: RunQueries;
  private readonly uiBase: string;

  constructor(store: RunQueries, opts: { uiBase: string }) {
    super('bullmq', {
      readOnlyMode: true,
      allowRetries: false,
      displayName: 'awaiting confirmation (steps paused at a write)',
      description:
        'Each job here is a step waiting for a person to approve or deny its exact payload. Decide on /ui/confirmations.',
      externalJobUrl: (job: QueueJobJson) => ({
        displayText: 'Decide on /ui',
        href: `${opts.uiBase}/confirmations/${encodeURIComponent(String(job.id))}`,
      }),
    });
    this.store = store;
    this.uiBase = opts.uiBase;
  }

  getName(): string {
    return AWAITING_QUEUE_NAME;
  }

  getStatuses(): Status[] {
    return ['latest', 'waiting'];
  }

  getJobStatuses(): JobStatus[] {
    return ['waiting'];
  }

  async getJobCounts(): Promise<JobCounts> {
    const pending = await this.pending(0, 10_000);
    return { waiting: pending.length };
  }

  async getJobs(statuses: JobStatus[], start = 0, end = 49): Promise<QueueJob[]> {
    if (!statuses.includes('waiting')) return [];
    return (await this.pending(start, end - start + 1)).map((c) => confirmationJob(c, this.uiBase));
  }

  async getJob(id: string): Promise<QueueJob | undefined> {
    const c = await this.store.getConfirmation(id);
    return c && c.status === 'pending' ? confirmationJob(c, this.uiBase) : undefined;
  }

  private async pending(offset: number, limit: number): Promise<ConfirmationRecord[]> {
    const out: ConfirmationRecord[] = [];
    let cursor: number | undefined = offset;
    while (cursor !== undefined && out.length < limit) {
      const page: { confirmations: ConfirmationRecord[]; nextCursor?: number } = await this.store.listConfirmations({
        status: 'pending',
        limit: Math.min(500, limit - out.length),
        cursor,
      });
      out.push(...page.confirmations);
      cursor = page.nextCursor;
    }
    return out;
  }

  async getJobLogs(): Promise<string[]> {
    return [];
  }

  async getMetrics(): Promise<QueueMetrics> {
    return { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [], count: 0 };
  }

  async getRedisInfo(): Promise<string | null> {
    return null;
  }

  async isPaused(): Promise<boolean> {
    return false;
  }

  async getGlobalConcurrency(): Promise<number | null> {
    return null;
  }

  async getJobSchedulers(): Promise<Omit<AppJobScheduler, 'queueName'>[]> {
    return [];
  }

  async getJobSchedulersCount(): Promise<number> {
    return 0;
  }

  // Everything below would change state; this view only shows it.
  clean(): Promise<void> {
    return refuse();
  }
  addJob(): Promise<QueueJob> {
    return refuse();
  }
  pause(): Promise<void> {
    return refuse();
  }
  resume(): Promise<void> {
    return refuse();
  }
  empty(): Promise<void> {
    return refuse();
  }
  obliterate(): Promise<void> {
    return refuse();
  }
  promoteAll(): Promise<void> {
    return refuse();
  }
  removeJobScheduler(): Promise<boolean> {
    return refuse();
  }
  updateJobScheduler(): Promise<JobSchedulerUpdateResult> {
    return refuse();
  }
  runJobSchedulerNow(): Promise<QueueJob | 'not-found'> {
    return refuse();
  }
  setGlobalConcurrency(): Promise<void> {
    return refuse();
  }
}

function refuse(): Promise<never> {
  return Promise.reject(
    new InterlockError('FORBIDDEN', 'Confirmations are decided on /ui or with POST /api/v1/confirmations/{id}/approve|deny'),
  );
}

function confirmationJob(c: ConfirmationRecord, uiBase: string): QueueJob {
  const json: QueueJobJson = {
    id: c.id,
    name: `${c.workflow}.${c.stepId} → ${c.connector}.${c.tool} (awaiting confirmation)`,
    progress: 0,
    attemptsMade: 0,
    timestamp: c.createdAt,
    failedReason: '',
    stacktrace: null,
    data: {
      waitingFor: 'a person to approve or deny this exact payload',
      decideAt: `${uiBase}/confirmations/${c.id}`,
      runId: c.runId,
      session: c.session,
      connector: c.connector,
      tool: c.tool,
      title: c.title,
      description: c.description,
      annotations: c.annotations,
      arguments: c.arguments,
      argumentsHash: c.argumentsHash,
      outputSchema: c.outputSchema,
      expiresAt: new Date(c.expiresAt).toISOString(),
    },
    returnvalue: null,
    opts: { attempts: 1 },
  };
  return {
    opts: {},
    toJSON: () => json,
    getState: async () => 'waiting',
    promote: refuse,
    remove: refuse,
    retry: refuse,
  };
}
