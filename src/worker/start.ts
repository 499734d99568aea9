import type { RunStore } from '../runs/store.ts';

export type StartResult = Awaited<ReturnType<RunStore['startStep']>>;

/**
 * The one `step.started` of a call, sent at most once. A write records its intent before
 * anything is sent (`intent`); a read is marked started only if it is still calling after a
 * moment (`after`), so a long read shows running and can be cancelled, while a read that answers
 * sooner is started by its commit (`begun` false, `data` goes along), one command fewer.
 */
export class StepStart {
  private started: Promise<StartResult> | undefined;
  private timer: NodeJS.Timeout | undefined;

  private readonly store: RunStore;
  private readonly runId: string;
  private readonly stepId: string;
  readonly data: Record<string, unknown>;

  constructor(store: RunStore, runId: string, stepId: string, data: Record<string, unknown>) {
    this.store = store;
    this.runId = runId;
    this.stepId = stepId;
    this.data = data;
  }

  /** `seenAttempts`: the attempts the plan saw; another job that started the step since wins (see startStep-n.lua). */
  intent(seenAttempts: number): Promise<StartResult> {
    this.started = this.store.startStep(this.runId, this.stepId, this.data, true, seenAttempts);
    return this.started;
  }

  after(ms: number): void {
    this.timer = setTimeout(() => void this.now(), ms);
  }

  /** The start already sent, or a read's start sent now. */
  now(): Promise<StartResult> {
    this.stopTimer();
    this.started ??= this.store.startStep(this.runId, this.stepId, this.data, false);
    return this.started;
  }

  stopTimer(): void {
    clearTimeout(this.timer);
  }

  /** whether the start went out (a write's intent, or a read's timer): its outcome decides whether the output may be committed */
  get begun(): boolean {
    return this.started !== undefined;
  }
}

export function notStarted(s: Extract<StartResult, { ok: false }>): string {
  return `not started: ${s.reason} ${s.status}`;
}
