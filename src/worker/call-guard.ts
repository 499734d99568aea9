/** Why a guarded call was stopped before it answered. */
export type StopReason = 'hand_back' | 'cancelled';

export interface CallGuardOptions {
  /** aborted when this process shuts down and hands its unfinished steps back to the queue */
  handBack?: AbortSignal;
  /**
   * Whether stopping the call midway is safe: a read, or a write that honours the idempotency
   * key (it is resent with the same key). A plain write in flight is always waited for, since
   * stopping it would leave it in doubt for nothing.
   */
  interruptible: boolean;
  /** whether the run's cancellation may stop the call: reads only, so a write's outcome is always recorded */
  cancellable: boolean;
  /** the run's current status; polled while the call runs when `cancellable` */
  runStatus?: () => Promise<string | undefined>;
  pollMs?: number;
}

/**
 * One AbortSignal for a tool call that fires when the worker hands its steps back or the run is
 * cancelled from anywhere (another process, the API), and remembers which of the two it was.
 * The step timeout is the pool's own (timeoutMs), so it is not repeated here.
 */
export class CallGuard {
  readonly signal: AbortSignal | undefined;
  reason: StopReason | undefined;
  private readonly ctl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onHandBack = () => this.stop('hand_back');
  private readonly handBack: AbortSignal | undefined;

  constructor(o: CallGuardOptions) {
    this.handBack = o.interruptible ? o.handBack : undefined;
    const watchRun = o.cancellable && o.runStatus;
    this.signal = this.handBack || watchRun ? this.ctl.signal : undefined;
    if (this.handBack) {
      if (this.handBack.aborted) this.stop('hand_back');
      else this.handBack.addEventListener('abort', this.onHandBack, { once: true });
    }
    if (watchRun) {
      const poll = async () => {
        try {
          if ((await watchRun()) === 'cancelled') this.stop('cancelled');
        } catch {
          // Redis unreachable for a moment: keep calling, look again next round.
        }
        if (!this.ctl.signal.aborted && this.timer) this.timer = setTimeout(() => void poll(), o.pollMs ?? 1000).unref();
      };
      this.timer = setTimeout(() => void poll(), o.pollMs ?? 1000).unref();
    }
  }

  private stop(reason: StopReason): void {
    if (this.ctl.signal.aborted) return;
    this.reason = reason;
    this.ctl.abort(
      new Error(reason === 'hand_back' ? 'the worker is shutting down and hands this step back' : 'the run was cancelled'),
    );
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.handBack?.removeEventListener('abort', this.onHandBack);
  }
}
