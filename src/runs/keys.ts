/**
 * The only place that knows the shape of Interlock's Redis keys. Everything of one run lives
 * under one hash tag `{runId}` so each transition script touches a single Redis Cluster slot.
 * Indexes (`runs`, `confirmations:pending`) live in their own slots and are updated beside the
 * transition, never inside it.
 */
export class Keys {
  readonly prefix: string;
  constructor(prefix = 'il') {
    this.prefix = prefix;
  }
  run(runId: string): string {
    return `${this.prefix}:run:{${runId}}`;
  }
  events(runId: string): string {
    return `${this.prefix}:run:{${runId}}:events`;
  }
  /** zset runId → createdAt */
  runsIndex(): string {
    return `${this.prefix}:runs`;
  }
  /** zset confirmationId → expiresAt, pending ones only */
  pendingConfirmations(): string {
    return `${this.prefix}:confirmations:pending`;
  }
  /** zset confirmationId → createdAt, every confirmation ever opened */
  confirmationsIndex(): string {
    return `${this.prefix}:confirmations`;
  }
  grants(session: string): string {
    return `${this.prefix}:session:{${session}}:grants`;
  }
  triggerIdempotency(key: string): string {
    return `${this.prefix}:idem:${key}`;
  }
  /**
   * sliding-window rate limit, zset of slot → time taken: of every call of one connector, or with
   * `part`, of some of its calls (one tool, one argument value). Every window of a connector shares
   * its hash tag, so one script can take a slot in all that apply to a call.
   */
  rateLimit(name: string, part = ''): string {
    return `${this.prefix}:rate:{${name}}${part ? `:${part}` : ''}`;
  }
  /** per-tool enabled/disabled toggles, hash `connector.tool` → '0' | '1' */
  toolToggles(): string {
    return `${this.prefix}:tools:enabled`;
  }
  /** hash `connector.tool` → ToolPin (JSON): the definition an admin accepted, or the first one seen */
  toolPins(): string {
    return `${this.prefix}:tools:pins`;
  }
  /** hash `connector.tool` → ToolPin (JSON): a definition that differs from the pin, awaiting review */
  toolChanges(): string {
    return `${this.prefix}:tools:changes`;
  }
  /** set of `runId/stepId` paused because this tool changed; resumed when it is approved */
  toolWaiting(toolKey: string): string {
    return `${this.prefix}:tools:waiting:${toolKey}`;
  }
}

/** Field names inside a run hash. */
export const F = {
  stepStatus: (s: string) => `s:${s}:status`,
  stepAttempts: (s: string) => `s:${s}:attempts`,
  stepResult: (s: string) => `s:${s}:result`,
  stepApproved: (s: string) => `s:${s}:approved`,
  stepConf: (s: string) => `s:${s}:conf`,
  stepIntent: (s: string) => `s:${s}:intent`,
  conf: (c: string) => `c:${c}`,
  confStatus: (c: string) => `c:${c}:status`,
  confDecision: (c: string) => `c:${c}:decision`,
};

/**
 * Run ids carry no underscore so a confirmation id `c_<runId>_<n>` names its run and the
 * confirmation can be found without a second index.
 */
export function newRunId(): string {
  const t = Date.now().toString(36);
  const r = Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => (b % 36).toString(36)).join('');
  return `r${t}${r}`;
}

export function confirmationId(runId: string, seq: number): string {
  return `c_${runId}_${seq}`;
}

export function runIdOfConfirmation(cid: string): string | undefined {
  const m = /^c_(r[0-9a-z]+)_\d+$/.exec(cid);
  return m ? m[1] : undefined;
}
