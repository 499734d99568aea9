import type { Socket } from 'node:net';
import { InterlockError } from '../errors.ts';
import { type FailPoint, failPoint, isArmed } from '../failpoints.ts';
import { scrub } from '../secrets.ts';
import type { WorkflowDef } from '../workflows/types.ts';
import { F, Keys, confirmationId, defaultSession, newRunId, runIdOfConfirmation } from './keys.ts';
import type {
  ConfirmationPayload,
  ConfirmationRecord,
  ConfirmationStatus,
  ErrorInfo,
  PlanApproval,
  DecisionChannel,
  Grant,
  RunEvent,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
} from './records.ts';
import { AuditLog, type AuditDecision, type AuditDraft, auditDraftJson, auditMinId } from './audit.ts';
import { FlowRecords } from './flow-records.ts';
import { RedisCredentialVault } from './oauth-vault.ts';
import { PinStore } from './pins.ts';
import { DecideLinks } from './decide-links.ts';
import { loadStepResult, taggedResult, textResult } from './results.ts';
import { isActive } from '../grants/grant.ts';
import { Definitions } from './definitions.ts';
import type { RunEventType } from './events.ts';
import { LIVE_RUN_FIELDS, advanceRun, confirmationFrom, parseEvent, parseRun } from './parse.ts';
import { parseGrants } from './grant-parse.ts';
import { GrantStore, type GrantUse } from './grants.ts';
import type { RedisClient } from './redis.ts';
import { TriggerState } from './trigger-state.ts';
import { type ReadyMarker, ReadySteps, runScriptKeys } from './ready.ts';
import { defineScripts, type ScriptName } from './scripts.ts';

type StepResult = Omit<StepRecord, 'id' | 'status' | 'attempts' | 'approvedHash' | 'confirmationId'>;

/** What a step needs to run, read in one round trip (loadForStep, or an in-place commit). */
export interface LoadedStep {
  run: RunRecord | undefined;
  /** every grant of the run's session */
  grants: Grant[];
  /** the admin's toggle for the step's tool */
  enabled: boolean;
  /** the run's ready marker, if it has one */
  ready?: ReadyMarker;
}

/** One sliding window of a connector's rate limits (see takeRateSlots). */
export interface RateWindow {
  key: string;
  max: number;
  perMs: number;
}

export interface CreateRunInput {
  workflow: WorkflowDef;
  inputs: Record<string, unknown>;
  /** an Interlock session of `owner` (see Engine.trigger); default: the run's own */
  session?: string;
  /** the principal that starts the run */
  owner?: string;
  /** the caller's free-text session label, kept for grouping only */
  label?: string;
  idempotencyKey?: string;
  /** how long the key names its run (default a day); a webhook's senders retry for days */
  idempotencyTtlS?: number;
  /**
   * what the request asked for (inputs, session, principal), hashed: a replay of the key with
   * another fingerprint is refused with IDEMPOTENCY_KEY_REUSED
   */
  fingerprint?: string;
  /** the run and step that start this run as a `workflow:` step */
  parent?: { runId: string; stepId: string };
}

const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'denied', 'cancelled']);

/** How long a trigger's Idempotency-Key names its run. */
const IDEMPOTENCY_TTL_S = 86400;

/** What an operator decided about a step in doubt. */
export type StepResolution =
  | { action: 'retry' | 'fail'; by?: string; reason?: string }
  | { action: 'done'; output: unknown; by?: string; reason?: string };

export type DecideOutcome =
  | {
      outcome: 'approved';
      runId: string;
      stepId: string;
      session: string;
      workflow: string;
      version: string;
      /** the step's job was sent behind the decision (DecideWith.enqueue) */
      enqueued: boolean;
      /** the decided confirmation, made from DecideWith.read when that was given (not for a quorum) */
      record?: ConfirmationRecord;
    }
  /** one approval toward a quorum, recorded; `count` approvals so far */
  | { outcome: 'partial'; runId: string; stepId: string; count: number }
  /** refused: the decider started the run (`self`), or already approved it (`duplicate`) */
  | { outcome: 'self' | 'duplicate'; runId: string; stepId: string; who: string }
  | { outcome: 'denied' | 'expired'; runId: string; stepId: string }
  | { outcome: 'decided'; runId: string; stepId: string; status: ConfirmationStatus }
  | { outcome: 'mismatch'; runId: string; stepId: string; shownHash: string };

/** A confirmation as a decision reads it first (RunStore.readForDecision). */
export interface DecisionRead {
  conf: ConfirmationRecord;
  /** the run's definition version */
  version?: string;
  /** the run-hash fields the record was made from */
  raw: Record<string, string>;
}

/** What a decision comes with besides its options. */
export interface DecideWith {
  /** the confirmation as the caller read it: the audit entry and the decided record are made from it */
  read?: DecisionRead;
  /**
   * the approved step's enqueue: on one Redis sent right behind the decision, before its answer (see
   * thenEnqueue), so it must be harmless when the decision does not approve; ignored on a cluster
   */
  enqueue?: () => Promise<unknown>;
}

/** The audit entry a person's decision leaves, from what the confirmation showed. */
function auditDraftOf(
  conf: ConfirmationRecord | undefined,
  cid: string,
  runId: string,
  now: number,
  opts: { argumentsHash?: string; by?: string; channel?: DecisionChannel },
): AuditDraft {
  const policy = conf?.policy;
  return {
    source: { kind: 'person', by: opts.by ?? 'unknown', ...(opts.channel ? { channel: opts.channel } : {}) },
    argumentsHash: conf?.argumentsHash ?? opts.argumentsHash ?? '',
    runId,
    stepId: conf?.stepId ?? '',
    ...(conf ? { workflow: conf.workflow, connector: conf.connector, tool: conf.tool } : {}),
    confirmationId: cid,
    at: now,
    ...(policy?.money ? { money: policy.money } : {}),
    ...(policy?.kind === 'rule' && policy.require
      ? { quorum: { ...policy.require, count: (conf?.approvals?.length ?? 0) + (opts.argumentsHash ? 1 : 0) } }
      : {}),
  };
}

/**
 * The confirmation as a read right after an approval would find it: decide-n.lua sets its status
 * and decision and, for a quorum only, its approvals, which a record read before lacks (undefined then).
 */
function decidedRecord(runId: string, cid: string, read: DecisionRead, decision: string): ConfirmationRecord | undefined {
  if (read.conf.policy?.kind === 'rule' && read.conf.policy.require) return undefined;
  return confirmationFrom(runId, cid, { ...read.raw, [F.confStatus(cid)]: 'approved', [F.confDecision(cid)]: decision });
}

/** What an in-place commit asks for when the caller holds the rest of the run (commitStep-n.lua). */
const PARTIAL: readonly string[] = ['partial', ...LIVE_RUN_FIELDS];

/** Everything the store writes goes through here: no registered secret is ever stored. */
const j = (v: unknown): string => scrub(JSON.stringify(v ?? null));

/**
 * The one owner of Interlock's Redis data: runs, steps, confirmations, grants and events.
 * Each method is a named transition; multi-key changes of a run go through one Lua script.
 */
export class RunStore {
  readonly redis: RedisClient;
  readonly keys: Keys;
  /** tool pins and their changes awaiting review */
  readonly pins: PinStore;
  /** one-time links that decide one confirmation (URL-mode elicitation) */
  readonly decideLinks: DecideLinks;
  private readonly s: Record<ScriptName, (...keysThenArgv: string[]) => Promise<unknown>>;
  /** the workflow definitions runs name, stored once per version */
  private readonly defs: Definitions;
  /** the ready index, for the reconciler and the doctor */
  readonly ready: ReadySteps;
  /** every decision on a write, for the deployment */
  readonly audit: AuditLog;
  /** remembered decisions, their uses and their index */
  readonly grants: GrantStore;
  /** loop items, parallel branches and steps waiting without a job */
  readonly flow: FlowRecords;
  /** paused schedules and webhooks, and what each did last */
  readonly triggers: TriggerState;
  /** OAuth connectors' sealed credentials, refresh locks, logins under way and runs waiting for a login */
  readonly oauth: RedisCredentialVault;
  /** runs an in-place commit answered in part (advanceRun): see holdsOthers */
  private readonly inPlace = new WeakSet<RunRecord>();

  constructor(redis: RedisClient, prefix = 'il') {
    this.redis = redis;
    this.keys = new Keys(prefix);
    this.defs = new Definitions(redis, this.keys);
    this.s = defineScripts(redis);
    this.pins = new PinStore(redis, this.keys, this.s);
    this.decideLinks = new DecideLinks(redis, this.keys);
    this.ready = new ReadySteps(redis, this.keys, this.s);
    this.audit = new AuditLog(redis, this.keys);
    this.grants = new GrantStore(redis, this.keys, this.s);
    this.flow = new FlowRecords(redis, this.keys, this.s);
    this.triggers = new TriggerState(redis, this.keys);
    this.oauth = new RedisCredentialVault(redis, this.keys, this.s.releaseLock);
  }

  /** The number of keys and the keys of a run script: the run's own two, and on a single Redis the indexes it keeps beside the run. */
  private rk(runId: string, ...indexes: string[]): string[] {
    return runScriptKeys(this.keys, this.redis.isCluster, runId, ...indexes);
  }

  /** rk with the ready index, for scripts that mark a step ready or clear its marker. */
  private rr(runId: string, ...more: string[]): string[] {
    return this.rk(runId, this.keys.readyIndex(), ...more);
  }

  /**
   * On a cluster the ready index is in another slot than the run: its entry is written before the
   * script that marks the step, so a crash between the two leaves an entry without a marker (the
   * reconciler drops it), never a marker nobody finds. On one Redis the script writes both.
   */
  private readyAhead(runId: string): Promise<void> {
    return this.ready.ahead(runId);
  }

  /**
   * Creates a run, ready at its first step, or returns the run its idempotency key names. `then`
   * runs with the new record (the engine enqueues the first step there); see thenEnqueue.
   */
  async createRun(
    input: CreateRunInput,
    then?: (run: RunRecord) => Promise<unknown>,
  ): Promise<{ runId: string; created: boolean; run?: RunRecord }> {
    const runId = newRunId();
    if (!input.idempotencyKey) return this.writeRun(runId, input, then);
    const key = this.keys.triggerIdempotency(`${input.workflow.name}:${input.idempotencyKey}`);
    const record = j({ run: runId, fp: input.fingerprint ?? '' });
    if (this.redis.isCluster) {
      // The key is in another slot than the run: set first, and a replay that finds no run writes it.
      const ok = await this.redis.set(key, record, 'EX', input.idempotencyTtlS ?? IDEMPOTENCY_TTL_S, 'NX');
      if (ok === null) return this.replay(await this.redis.get(key), input, then);
      return this.writeRun(runId, input, then);
    }
    // A replay is answered without sending the new run's job; the script checks the key again.
    const prev = await this.redis.get(key);
    if (prev !== null) return this.replay(prev, input, then);
    return this.writeRun(runId, input, then, { key, record });
  }

  /**
   * A trigger whose idempotency key was set before: the run it names, or that run written now if
   * it was not (a crash between key and run on a cluster, or a key set by an earlier version).
   */
  private async replay(
    prev: string | null,
    input: CreateRunInput,
    then?: (run: RunRecord) => Promise<unknown>,
  ): Promise<{ runId: string; created: boolean; run?: RunRecord }> {
    if (prev === null) return this.createRun(input, then);
    let runId = prev;
    let fp = '';
    if (prev.startsWith('{')) ({ run: runId, fp } = JSON.parse(prev) as { run: string; fp: string });
    if (fp && input.fingerprint && fp !== input.fingerprint) {
      throw new InterlockError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key '${input.idempotencyKey}' was used for another request (other inputs, session or caller); use a new key for a new request`,
        { runId },
      );
    }
    const run = await this.getRun(runId);
    if (run) return { runId, created: false, run };
    const made = await this.writeRun(runId, input, then);
    return { ...made, created: false };
  }

  private async writeRun(
    runId: string,
    input: CreateRunInput,
    then?: (run: RunRecord) => Promise<unknown>,
    idem?: { key: string; record: string },
  ): Promise<{ runId: string; created: boolean; run?: RunRecord }> {
    const now = Date.now();
    const wf = input.workflow;
    const session = input.session ?? defaultSession(runId);
    const fields: Record<string, string> = {
      id: runId,
      workflow: wf.name,
      version: wf.version,
      // A run started without a session is a session of its own; the hash only names other ones.
      ...(input.session ? { session } : {}),
      ...(input.owner ? { owner: input.owner } : {}),
      ...(input.label ? { label: input.label } : {}),
      ...(input.parent ? { parent: input.parent.runId, parentStep: input.parent.stepId } : {}),
      status: 'queued',
      inputs: j(input.inputs),
      createdAt: String(now),
      updatedAt: String(now),
    };
    for (const step of wf.steps) fields[F.stepStatus(step.id)] = 'pending';
    this.defs.remember(wf);
    const run = parseRun(fields, wf);
    const keys = this.rr(runId, this.keys.runsIndex(), ...(idem ? [idem.key] : []));
    const argv = [
      runId,
      String(now),
      wf.steps[0].id,
      j({ workflow: wf.name, version: wf.version, session }),
      idem?.record ?? '',
      String(input.idempotencyTtlS ?? IDEMPOTENCY_TTL_S),
      ...Object.entries(fields).flat(),
    ];
    // The definition goes first on this connection, so whoever reads the run finds it. On a
    // cluster the index entries go before the run (a run nobody lists or reconciles would be lost).
    const write = (): Promise<string[]> =>
      this.redis.isCluster
        ? Promise.all([
            this.defs.store(wf),
            this.redis.zadd(this.keys.readyIndex(), now, runId),
            this.redis.zadd(this.keys.runsIndex(), now, runId),
          ]).then(() => this.s.createRun(...keys, ...argv) as Promise<string[]>)
        : Promise.all([this.defs.store(wf), this.s.createRun(...keys, ...argv)]).then(([, r]) => r as string[]);
    const r = await this.thenEnqueue(write, then && (() => then(run)), (x) => x[0] === 'ok', 'after-create-run');
    if (r[0] === 'key') return this.replay(r[1], input, then);
    if (r[0] === 'exists') return { runId, created: false, ...(await this.getRun(runId).then((x) => (x ? { run: x } : {}))) };
    // The record is what was just written; reading it back would only cost a round trip.
    return { runId, created: true, run };
  }

  private async toRun(h: Record<string, string>): Promise<RunRecord> {
    const [def] = await this.defs.of([h]);
    return parseRun(h, def);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.run(runId));
    return h.id ? this.toRun(h) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new InterlockError('RUN_NOT_FOUND', `No run with id '${runId}'`);
    return run;
  }

  /**
   * What a step job needs: the run, the session's remembered decisions and whether an admin turned
   * the tool off, in one round trip (loadStep-3.lua), with the run's ready marker. Which grant
   * covers the call is the planner's question (grants/grant.ts pickGrant).
   */
  async loadForStep(runId: string, session: string, toolField: string | undefined): Promise<LoadedStep> {
    if (!this.redis.isCluster) {
      const r = loadStepResult(
        await this.s.loadStep(this.keys.run(runId), this.keys.grants(session), this.keys.toolToggles(), toolField ?? ''),
      );
      return this.loaded(session, r.hash, r.grants, r.toggle);
    }
    // On a cluster the three keys are in three slots: sent together, not as one script or pipeline.
    const [h, g, toggle] = await Promise.all([
      this.redis.hgetall(this.keys.run(runId)),
      toolField ? this.redis.hgetall(this.keys.grants(session)) : {},
      toolField ? this.redis.hget(this.keys.toolToggles(), toolField) : undefined,
    ]);
    return this.loaded(session, h, g, toggle ?? null);
  }

  private async loaded(
    session: string,
    h: Record<string, string>,
    grants: Record<string, string>,
    toggle: string | null,
  ): Promise<LoadedStep> {
    const run = h.id ? await this.toRun(h) : undefined;
    const ready = run && this.ready.marker(run, h);
    return { run, grants: parseGrants(session, grants), enabled: toggle !== '0', ...(ready ? { ready } : {}) };
  }

  /**
   * Sliding-window rate limits shared by every process on this Redis (takeRateSlots-n.lua): a slot
   * in each window that applies to the call, or in none and how many ms to wait before asking
   * again. A slot counts while its call is in flight (for at most `holdMs`) and for `perMs` after
   * releaseRateSlots, so the limit holds where calls arrive, not only where they leave. `key` is
   * the part after the connector's key; `member` names the call's slots.
   */
  async takeRateSlots(connector: string, windows: RateWindow[], member: string, holdMs: number): Promise<number> {
    const keys = windows.map((w) => this.keys.rateLimit(connector, w.key));
    const argv = windows.flatMap((w) => [String(w.max), String(w.perMs)]);
    return Number(await this.s.takeRateSlots(String(keys.length), ...keys, member, String(holdMs), ...argv));
  }

  /** The call of `member` answered: its slots count for `perMs` from now. */
  async releaseRateSlots(connector: string, windows: RateWindow[], member: string): Promise<void> {
    const keys = windows.map((w) => this.keys.rateLimit(connector, w.key));
    await this.s.releaseRateSlots(String(keys.length), ...keys, member, ...windows.map((w) => String(w.perMs)));
  }

  /** Just the status, for a worker that looks whether a run was cancelled under it. */
  async runStatus(runId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.run(runId), 'status')) ?? undefined;
  }

  /**
   * A decision remembered in `session` for the tool that may still be used, made for runs of
   * `owner` by that owner (the first one; which one covers a given call is pickGrant's question).
   */
  async getGrant(session: string, connector: string, tool: string, owner?: string): Promise<Grant | undefined> {
    const now = Date.now();
    return (await this.grants.forSession(session)).find(
      (g) =>
        g.connector === connector &&
        g.tool === tool &&
        (g.owner ?? undefined) === (owner ?? undefined) &&
        (owner === undefined || g.by === owner) &&
        isActive(g, now),
    );
  }

  /**
   * Whether `session` is one Interlock created for `principal` by an earlier trigger (`run-<id>`
   * of a run that principal started). Anything else a caller sends is a label, not a session.
   */
  async sessionOwnedBy(session: string, principal: string): Promise<boolean> {
    const m = /^run-(r[0-9a-z]+)$/.exec(session);
    if (!m) return false;
    return (await this.redis.hget(this.keys.run(m[1]), 'owner')) === principal;
  }

  async listRuns(
    opts: { status?: RunStatus; workflow?: string; limit?: number; cursor?: number } = {},
  ): Promise<{ runs: RunRecord[]; nextCursor?: number }> {
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    const out: RunRecord[] = [];
    let offset = opts.cursor ?? 0;
    // Filters apply after reading, so read in pages until the page is full or the index ends.
    while (out.length < limit) {
      const ids = await this.redis.zrevrange(this.keys.runsIndex(), offset, offset + 199);
      if (ids.length === 0) return { runs: out };
      // Each run is in its own slot: sent together, not as one pipeline (see loadForStep).
      const res = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.run(id))));
      const found = res.filter((h) => !!h?.id);
      const defs = await this.defs.of(found);
      const byId = new Map(found.map((h, i) => [h.id, parseRun(h, defs[i])]));
      for (let i = 0; i < ids.length; i++) {
        offset++;
        const run = byId.get(ids[i]);
        if (!run) continue;
        if (opts.status && run.status !== opts.status) continue;
        if (opts.workflow && run.workflow !== opts.workflow) continue;
        out.push(run);
        if (out.length >= limit) break;
      }
    }
    return { runs: out, nextCursor: offset };
  }

  /**
   * `seenAttempts`: for a write, the attempts of the record the caller planned from; the start is
   * refused when another job started the step since (see startStep-n.lua), so a write goes once.
   */
  async startStep(
    runId: string,
    stepId: string,
    data: Record<string, unknown>,
    writeIntent: boolean,
    seenAttempts?: number,
  ): Promise<{ ok: true; attempts: number } | { ok: false; reason: 'run' | 'step' | 'missing'; status: string }> {
    const { tag, items } = taggedResult(
      'startStep',
      await this.s.startStep(
        ...this.rr(runId),
        stepId,
        String(Date.now()),
        j(data),
        writeIntent ? '1' : '0',
        seenAttempts === undefined ? '' : String(seenAttempts),
      ),
      ['ok', 'run', 'step', 'missing'],
      1,
    );
    if (tag === 'ok') return { ok: true, attempts: Number(items[0]) };
    return { ok: false, reason: tag, status: items[0] };
  }

  /**
   * `started`: the step.started data of a read that answered before startStep went out; the
   * commit then starts the step too (see commitStep-n.lua). The next step is marked ready by the
   * commit; `then` (its enqueue, generation '0') runs when the commit succeeds; see thenEnqueue.
   */
  async commitStep(
    runId: string,
    stepId: string,
    status: 'succeeded' | 'skipped',
    result: StepResult,
    nextStepId: string | undefined,
    opts: {
      started?: Record<string, unknown>;
      enqueueNext?: () => Promise<unknown>;
      /** what the caller sends next on this connection (the job's completion) goes out in the same socket write (see together) */
      withWhatFollows?: boolean;
    } = {},
  ): Promise<string> {
    if (opts.withWhatFollows && !this.redis.isCluster) this.together();
    const send = () =>
      this.s
        .commitStep(...this.rr(runId), ...this.commitArgs(stepId, status, result, nextStepId, opts.started))
        .then((r) => textResult('commitStep', r));
    const commit = () => (nextStepId && this.redis.isCluster ? this.readyAhead(runId).then(send) : send());
    return this.thenEnqueue(commit, opts.enqueueNext, (r) => r === 'ok', nextStepId ? 'after-commit' : undefined);
  }

  /**
   * commitStep for a job that goes on to run the next step itself (worker/chain.ts): no enqueue,
   * the marker names `holder` (the job), and when the run goes on, the answer carries what the next
   * step needs, read in the same script: one round trip between two steps. `run`: the run as the
   * caller read it; the answer carries only the run's own fields and the two steps at hand, so a
   * long chain's commit does not grow with it. Single Redis only.
   */
  async commitStepInPlace(
    run: RunRecord,
    stepId: string,
    status: 'succeeded' | 'skipped',
    result: StepResult,
    next: { stepId: string; holder: string; toolField: string },
    started?: Record<string, unknown>,
  ): Promise<{ outcome: string; loaded?: LoadedStep }> {
    if (this.redis.isCluster) throw new InterlockError('INTERNAL', 'a step runs in place only on a single Redis');
    const partial = this.holdsOthers(run, stepId, next.stepId);
    const args = this.commitArgs(stepId, status, result, next.stepId, started);
    // One array, spread once: a call with several spreads walks each through the iterator protocol.
    const argv = this.rr(run.id, this.keys.grants(run.session), this.keys.toolToggles()).concat(
      args,
      [next.holder, next.toolField],
      partial ? PARTIAL : [],
    );
    const r = await this.s.commitStep(...argv);
    if (!Array.isArray(r)) return { outcome: textResult('commitStep', r) };
    const [tag, ...rest] = r as unknown[];
    if (tag !== 'ok') textResult('commitStep', r, ['ok']);
    if (isArmed('after-commit')) await failPoint('after-commit');
    const l = loadStepResult(rest, 'commitStep');
    if (!partial) return { outcome: 'ok', loaded: await this.loaded(run.session, l.hash, l.grants, l.toggle) };
    // The result just written is the one sent (args[2]), so it is not read back.
    l.hash[F.stepResult(stepId)] = args[2];
    const after = advanceRun(run, l.hash, [stepId, next.stepId]);
    this.inPlace.add(after);
    const ready = this.ready.marker(after, l.hash);
    return {
      outcome: 'ok',
      loaded: { run: after, grants: parseGrants(run.session, l.grants), enabled: l.toggle !== '0', ...(ready ? { ready } : {}) },
    };
  }

  /**
   * Whether the caller's run holds every step's record but the two at hand as Redis does: committed
   * ones never change, and pending ones stay pending until their turn (a cancel, which may skip
   * them, shows in the run's status). A run that came out of such a commit still does (its other
   * steps are those plus the one it committed), so only a run read some other way is looked at.
   */
  private holdsOthers(run: RunRecord, stepId: string, nextId: string): boolean {
    if (this.inPlace.has(run)) return true;
    for (const id in run.steps) {
      if (id === stepId || id === nextId) continue;
      const s = run.steps[id];
      if (s.items !== undefined || (s.status !== 'succeeded' && s.status !== 'skipped' && s.status !== 'pending')) return false;
    }
    return true;
  }

  private commitArgs(
    stepId: string,
    status: 'succeeded' | 'skipped',
    result: StepResult,
    nextStepId: string | undefined,
    started: Record<string, unknown> | undefined,
  ): string[] {
    const ev = status === 'succeeded' ? { durationMs: result.durationMs } : { note: result.note };
    return [stepId, status, j(result), nextStepId ?? '', String(Date.now()), j(ev), started ? j(started) : ''];
  }

  /**
   * Runs `then` (an enqueue, on the queues' connection) behind the write `send` makes. On one
   * connection it goes out at once, right behind the write, which Redis applies first, and in the
   * same socket write (see together): one round trip and one AOF sync for both; if the write finds
   * the run ended, the job it did not need finds that too and does nothing. On a cluster the run and
   * the queue live on different nodes and nothing orders the two, so it waits for the write and
   * runs only when `proceed` says so. Either way the write marked the step ready, so a crash before
   * the enqueue leaves work for the reconciler, not a stranded run. An armed fail point sits
   * between the two.
   */
  private async thenEnqueue<T>(
    send: () => Promise<T>,
    then: (() => Promise<unknown>) | undefined,
    proceed: (r: T) => boolean = () => true,
    point?: FailPoint,
  ): Promise<T> {
    if (!then) return send();
    if (this.redis.isCluster || (point && isArmed(point))) {
      const r = await send();
      if (proceed(r)) {
        if (point) await failPoint(point);
        await then();
      }
      return r;
    }
    this.together();
    const [r] = await Promise.all([send(), then()]);
    return r;
  }

  /**
   * Holds this connection's writes to the end of the event loop's turn, so the commands sent one
   * after another in it (a transition script, then the enqueue behind it, which BullMQ sends a few
   * microtasks later) reach Redis in one socket write. Redis reads them together and answers both
   * after one AOF sync; at appendfsync always a command that arrives apart comes in while Redis
   * syncs the one before it, and waits for a sync of its own. Single Redis only.
   */
  private together(): void {
    const socket = (this.redis as unknown as { stream?: Socket }).stream;
    if (!socket || socket.writableCorked > 0) return;
    socket.cork();
    setImmediate(() => socket.uncork());
  }

  async failStep(
    runId: string,
    stepId: string,
    stepStatus: Extract<StepStatus, 'failed' | 'in_doubt' | 'denied'>,
    runStatus: Extract<RunStatus, 'failed' | 'needs_attention' | 'denied'>,
    result: StepResult,
    error: ErrorInfo,
  ): Promise<string> {
    return textResult(
      'failStep',
      await this.s.failStep(
        ...this.rr(runId),
        stepId,
        stepStatus,
        j({ ...result, error }),
        runStatus,
        String(Date.now()),
        j(error),
      ),
    );
  }

  /**
   * Pauses the run at a write. Returns the confirmation, or undefined when the run could not pause.
   * Only what the run hash does not already say is stored in the confirmation's JSON: its id,
   * run, step, workflow, session, status, deadline and hash are read from their own fields.
   */
  async openGate(
    run: RunRecord,
    stepId: string,
    payload: ConfirmationPayload,
    ttlMs: number,
  ): Promise<ConfirmationRecord | undefined> {
    const seq =
      Object.keys(run.steps).indexOf(stepId) * 1000 + (run.steps[stepId]?.attempts ?? 0) * 10 + Math.floor(Math.random() * 10);
    const now = Date.now();
    const rec: ConfirmationRecord = {
      ...payload,
      id: confirmationId(run.id, seq),
      runId: run.id,
      stepId,
      workflow: run.workflow,
      session: run.session,
      status: 'pending',
      createdAt: now,
      expiresAt: now + ttlMs,
    };
    const { argumentsHash, ...shown } = payload;
    // On a cluster the pending index is in another slot: its entry goes first, and one whose
    // confirmation was never written is dropped by the sweeper at its deadline.
    if (this.redis.isCluster) await this.redis.zadd(this.keys.pendingConfirmations(), rec.expiresAt, rec.id);
    const r = textResult(
      'openGate',
      await this.s.openGate(
        ...this.rr(run.id, this.keys.pendingConfirmations()),
        stepId,
        rec.id,
        j({ ...shown, createdAt: now }),
        argumentsHash,
        String(rec.expiresAt),
        String(now),
        F.conf(rec.id),
        String(payload.policy?.kind === 'rule' && payload.policy.require ? payload.policy.require.approvers : ''),
      ),
    );
    if (r !== 'ok') return undefined;
    await failPoint('after-open-gate');
    return rec;
  }

  async getConfirmation(cid: string): Promise<ConfirmationRecord | undefined> {
    return (await this.readForDecision(cid))?.conf;
  }

  /**
   * A confirmation with what a decision on it needs besides (one HMGET): the run's definition
   * version, so an approval can send the step's job right behind the decision, and the fields read,
   * from which the decided record is made without reading it back.
   */
  async readForDecision(cid: string): Promise<DecisionRead | undefined> {
    const runId = runIdOfConfirmation(cid);
    if (!runId) return undefined;
    const names = [
      F.conf(cid),
      F.confStatus(cid),
      F.confDecision(cid),
      F.confHash(cid),
      F.confExpiresAt(cid),
      F.confStep(cid),
      F.confApprovals(cid),
      'workflow',
      'session',
      'owner',
      'version',
    ];
    const values = await this.redis.hmget(this.keys.run(runId), ...names);
    const raw: Record<string, string> = {};
    names.forEach((n, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) raw[n] = v;
    });
    const conf = confirmationFrom(runId, cid, raw);
    return conf && { conf, raw, ...(raw.version ? { version: raw.version } : {}) };
  }

  async requireConfirmation(cid: string): Promise<ConfirmationRecord> {
    const c = await this.getConfirmation(cid);
    if (!c) throw new InterlockError('CONFIRMATION_NOT_FOUND', `No confirmation with id '${cid}'`);
    return c;
  }

  /**
   * Pending confirmations come from their index, soonest deadline first. Any other listing walks
   * the runs, newest first, and reads the confirmations each run holds (an index of every
   * confirmation ever opened would cost each paused run another 130 B of Redis); its cursor is
   * the run's place in the runs index × 1000 + how many of that run's confirmations were listed.
   */
  async listConfirmations(
    opts: { status?: ConfirmationStatus; limit?: number; cursor?: number } = {},
  ): Promise<{ confirmations: ConfirmationRecord[]; nextCursor?: number }> {
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    if (opts.status === 'pending') {
      const offset = opts.cursor ?? 0;
      const ids = await this.redis.zrange(this.keys.pendingConfirmations(), offset, offset + limit - 1);
      const recs = await Promise.all(ids.map((id) => this.getConfirmation(id)));
      const confirmations = recs.filter((c): c is ConfirmationRecord => !!c && c.status === 'pending');
      return { confirmations, nextCursor: ids.length === limit ? offset + limit : undefined };
    }
    const out: ConfirmationRecord[] = [];
    let runAt = Math.floor((opts.cursor ?? 0) / 1000);
    let skip = (opts.cursor ?? 0) % 1000;
    for (;;) {
      const ids = await this.redis.zrevrange(this.keys.runsIndex(), runAt, runAt + 99);
      if (ids.length === 0) return { confirmations: out };
      const hashes = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.run(id))));
      for (let i = 0; i < ids.length; i++, runAt++, skip = 0) {
        const h = hashes[i];
        const recs = Object.keys(h)
          .filter((f) => /^c\d+$/.test(f))
          .map((f) => confirmationFrom(ids[i], confirmationId(ids[i], Number(f.slice(1))), h))
          .filter((c): c is ConfirmationRecord => !!c)
          .sort((a, b) => b.createdAt - a.createdAt);
        for (let k = skip; k < recs.length; k++) {
          if (out.length === limit) return { confirmations: out, nextCursor: runAt * 1000 + k };
          if (!opts.status || recs[k].status === opts.status) out.push(recs[k]);
        }
      }
    }
  }

  /**
   * Applies a decision on a confirmation; see decide-n.lua for the rules (first decision counts,
   * hash binding, quorum). The audit entry is written by the script on a single Redis, and just
   * after it on a cluster, where the audit stream lives in another slot.
   */
  async decide(
    cid: string,
    decision: 'approve' | 'deny' | 'expire',
    opts: {
      argumentsHash?: string;
      by?: string;
      channel?: DecisionChannel;
      remember?: unknown;
      grantMade?: string;
      planHash?: string;
    } = {},
    with_: DecideWith = {},
  ): Promise<DecideOutcome> {
    const runId = runIdOfConfirmation(cid);
    if (!runId) throw new InterlockError('CONFIRMATION_NOT_FOUND', `No confirmation with id '${cid}'`);
    const now = Date.now();
    const err: ErrorInfo =
      decision === 'deny'
        ? { code: 'DENIED', message: `Denied by ${opts.by ?? 'a person'}: the tool was not called` }
        : { code: 'CONFIRMATION_EXPIRED', message: 'The confirmation expired before anyone decided; the tool was not called' };
    if (decision === 'approve') await this.readyAhead(runId);
    const by = opts.by ?? 'unknown';
    const draft = auditDraftOf(with_.read ? with_.read.conf : await this.getConfirmation(cid), cid, runId, now, opts);
    const record = j({
      by,
      ...(opts.channel ? { channel: opts.channel } : {}),
      at: now,
      ...(opts.remember ? { remember: 'session' } : {}),
      ...(opts.grantMade ? { grantMade: opts.grantMade } : {}),
      ...(opts.planHash ? { planHash: opts.planHash } : {}),
    });
    const sent = () =>
      this.s
        .decide(
          ...this.rr(runId, this.keys.pendingConfirmations(), this.keys.audit()),
          cid,
          decision,
          opts.argumentsHash ?? '',
          String(now),
          record,
          j(err),
          j({ error: err, finishedAt: now }),
          F.conf(cid),
          auditDraftJson(draft),
          auditMinId(this.audit.retentionMs, now),
          by,
        )
        .then((res) =>
          taggedResult(
            'decide',
            res,
            ['approved', 'denied', 'expired', 'decided', 'mismatch', 'missing', 'partial', 'self', 'duplicate'],
            2,
          ),
        );
    // On one Redis the step's job goes out right behind the decision (see thenEnqueue). On a
    // cluster the caller enqueues once the decision and its audit entry (written after it there) are in.
    const then = this.redis.isCluster ? undefined : with_.enqueue;
    const {
      tag: outcome,
      items: [stepId, detail, session, workflow, version],
    } = await this.thenEnqueue(sent, then, (r) => r.tag === 'approved', 'after-decide');
    if (outcome === 'missing') throw new InterlockError('CONFIRMATION_NOT_FOUND', `No confirmation with id '${cid}'`);
    if (this.redis.isCluster) await this.auditAfter(outcome, draft, decision);
    // On a cluster the pending index is cleaned without holding up the decision (on one Redis the
    // script did it); the sweeper drops any entry whose confirmation was decided already.
    const final = outcome === 'approved' || outcome === 'denied' || outcome === 'expired';
    if (final && this.redis.isCluster) this.redis.zrem(this.keys.pendingConfirmations(), cid).catch(() => {});
    if (outcome === 'decided') return { outcome, runId, stepId, status: detail as ConfirmationStatus };
    if (outcome === 'mismatch') return { outcome, runId, stepId, shownHash: detail };
    if (outcome === 'partial') return { outcome, runId, stepId, count: Number(detail) };
    if (outcome === 'self' || outcome === 'duplicate') return { outcome, runId, stepId, who: detail };
    if (outcome === 'approved') {
      if (workflow === undefined || version === undefined)
        throw new InterlockError('INTERNAL', `Script decide approved ${cid} without the run's workflow and version`);
      return {
        outcome,
        runId,
        stepId,
        session: session || defaultSession(runId),
        workflow,
        version,
        enqueued: then !== undefined,
        ...(with_.read ? { record: decidedRecord(runId, cid, with_.read, record) } : {}),
      };
    }
    return { outcome, runId, stepId };
  }

  private async auditAfter(outcome: string, draft: AuditDraft, asked: 'approve' | 'deny' | 'expire'): Promise<void> {
    const decision: AuditDecision | undefined =
      outcome === 'approved'
        ? 'approve'
        : outcome === 'partial'
          ? 'approval'
          : outcome === 'denied'
            ? 'deny'
            : outcome === 'expired'
              ? 'expire'
              : undefined;
    if (decision) await this.audit.append(decision === 'expire' && asked !== 'expire' ? 'expire' : decision, draft);
  }

  /** A pinned definition by name and version. */
  async definition(workflow: string, version: string): Promise<WorkflowDef> {
    const [def] = await this.defs.of([{ workflow, version }]);
    return def;
  }

  /**
   * Records a person's approval of the run's plan (replacing an earlier one: a new plan is made
   * where the old one stopped covering the run). Refused once the run has ended.
   */
  async approvePlan(runId: string, approval: PlanApproval): Promise<void> {
    const status = await this.runStatus(runId);
    if (status === undefined) throw new InterlockError('RUN_NOT_FOUND', `No run with id '${runId}'`);
    if (TERMINAL.has(status)) throw new InterlockError('RUN_FINISHED', `Run ${runId} already ended as ${status}`);
    await this.redis.hset(this.keys.run(runId), 'plan', j(approval));
    await this.appendEvent(runId, 'run.plan_approved', undefined, {
      planHash: approval.plan.planHash,
      by: approval.by,
      ...(approval.channel ? { channel: approval.channel } : {}),
    });
  }

  async endSession(session: string): Promise<void> {
    await this.grants.endSession(session);
  }

  /**
   * Records a decision nobody was asked for (a grant or an approved plan covers the write) as an
   * approved confirmation naming who, which channel and the hash, and with a grant counts its use
   * in the same script on a single Redis (decideAuto-n.lua). On a cluster the session's grants are
   * in another slot: the use is counted first, so a crash between spends a use and sends nothing.
   */
  async decideAuto(
    run: RunRecord,
    stepId: string,
    payload: ConfirmationPayload,
    decision: { by: string; channel: 'grant' | 'plan'; grantId?: string; planHash?: string },
    grant?: Pick<Grant, 'id' | 'session'>,
  ): Promise<{ outcome: 'ok' | 'already'; confirmationId: string } | { outcome: 'refused'; reason: string }> {
    const now = Date.now();
    const seq =
      Object.keys(run.steps).indexOf(stepId) * 1000 + (run.steps[stepId]?.attempts ?? 0) * 10 + Math.floor(Math.random() * 10);
    const cid = confirmationId(run.id, seq);
    const use: GrantUse = { runId: run.id, stepId, confirmationId: cid, argumentsHash: payload.argumentsHash, at: now };
    const inScript = grant !== undefined && !this.redis.isCluster;
    if (grant && this.redis.isCluster) {
      const used = await this.grants.use(grant, use);
      if (used !== 'ok') return { outcome: 'refused', reason: used };
    }
    const { argumentsHash, ...shown } = payload;
    const keys = [this.keys.run(run.id), this.keys.events(run.id)];
    if (inScript) keys.push(this.keys.grants(grant.session), this.keys.grantUses(grant.session, grant.id));
    const { tag, items } = taggedResult(
      'decideAuto',
      await this.s.decideAuto(
        String(keys.length),
        ...keys,
        stepId,
        cid,
        j({ ...shown, createdAt: now }),
        argumentsHash,
        String(now),
        j({ ...decision, at: now, confirmationId: cid, argumentsHash }),
        F.conf(cid),
        inScript ? grant.id : '',
        j(use),
      ),
      ['ok', 'already', 'run', 'step', 'missing', 'revoked', 'expired', 'spent'],
    );
    if (tag === 'ok' || tag === 'already') return { outcome: tag, confirmationId: cid };
    return { outcome: 'refused', reason: tag === 'run' || tag === 'step' ? `${tag} ${items[0]}` : tag };
  }

  async cancelRun(runId: string, by = 'unknown'): Promise<{ cancelled: boolean; status: string; confirmationId?: string }> {
    const err: ErrorInfo = { code: 'CANCELLED', message: `Cancelled by ${by}` };
    const {
      tag,
      items: [detail],
    } = taggedResult(
      'cancelRun',
      await this.s.cancelRun(...this.rr(runId, this.keys.pendingConfirmations()), String(Date.now()), j(err), 'c'),
      ['cancelled', 'finished', 'missing'],
      1,
    );
    if (tag === 'missing') throw new InterlockError('RUN_NOT_FOUND', `No run with id '${runId}'`);
    if (tag === 'finished') return { cancelled: false, status: detail };
    if (detail && this.redis.isCluster) await this.redis.zrem(this.keys.pendingConfirmations(), detail);
    return { cancelled: true, status: 'cancelled', ...(detail ? { confirmationId: detail } : {}) };
  }

  /**
   * Resolves a step left in doubt; see resolveStep-n.lua. `done` needs the output the operator
   * found; `nextStepId` is the step that runs after it; the step that runs next is marked ready
   * with `generation`, the job the caller enqueues.
   */
  async resolveStep(
    runId: string,
    stepId: string,
    r: StepResolution,
    nextStepId: string | undefined,
    generation: string,
  ): Promise<{ ok: true; runStatus: RunStatus } | { ok: false; runStatus: string; stepStatus: string }> {
    const now = Date.now();
    const by = r.by ?? 'unknown';
    const err: ErrorInfo = {
      code: 'RESOLVED_FAILED',
      message: `Marked failed by ${by} after the write was in doubt${r.reason ? `: ${r.reason}` : ''}`,
    };
    const result: StepResult =
      r.action === 'done'
        ? { output: r.output, note: `marked done by ${by} after the write was in doubt`, finishedAt: now }
        : { error: err, finishedAt: now };
    if (r.action === 'retry' || nextStepId) await this.readyAhead(runId);
    const { tag, items: res } = taggedResult(
      'resolveStep',
      await this.s.resolveStep(
        ...this.rr(runId),
        stepId,
        r.action,
        String(now),
        j(result),
        nextStepId ?? '',
        j({ action: r.action, by, ...(r.reason ? { reason: r.reason } : {}) }),
        j(err),
        generation,
      ),
      ['ok', 'state', 'missing'],
    );
    if (tag === 'missing') throw new InterlockError('RUN_NOT_FOUND', `No run with id '${runId}'`);
    if (tag === 'ok') return { ok: true, runStatus: res[0] as RunStatus };
    return { ok: false, runStatus: res[0], stepStatus: res[1] };
  }

  /** Pauses the run at a step whose tool changed since it was pinned, or whose connector needs a login; see blockStep-n.lua. */
  async blockStep(
    runId: string,
    stepId: string,
    error: ErrorInfo,
    data: Record<string, unknown>,
    opts: { neverSent?: boolean } = {},
  ): Promise<string> {
    return textResult(
      'blockStep',
      await this.s.blockStep(
        ...this.rr(runId),
        stepId,
        String(Date.now()),
        j(error),
        j({ ...data, ...error }),
        opts.neverSent ? '1' : '',
      ),
    );
  }

  /**
   * Resumes a run blocked by blockStep, marking the step ready with `generation` (the job the
   * caller enqueues); 'skip' when it is no longer blocked for that reason (`code`: a changed tool,
   * or a connector waiting for a login).
   */
  async unblockStep(
    runId: string,
    stepId: string,
    data: Record<string, unknown>,
    generation: string,
    code: 'TOOL_CHANGED' | 'CONNECTOR_LOGIN_REQUIRED' = 'TOOL_CHANGED',
  ): Promise<'ok' | 'skip'> {
    await this.readyAhead(runId);
    return textResult(
      'unblockStep',
      await this.s.unblockStep(...this.rr(runId), stepId, String(Date.now()), j(data), generation, code),
      ['ok', 'skip'],
    );
  }

  /** The run record and its raw hash (for the ready marker and the last job id). */
  async getRunHash(runId: string): Promise<{ run: RunRecord; hash: Record<string, string> } | undefined> {
    const h = await this.redis.hgetall(this.keys.run(runId));
    return h.id ? { run: await this.toRun(h), hash: h } : undefined;
  }

  /** Puts a pending confirmation back in the pending index (repair of an index that lost it). */
  async indexPendingConfirmation(cid: string, expiresAt: number): Promise<void> {
    await this.redis.zadd(this.keys.pendingConfirmations(), expiresAt, cid);
  }

  /** Whether a confirmation is in the pending index. */
  async pendingIndexed(cid: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys.pendingConfirmations(), cid)) !== null;
  }

  async dropPendingConfirmation(cid: string): Promise<void> {
    await this.redis.zrem(this.keys.pendingConfirmations(), cid);
  }

  /** Confirmations whose deadline passed, oldest first. */
  async dueConfirmations(now = Date.now(), limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.pendingConfirmations(), '-inf', now, 'LIMIT', 0, limit);
  }

  async appendEvent(runId: string, type: RunEventType, stepId: string | undefined, data: Record<string, unknown>): Promise<void> {
    await this.redis.xadd(
      this.keys.events(runId),
      'MAXLEN',
      '~',
      '10000',
      '*',
      'type',
      type,
      'at',
      String(Date.now()),
      'step',
      stepId ?? '',
      'data',
      j(data),
    );
  }

  /** Events after `afterId` (exclusive); `blockMs` waits for new ones. */
  async readEvents(
    runId: string,
    afterId = '0',
    opts: { count?: number; blockMs?: number; client?: RedisClient } = {},
  ): Promise<RunEvent[]> {
    const client = opts.client ?? this.redis;
    const count = String(opts.count ?? 500);
    const key = this.keys.events(runId);
    const res =
      opts.blockMs !== undefined
        ? await client.xread('COUNT', count, 'BLOCK', opts.blockMs, 'STREAMS', key, afterId)
        : await client.xread('COUNT', count, 'STREAMS', key, afterId);
    const entries = res?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => parseEvent(runId, id, fields));
  }

  /** The newest `count` events, newest first: what a page says about what just happened. */
  async recentEvents(runId: string, count = 50): Promise<RunEvent[]> {
    const entries = await this.redis.xrevrange(this.keys.events(runId), '+', '-', 'COUNT', count);
    return entries.map(([id, fields]) => parseEvent(runId, id, fields));
  }

  async toolEnabled(connector: string, tool: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.toolToggles(), `${connector}.${tool}`)) !== '0';
  }

  async setToolEnabled(connector: string, tool: string, enabled: boolean): Promise<void> {
    await this.redis.hset(this.keys.toolToggles(), `${connector}.${tool}`, enabled ? '1' : '0');
  }

  async disabledTools(): Promise<Set<string>> {
    const h = await this.redis.hgetall(this.keys.toolToggles());
    return new Set(
      Object.entries(h)
        .filter(([, v]) => v === '0')
        .map(([k]) => k),
    );
  }
}
