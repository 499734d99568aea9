/**
 * The only place that knows the shape of Interlock's Redis keys. On a Redis Cluster every key of one
 * multi-key script or MULTI must hash to one slot, so keys that change together share a hash tag:
 *  - everything of one run lives under `{runId}`, so each transition script touches one slot and
 *    runs spread over the masters;
 *  - the pending-confirmations index is `{confirmations}`;
 *  - the tool keys (pins and their pending changes, changed by one script, plus toggles and waiting
 *    runs) share `{tools}`.
 * The runs index, the ready index, grants, idempotency keys and rate limits each have a slot of
 * their own. On a single Redis the run scripts write the indexes beside the run, in one script; on a
 * cluster they are written on their own, before the run (see includes/ready.lua). Queue keys are BullMQ's; see queuePrefix in worker/queues.ts.
 * A prefix with a hash tag of its own (`{il}`) puts every key in that one slot instead.
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
  /**
   * A workflow definition as runs pinned it, written once per version (the version is a hash of
   * its content) and never changed: runs name it instead of each carrying a copy.
   */
  definition(workflow: string, version: string): string {
    return `${this.prefix}:def:${workflow}@${version}`;
  }
  /** zset runId → createdAt */
  runsIndex(): string {
    return `${this.prefix}:runs`;
  }
  /** zset confirmationId → expiresAt, pending ones only */
  pendingConfirmations(): string {
    return `${this.prefix}:{confirmations}:pending`;
  }
  /**
   * zset runId → when a step of the run was marked ready: the reconciler's work list (see
   * includes/ready.lua). The marker itself is in the run hash.
   */
  readyIndex(): string {
    return `${this.prefix}:ready`;
  }
  /** held by the one process whose reconciler is running a pass */
  reconcileLock(): string {
    return `${this.prefix}:reconcile:lock`;
  }
  /** stream of every decision on a write, for the whole deployment (see audit.ts) */
  audit(): string {
    return `${this.prefix}:audit`;
  }
  /**
   * The built-in OAuth authorization server's records (oidc-provider models: sessions, codes,
   * grants, registered clients, …) and its index of what each grant issued. One hash tag for all,
   * so a revocation that touches several is one MULTI on a cluster too; a small deployment's
   * authorization server is not where load goes.
   */
  authServer(kind: string, id: string): string {
    return `${this.prefix}:as:{oauth}:${kind}:${id}`;
  }
  /** hash of the session's grants (see runs/grant-parse.ts for its fields) */
  grants(session: string): string {
    return `${this.prefix}:session:{${session}}:grants`;
  }
  /** list of one grant's uses, in the session's slot so a use is counted with its decision */
  grantUses(session: string, grantId: string): string {
    return `${this.prefix}:session:{${session}}:grant:${grantId}:uses`;
  }
  /** hash grant id → session, for listing and revoking by id */
  grantIndex(): string {
    return `${this.prefix}:grants`;
  }
  /** hash trigger id → who paused it and when (schedules and webhooks; see runs/trigger-state.ts) */
  triggersPaused(): string {
    return `${this.prefix}:triggers:paused`;
  }
  /** hash trigger id → what its last tick or delivery did */
  triggersLast(): string {
    return `${this.prefix}:triggers:last`;
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
    return `${this.prefix}:{tools}:enabled`;
  }
  /** hash `connector.tool` → ToolPin (JSON): the definition an admin accepted, or the first one seen */
  toolPins(): string {
    return `${this.prefix}:{tools}:pins`;
  }
  /** hash `connector.tool` → ToolPin (JSON): a definition that differs from the pin, awaiting review */
  toolChanges(): string {
    return `${this.prefix}:{tools}:changes`;
  }
  /** string JSON DecideLink, by the sha256 of the link's token: a one-time page to decide one confirmation */
  decideLink(tokenHash: string): string {
    return `${this.prefix}:decide:${tokenHash}`;
  }
  /** string JSON {channel, ts}: the Slack card posted for a confirmation (src/approvals/slack) */
  slackCard(cid: string): string {
    return `${this.prefix}:slack:card:${cid}`;
  }
  /** held while one process posts a confirmation's card, so two processes do not both post it */
  slackPosting(cid: string): string {
    return `${this.prefix}:slack:posting:${cid}`;
  }
  /** zset confirmationId → when its card was posted: cards still showing buttons */
  slackOpenCards(): string {
    return `${this.prefix}:slack:open`;
  }
  /** a Slack request already acted on, by the hash of its signature, kept past the signing window */
  slackSeen(signatureHash: string): string {
    return `${this.prefix}:slack:seen:${signatureHash}`;
  }
  /** the HMAC key MCP 2026-07-28 request states are signed with, when the environment gives none */
  mcpStateKey(): string {
    return `${this.prefix}:mcp:state:key`;
  }
  /** a request state already answered, by its nonce, kept until the state would have expired */
  mcpStateUsed(nonce: string): string {
    return `${this.prefix}:mcp:state:used:${nonce}`;
  }
  /** held by the one process whose Slack notifier is running a pass */
  slackSweepLock(): string {
    return `${this.prefix}:slack:sweep:lock`;
  }
  /** set of `runId/stepId` paused because this tool changed; resumed when it is approved */
  toolWaiting(toolKey: string): string {
    return `${this.prefix}:{tools}:waiting:${toolKey}`;
  }
  /**
   * hash of one OAuth connector's credentials: client registration, tokens and discovered metadata,
   * each sealed with INTERLOCK_SECRET_KEY (src/connectors/oauth/sealed.ts), plus the plain account
   * summary that pages show. Its lock and waiting runs share the connector's hash tag.
   */
  oauth(connector: string): string {
    return `${this.prefix}:oauth:{${connector}}`;
  }
  /** held by the one process refreshing the connector's tokens; the others wait and read what it saved */
  oauthLock(connector: string): string {
    return `${this.prefix}:oauth:{${connector}}:lock`;
  }
  /** set of `runId/stepId` paused until someone logs the connector in; resumed after a login */
  oauthWaiting(connector: string): string {
    return `${this.prefix}:oauth:{${connector}}:waiting`;
  }
  /** a login under way, by its `state`: sealed PKCE verifier and connector, taken once by the callback */
  oauthLogin(state: string): string {
    return `${this.prefix}:oauth-login:${state}`;
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
  /** the ready marker (step id), its generation and since when; see includes/ready.lua */
  ready: 'ready',
  readyGen: 'ready:gen',
  readyAt: 'ready:at',
  /** the id of the last step job marked for the run, kept after its marker clears */
  job: 'job',
  conf: (c: string) => confField(c),
  confStatus: (c: string) => `${confField(c)}:status`,
  confDecision: (c: string) => `${confField(c)}:decision`,
  confHash: (c: string) => `${confField(c)}:hash`,
  confExpiresAt: (c: string) => `${confField(c)}:expiresAt`,
  confStep: (c: string) => `${confField(c)}:step`,
  /** approvers a quorum needs, the approvers so far (newline-framed names) and their marks (JSON) */
  confNeed: (c: string) => `${confField(c)}:need`,
  confApprovals: (c: string) => `${confField(c)}:approvals`,
};

/**
 * A confirmation's fields in its run hash are named by its number within the run (`c8`,
 * `c8:status`, …): the run hash already says which run, and every paused run pays for the names.
 */
export function confField(cid: string): string {
  return `c${cid.slice(cid.lastIndexOf('_') + 1)}`;
}

/**
 * Run ids carry no underscore so a confirmation id `c_<runId>_<n>` names its run and the
 * confirmation can be found without a second index.
 */
export function newRunId(): string {
  const t = Date.now().toString(36);
  const r = Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => (b % 36).toString(36)).join('');
  return `r${t}${r}`;
}

/** The session of a run started without one: the run alone. */
export function defaultSession(runId: string): string {
  return `run-${runId}`;
}

export function confirmationId(runId: string, seq: number): string {
  return `c_${runId}_${seq}`;
}

export function runIdOfConfirmation(cid: string): string | undefined {
  const m = /^c_(r[0-9a-z]+)_\d+$/.exec(cid);
  return m ? m[1] : undefined;
}
