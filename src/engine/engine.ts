import type { ConfigSource } from '../config/source.ts';
import type { ToolPin } from '../runs/tool-pins.ts';
import { InterlockError } from '../errors.ts';
import { failPoint } from '../failpoints.ts';
import { own } from '../lookup.ts';
import type { ConfirmationRecord, DecisionChannel, RunRecord, RunStatus } from '../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../runs/records.ts';
import type { RedisClient } from '../runs/redis.ts';
import type { RunStore, StepResolution } from '../runs/store.ts';
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import { validateInputs } from '../workflows/inputs.ts';
import type { InterlockConfig, WorkflowDef } from '../workflows/types.ts';
import type { StepQueues } from '../worker/queues.ts';

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
}

export interface DecisionOptions {
  /** the principal that decides; it must hold `confirm` (the caller checks) */
  by?: string;
  channel?: DecisionChannel;
  remember?: 'session';
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
    if (opts.remember === 'session') await this.mayRemember(cid, opts);
    const r = await this.store.decide(cid, 'approve', { argumentsHash, ...opts });
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
    if (r.outcome !== 'approved') throw new InterlockError('INTERNAL', `Approving ${cid} answered ${r.outcome}`);
    // The step is marked ready: from here a crash leaves the enqueue to the reconciler.
    await failPoint('after-decide');
    // The decision says which run, step and definition: enqueue at once, read the record beside it.
    const def = await this.store.definition(r.workflow, r.version);
    const step = def.steps.find((s) => s.id === r.stepId);
    const [conf] = await Promise.all([
      this.store.requireConfirmation(cid),
      this.queues.enqueue(def, r.runId, r.session, r.stepId, cid),
    ]);
    if (opts.remember === 'session' && step?.kind === 'call') await this.remember(conf, 'approve', opts);
    return conf;
  }

  async deny(cid: string, opts: DecisionOptions = {}): Promise<ConfirmationRecord> {
    if (opts.remember === 'session') await this.mayRemember(cid, opts);
    const r = await this.store.decide(cid, 'deny', opts);
    if (r.outcome === 'decided')
      throw new InterlockError('ALREADY_DECIDED', `Confirmation ${cid} was already ${r.status}; the first decision stands`, {
        status: r.status,
      });
    if (r.outcome === 'expired') throw new InterlockError('CONFIRMATION_EXPIRED', `Confirmation ${cid} had already expired`);
    const conf = await this.store.requireConfirmation(cid);
    if (opts.remember === 'session') await this.remember(conf, 'deny', opts);
    return conf;
  }

  /**
   * "Remember for this session" is for the decider's own session: a grant lets later writes through
   * with nobody asked, so it may only come from the principal whose runs it covers (who must hold
   * `confirm`, as every decider does). An approver deciding another token's run decides that call
   * once; asked to remember, it is refused before anything is decided. Runs started in-process
   * (the CLI) have no owner and are the local operator's.
   */
  private async mayRemember(cid: string, opts: DecisionOptions): Promise<void> {
    const conf = await this.store.requireConfirmation(cid);
    if (conf.owner !== undefined && conf.owner !== opts.by) {
      throw new InterlockError(
        'FORBIDDEN',
        `Only '${conf.owner}', who started run ${conf.runId}, can remember a decision for its session; decide it without remember (nothing was decided)`,
        { owner: conf.owner },
      );
    }
  }

  /** The grant a remembered decision leaves: in the run's session, for runs of the run's owner only. */
  private remember(conf: ConfirmationRecord, decision: 'approve' | 'deny', opts: DecisionOptions): Promise<void> {
    return this.store.grant(conf.session, conf.connector, conf.tool, {
      decision,
      by: opts.by ?? 'unknown',
      at: Date.now(),
      ...(conf.owner ? { owner: conf.owner } : {}),
      ...(opts.channel ? { channel: opts.channel } : {}),
    });
  }

  async cancel(runId: string, by?: string): Promise<RunRecord> {
    const r = await this.store.cancelRun(runId, by);
    if (!r.cancelled) throw new InterlockError('RUN_FINISHED', `Run ${runId} already ended as ${r.status}`);
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
