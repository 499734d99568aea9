import type { ConfigSource } from '../config/source.ts';
import type { ToolPin } from '../runs/tool-pins.ts';
import { InterlockError } from '../errors.ts';
import { failPoint } from '../failpoints.ts';
import { own } from '../lookup.ts';
import type { ConfirmationRecord, DecisionChannel, RunRecord, RunStatus } from '../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../runs/records.ts';
import type { RedisClient } from '../runs/redis.ts';
import type { DecideOutcome, DecisionRead, RunStore, StepResolution } from '../runs/store.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import { validateInputs } from '../workflows/inputs.ts';
import { currencyOf } from '../grants/constraints.ts';
import { type RememberRequest, type ScopedGrant, buildScope } from '../grants/grant.ts';
import { type NewGrant, newGrantId } from '../runs/grants.ts';
import { runCurrency } from '../grants/run-currency.ts';
import type { InterlockConfig, WorkflowDef } from '../workflows/types.ts';
import type { StepQueues } from '../worker/queues.ts';
import { cancelChildren, wakeParent } from '../worker/flow/child.ts';

export interface TriggerOptions {
  /**
   * The session the run's remembered decisions live in. With a `principal`, it must be one that
   * Interlock created for that principal (the facade's MCP or chat session, or `run-<id>` of an
   * earlier run the principal started); any other value is kept as `label` only and the run gets
   * a session of its own. Without a principal (in-process callers: the CLI, tests) it is taken as given.
   */
  session?: string;
  /**
   * the token name or OAuth subject that starts the run (the HTTP route: the token's name); it owns
   * the run, and a replayed Idempotency-Key from someone else is refused
   */
  principal?: string;
  /** the session is Interlock's own for this principal (the facade's), not a caller's text */
  trustedSession?: boolean;
  /** a free-text label that only groups runs */
  label?: string;
  idempotencyKey?: string;
  /** how long the key names its run, in seconds (default a day) */
  idempotencyTtlS?: number;
}

function selfApproval(cid: string, who: string): InterlockError {
  return new InterlockError(
    'SELF_APPROVAL',
    `'${who}' started the run of confirmation ${cid} and cannot be one of its approvers; nothing was decided`,
    { principal: who },
  );
}

export interface DecisionOptions {
  /** the principal that decides; it must hold `confirm` (the caller checks) */
  by?: string;
  channel?: DecisionChannel;
  /**
   * Remember the decision in the run's session: `"session"` (kept from before scopes) is the
   * exact payload only, the same as `{ scope: "payload" }`; `{ scope: "arguments", fields }` covers
   * the tool with those fields held to what was approved (see grants/constraints.ts).
   */
  remember?: 'session' | RememberRequest;
  /** the decision was made by approving this plan (see engine/plans.ts) */
  planHash?: string;
}

/** The scope a decision's `remember` asks for; `"session"` is the exact payload. */
export function rememberRequest(r: DecisionOptions['remember']): RememberRequest | undefined {
  if (r === undefined) return undefined;
  return r === 'session' ? { scope: 'payload' } : r;
}

/**
 * The control side shared by HTTP, MCP and CLI: start runs, decide confirmations, cancel.
 * It writes to the store and enqueues; it never calls a tool.
 */
export class Engine {
  readonly store: RunStore;
  readonly queues: StepQueues;
  /** New runs use the source's current definitions; runs in flight keep the one they pinned. */
  private readonly source: ConfigSource;

  constructor(store: RunStore, queues: StepQueues, source: ConfigSource) {
    this.store = store;
    this.queues = queues;
    this.source = source;
  }

  get currentConfig(): InterlockConfig {
    return this.source.current;
  }

  private get config(): InterlockConfig {
    return this.source.current;
  }

  workflow(name: string): WorkflowDef {
    const wf = own(this.config.workflows, name);
    if (!wf) {
      const known = Object.keys(this.config.workflows).join(', ') || 'none';
      throw new InterlockError('WORKFLOW_NOT_FOUND', `No workflow named '${name}' (known: ${known})`);
    }
    return wf;
  }

  async trigger(name: string, inputs: unknown, opts: TriggerOptions = {}): Promise<{ run: RunRecord; created: boolean }> {
    const wf = this.workflow(name);
    const issues = validateInputs(wf, inputs);
    if (issues.length > 0) {
      throw new InterlockError(
        'INPUT_INVALID',
        `Invalid inputs for workflow '${name}': ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
        { issues },
      );
    }
    const { session, label } = await this.sessionOf(opts);
    const made = await this.store.createRun(
      {
        workflow: wf,
        inputs: inputs as Record<string, unknown>,
        ...(session ? { session } : {}),
        ...(label ? { label } : {}),
        ...(opts.principal ? { owner: opts.principal } : {}),
        ...(opts.idempotencyKey
          ? {
              idempotencyKey: opts.idempotencyKey,
              ...(opts.idempotencyTtlS ? { idempotencyTtlS: opts.idempotencyTtlS } : {}),
              fingerprint: sha256Hex(canonicalJson({ inputs, session: opts.session ?? null, principal: opts.principal ?? null })),
            }
          : {}),
      },
      (r) => this.queues.enqueue(r.definition, r.id, r.session, r.definition.steps[0].id, '0'),
    );
    const { runId, created } = made;
    const run = made.run ?? (await this.store.requireRun(runId));
    return { run, created };
  }

  /** Which session a trigger's run joins, and what of the caller's text is only a label. */
  private async sessionOf(opts: TriggerOptions): Promise<{ session?: string; label?: string }> {
    const label = opts.label;
    if (!opts.session) return { ...(label ? { label } : {}) };
    if (opts.principal === undefined || opts.trustedSession) return { session: opts.session, ...(label ? { label } : {}) };
    if (await this.store.sessionOwnedBy(opts.session, opts.principal))
      return { session: opts.session, ...(label ? { label } : {}) };
    return { label: label ?? opts.session };
  }

  async approve(cid: string, argumentsHash: string, opts: DecisionOptions = {}): Promise<ConfirmationRecord> {
    if (!argumentsHash)
      throw new InterlockError('BAD_REQUEST', 'argumentsHash is required: approval is bound to the exact payload that was shown');
    const read = await this.store.readForDecision(cid);
    if (!read) throw new InterlockError('CONFIRMATION_NOT_FOUND', `No confirmation with id '${cid}'`);
    this.mayApprove(cid, read.conf, opts);
    const remember = opts.remember === undefined ? undefined : await this.mayRemember(read.conf, 'approve', opts);
    const ahead = await this.enqueueAhead(read, argumentsHash);
    const r = await this.store.decide(
      cid,
      'approve',
      { argumentsHash, ...opts, ...(remember ? { remember: 'session' as const, grantMade: remember.id } : {}) },
      { read, ...(ahead ? { enqueue: ahead } : {}) },
    );
    if (r.outcome === 'mismatch') {
      throw new InterlockError(
        'HASH_MISMATCH',
        `The arguments of confirmation ${cid} are not the ones you approved (shown hash ${r.shownHash}, given ${argumentsHash}); look at the payload again`,
        { argumentsHash: r.shownHash },
      );
    }
    if (r.outcome === 'decided')
      throw new InterlockError('ALREADY_DECIDED', `Confirmation ${cid} was already ${r.status}; the first decision stands`, {
        status: r.status,
      });
    if (r.outcome === 'expired')
      throw new InterlockError('CONFIRMATION_EXPIRED', `Confirmation ${cid} expired before it was approved; the run failed`);
    if (r.outcome === 'self') throw selfApproval(cid, r.who);
    if (r.outcome === 'duplicate')
      throw new InterlockError('ALREADY_APPROVED', `'${r.who}' already approved ${cid}; a quorum needs different approvers`);
    // One approval toward a quorum: recorded, and the write still waits for the others.
    if (r.outcome === 'partial') return this.store.requireConfirmation(cid);
    if (r.outcome !== 'approved') throw new InterlockError('INTERNAL', `Approving ${cid} answered ${r.outcome}`);
    const conf = await this.afterApproval(cid, r);
    if (remember) {
      const step = (await this.store.definition(r.workflow, r.version)).steps.find((s) => s.id === r.stepId);
      if (step?.kind === 'call') await this.store.grants.create(remember);
    }
    return conf;
  }

  /**
   * The approved step's enqueue, to go out right behind the decision (one round trip for both), when
   * the confirmation as read will be approved by it: pending, showing this hash, before its deadline,
   * and no quorum (whose last approval only one script can tell). Otherwise undefined, and the
   * enqueue waits for the decision. Sent ahead in vain (another decision came first), the job finds
   * the step not ready and does nothing, as any job of a step that moved on does.
   */
  private async enqueueAhead(read: DecisionRead, argumentsHash: string): Promise<(() => Promise<void>) | undefined> {
    const { conf, version } = read;
    const quorum = conf.policy?.kind === 'rule' && conf.policy.require;
    if (!version || quorum || conf.status !== 'pending' || conf.argumentsHash !== argumentsHash || conf.expiresAt <= Date.now())
      return undefined;
    const def = await this.store.definition(conf.workflow, version);
    return () => this.queues.enqueue(def, conf.runId, conf.session, conf.stepId, conf.id);
  }

  /** The approved step is marked ready; its job went out with the decision, or goes out now. */
  private async afterApproval(cid: string, r: Extract<DecideOutcome, { outcome: 'approved' }>): Promise<ConfirmationRecord> {
    if (!r.enqueued) {
      // From here a crash leaves the enqueue to the reconciler.
      await failPoint('after-decide');
      const def = await this.store.definition(r.workflow, r.version);
      const [conf] = await Promise.all([
        r.record ?? this.store.requireConfirmation(cid),
        this.queues.enqueue(def, r.runId, r.session, r.stepId, cid),
      ]);
      return conf;
    }
    return r.record ?? this.store.requireConfirmation(cid);
  }

  /** The approver groups a principal belongs to: policy.groups that list it, and its token's `groups`. */
  groupsOf(principal: string | undefined): string[] {
    if (principal === undefined) return [];
    const listed = Object.entries(this.config.policy.groups ?? {})
      .filter(([, members]) => members.includes(principal))
      .map(([g]) => g);
    return [...listed, ...(this.config.tokens.find((t) => t.name === principal)?.groups ?? [])];
  }

  /**
   * A confirmation a `require` rule holds takes approvals only from its group, never from who
   * started the run, and never as a remembered decision (one person cannot stand for a quorum).
   * The decide script checks the owner again, atomically, against the run hash.
   */
  private mayApprove(cid: string, conf: ConfirmationRecord, opts: DecisionOptions): void {
    const q = conf.policy?.kind === 'rule' ? conf.policy.require : undefined;
    if (!q || conf.status !== 'pending') return;
    if (conf.owner !== undefined && opts.by === conf.owner) throw selfApproval(cid, conf.owner);
    if (!this.groupsOf(opts.by).includes(q.group))
      throw new InterlockError(
        'NOT_IN_GROUP',
        `'${opts.by ?? 'unknown'}' is not in group "${q.group}", whose approvers confirmation ${cid} needs (rule "${conf.policy?.kind === 'rule' ? conf.policy.rule : ''}"); nothing was decided`,
        { group: q.group },
      );
    if (opts.remember)
      throw new InterlockError(
        'BAD_REQUEST',
        `Confirmation ${cid} needs ${q.approvers} approvers; a quorum decision cannot be remembered`,
      );
  }

  async deny(cid: string, opts: DecisionOptions = {}): Promise<ConfirmationRecord> {
    const remember =
      opts.remember === undefined ? undefined : await this.mayRemember(await this.store.requireConfirmation(cid), 'deny', opts);
    const r = await this.store.decide(cid, 'deny', {
      ...opts,
      ...(remember ? { remember: 'session' as const, grantMade: remember.id } : {}),
    });
    if (r.outcome === 'decided')
      throw new InterlockError('ALREADY_DECIDED', `Confirmation ${cid} was already ${r.status}; the first decision stands`, {
        status: r.status,
      });
    if (r.outcome === 'expired') throw new InterlockError('CONFIRMATION_EXPIRED', `Confirmation ${cid} had already expired`);
    const conf = await this.store.requireConfirmation(cid);
    if (remember) await this.store.grants.create(remember);
    await wakeParent(this.store, this.queues, conf.runId);
    return conf;
  }

  /**
   * "Remember for this session" is for the decider's own session: a grant lets later writes through
   * with nobody asked, so it may only come from the principal whose runs it covers (who must hold
   * `confirm`, as every decider does). An approver deciding another token's run decides that call
   * once; asked to remember, it is refused before anything is decided. Runs started in-process
   * (the CLI) have no owner and are the local operator's.
   */
  private async mayRemember(
    conf: ConfirmationRecord,
    decision: 'approve' | 'deny',
    opts: DecisionOptions,
  ): Promise<NewGrant & { id: string }> {
    if (conf.owner !== undefined && conf.owner !== opts.by) {
      throw new InterlockError(
        'FORBIDDEN',
        `Only '${conf.owner}', who started run ${conf.runId}, can remember a decision for its session; decide it without remember (nothing was decided)`,
        { owner: conf.owner },
      );
    }
    return this.grantFor(conf, decision, opts);
  }

  /**
   * The grant a remembered decision leaves, built (and checked) before anything is decided: in the
   * run's session, for runs of the run's owner only, scoped as the person chose.
   */
  private async grantFor(
    conf: ConfirmationRecord,
    decision: 'approve' | 'deny',
    opts: DecisionOptions,
  ): Promise<NewGrant & { id: string }> {
    const req = rememberRequest(opts.remember) ?? { scope: 'payload' };
    const run = await this.store.getRun(conf.runId);
    const currency = currencyOf(conf.arguments, run ? runCurrency(run) : undefined);
    const scope = buildScope(req, decision, conf.arguments, conf.argumentsHash, currency);
    if (!scope.ok) throw new InterlockError('BAD_REQUEST', `${scope.message} (nothing was decided)`, { field: 'remember' });
    const at = Date.now();
    return {
      id: newGrantId(),
      session: conf.session,
      connector: conf.connector,
      tool: conf.tool,
      decision,
      scope: scope.scope,
      ...(scope.argumentsHash ? { argumentsHash: scope.argumentsHash } : {}),
      ...(scope.constraints ? { constraints: scope.constraints } : {}),
      by: opts.by ?? 'unknown',
      ...(conf.owner ? { owner: conf.owner } : {}),
      ...(opts.channel ? { channel: opts.channel } : {}),
      at,
      confirmationId: conf.id,
      ...(req.ttlMs !== undefined ? { expiresAt: at + req.ttlMs } : {}),
      ...(req.uses !== undefined ? { maxUses: req.uses } : {}),
    };
  }

  /** Revokes a grant by id: from now on it lets nothing through. */
  revokeGrant(id: string, by = 'unknown'): Promise<ScopedGrant> {
    return this.store.grants.revoke(id, by);
  }

  async cancel(runId: string, by?: string): Promise<RunRecord> {
    const r = await this.store.cancelRun(runId, by);
    if (!r.cancelled) {
      // Asked again, a cancel cut short before it reached the children finishes with them.
      if (r.status === 'cancelled') await cancelChildren(this.store, runId, by ?? 'unknown');
      throw new InterlockError('RUN_FINISHED', `Run ${runId} already ended as ${r.status}`);
    }
    await wakeParent(this.store, this.queues, runId);
    await cancelChildren(this.store, runId, by ?? 'unknown');
    return this.store.requireRun(runId);
  }

  /**
   * An operator's answer to a step in doubt: resend it (same idempotency key), take it as done
   * with the output they found (the run continues), or fail the run.
   */
  async resolve(runId: string, stepId: string, resolution: StepResolution): Promise<RunRecord> {
    const run = await this.store.requireRun(runId);
    const idx = run.definition.steps.findIndex((s) => s.id === stepId);
    if (idx < 0) throw new InterlockError('NOT_FOUND', `Run ${runId} has no step '${stepId}'`);
    const next = run.definition.steps[idx + 1]?.id;
    // A fresh job id: the job that found the step in doubt may still be kept by BullMQ.
    const generation = `resolved-${run.steps[stepId]?.attempts ?? 0}`;
    const r = await this.store.resolveStep(runId, stepId, resolution, next, generation);
    if (!r.ok) {
      throw new InterlockError(
        'NOT_IN_DOUBT',
        `Step ${stepId} of run ${runId} is ${r.stepStatus} (run ${r.runStatus}); only a step in doubt can be resolved`,
        { runStatus: r.runStatus, stepStatus: r.stepStatus },
      );
    }
    await failPoint('after-resolve');
    if (resolution.action === 'retry') await this.queues.enqueue(run.definition, runId, run.session, stepId, generation);
    if (resolution.action === 'done' && next) await this.queues.enqueue(run.definition, runId, run.session, next, generation);
    return this.store.requireRun(runId);
  }

  /**
   * An admin accepts a tool's changed definition (bound to the hash they reviewed); runs paused
   * at that tool continue.
   */
  async approveTool(
    connector: string,
    tool: string,
    reviewedHash: string,
    by = 'unknown',
  ): Promise<{ pin: ToolPin; resumed: string[] }> {
    const r = await this.store.pins.approve(connector, tool, reviewedHash, by);
    if (r.outcome === 'none') throw new InterlockError('NOT_FOUND', `Tool ${connector}.${tool} has no change waiting for review`);
    if (r.outcome === 'mismatch') {
      throw new InterlockError(
        'HASH_MISMATCH',
        `Tool ${connector}.${tool} changed again since you reviewed it (now ${r.pendingHash}); review the new definition`,
        { hash: r.pendingHash },
      );
    }
    return { pin: r.pin, resumed: await this.resumeWaiting(connector, tool, by) };
  }

  /**
   * Unblocks the runs paused at a tool that is no longer changed. Each leaves the waiting set only
   * after its unblock (which marks its step ready), so a crash midway leaves the rest waiting for
   * `interlock doctor --repair`, and a crash after an unblock leaves the reconciler its enqueue.
   */
  async resumeWaiting(connector: string, tool: string, by: string): Promise<string[]> {
    const resumed: string[] = [];
    await Promise.all(
      (await this.store.pins.waiting(connector, tool)).map(async (w) => {
        const generation = `unblocked-${Date.now()}`;
        const ok = (await this.store.unblockStep(w.runId, w.stepId, { connector, tool, by }, generation)) === 'ok';
        if (ok) {
          await failPoint('after-unblock');
          const run = await this.store.requireRun(w.runId);
          await this.queues.enqueue(run.definition, run.id, run.session, w.stepId, generation);
          resumed.push(run.id);
        }
        await this.store.pins.dropWaiting(connector, tool, w.runId, w.stepId);
      }),
    );
    return resumed;
  }

  /**
   * Unblocks the runs paused until `connector` was logged in, as resumeWaiting does for a changed
   * tool: each leaves the waiting set only after its unblock, so a crash midway loses none.
   */
  async resumeAfterLogin(connector: string, by: string): Promise<string[]> {
    const resumed: string[] = [];
    await Promise.all(
      (await this.store.oauth.waiting(connector)).map(async (w) => {
        const generation = `unblocked-${Date.now()}`;
        const ok =
          (await this.store.unblockStep(w.runId, w.stepId, { connector, by }, generation, 'CONNECTOR_LOGIN_REQUIRED')) === 'ok';
        if (ok) {
          const run = await this.store.requireRun(w.runId);
          await this.queues.enqueue(run.definition, run.id, run.session, w.stepId, generation);
          resumed.push(run.id);
        }
        await this.store.oauth.dropWaiting(connector, w.runId, w.stepId);
      }),
    );
    return resumed;
  }

  /**
   * Waits until the run reaches one of `until` (default: any terminal status, a gate, or
   * needs_attention), following its event stream on a dedicated connection.
   */
  async waitFor(
    runId: string,
    opts: {
      until?: RunStatus[];
      timeoutMs?: number;
      blocking: RedisClient;
      onEvent?: (e: import('../runs/records.ts').RunEvent) => void;
    },
  ): Promise<RunRecord> {
    const until = new Set<RunStatus>(opts.until ?? [...TERMINAL_RUN_STATUSES, 'awaiting_confirmation', 'needs_attention']);
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let last = '0';
    for (;;) {
      const events = await this.store.readEvents(runId, last, { client: opts.blocking });
      for (const e of events) {
        last = e.id;
        opts.onEvent?.(e);
      }
      const run = await this.store.requireRun(runId);
      if (until.has(run.status)) return run;
      const left = deadline - Date.now();
      if (left <= 0) return run;
      const more = await this.store.readEvents(runId, last, { client: opts.blocking, blockMs: Math.min(left, 1000) });
      for (const e of more) {
        last = e.id;
        opts.onEvent?.(e);
      }
      if (more.length === 0) continue;
    }
  }
}
