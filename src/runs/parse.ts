import type { StepDef, WorkflowDef } from '../workflows/types.ts';
import { InterlockError } from '../errors.ts';
import { stepIndex } from '../workflows/step-index.ts';
import { isRunEventType } from './events.ts';
import { F, defaultSession } from './keys.ts';
import type {
  ConfirmationRecord,
  ConfirmationStatus,
  DecisionChannel,
  ErrorInfo,
  PlanApproval,
  ItemRecord,
  RunEvent,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
} from './records.ts';

/** How records come back out of Redis: a run hash and a stream entry, parsed. */

type StepResult = Omit<StepRecord, 'id' | 'status' | 'attempts' | 'approvedHash' | 'confirmationId'>;

export function parseEvent(runId: string, id: string, fields: string[]): RunEvent {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i]] = fields[i + 1];
  const type = m.type ?? '';
  // Every writer takes its name from RUN_EVENT_TYPES, so another name means the stream was written by something else.
  if (!isRunEventType(type)) throw new InterlockError('RUN_CORRUPT', `Run ${runId} has an event ${id} of unknown type '${type}'`);
  return {
    id,
    type,
    at: Number(m.at ?? 0),
    runId,
    ...(m.step ? { stepId: m.step } : {}),
    data: m.data ? (JSON.parse(m.data) as Record<string, unknown>) : {},
  };
}

/** A step waiting at its gate shows the arguments its confirmation holds (stored once, there). */
function awaitingResult(h: Record<string, string>, stepId: string): StepResult {
  const cid = h[F.stepConf(stepId)];
  const raw = cid && h[F.stepStatus(stepId)] === 'awaiting_confirmation' ? h[F.conf(cid)] : undefined;
  if (!raw) return {};
  const c = JSON.parse(raw) as { arguments?: Record<string, unknown> };
  return { ...(c.arguments ? { arguments: c.arguments } : {}), argumentsHash: h[F.confHash(cid)] };
}

/**
 * A run hash, with the definition it names (see RunStore.definitionOf). An in-place commit
 * answers only part of the hash; advanceRun applies that to the run the caller holds.
 */
export function parseRun(h: Record<string, string>, definition: WorkflowDef): RunRecord {
  const steps: Record<string, StepRecord> = {};
  for (const s of definition.steps) steps[s.id] = stepRecord(h, s.id, s.kind);
  return {
    id: h.id,
    workflow: h.workflow,
    version: h.version,
    session: h.session ?? defaultSession(h.id),
    ...(h.owner ? { owner: h.owner } : {}),
    ...(h.label ? { label: h.label } : {}),
    status: h.status as RunStatus,
    inputs: JSON.parse(h.inputs) as Record<string, unknown>,
    definition,
    createdAt: Number(h.createdAt),
    updatedAt: Number(h.updatedAt),
    ...(h.error ? { error: JSON.parse(h.error) as ErrorInfo } : {}),
    steps,
    ...(h.plan ? { plan: JSON.parse(h.plan) as PlanApproval } : {}),
    ...(h.parent ? { parent: { runId: h.parent, stepId: h.parentStep ?? '' } } : {}),
  };
}

function stepRecord(h: Record<string, string>, id: string, kind: StepDef['kind']): StepRecord {
  const raw = h[F.stepResult(id)];
  // The parsed result (a fresh object) becomes the record: the same fields in the same order as a
  // copy with these added, without the copy (a run's every step is parsed when a job loads it).
  const parsed: unknown = raw ? JSON.parse(raw) : awaitingResult(h, id);
  const rec = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as StepRecord;
  rec.id = id;
  rec.status = (h[F.stepStatus(id)] ?? 'pending') as StepStatus;
  rec.attempts = Number(h[F.stepAttempts(id)] ?? 0);
  const conf = h[F.stepConf(id)];
  if (conf) rec.confirmationId = conf;
  const approved = h[F.stepApproved(id)];
  if (approved) rec.approvedHash = approved;
  const intent = h[F.stepIntent(id)];
  if (intent) rec.intentAttempt = Number(intent);
  if (kind === 'foreach' || kind === 'parallel') rec.items = parseItems(h, id);
  return rec;
}

/**
 * The run-level fields that change while a run goes on; the others (id, workflow, version,
 * session, owner, label, inputs, createdAt, parent) are written once, when the run is created.
 */
export const LIVE_RUN_FIELDS: readonly string[] = ['status', 'updatedAt', 'error', 'plan', F.ready, F.readyGen, F.readyAt, F.job];

/**
 * The run after an in-place commit (commitStep-n.lua, partial): `h` holds the live run fields and
 * the records of the steps `ids`; everything else is `prev`'s, since nothing else of the run
 * changed (see RunStore.commitStepInPlace). The steps record is `prev`'s own, updated in place:
 * a hundred-step chain would otherwise copy a hundred records at every step. The caller (the job
 * that runs the chain) holds `prev` and no longer reads it as the run before the commit.
 */
export function advanceRun(prev: RunRecord, h: Record<string, string>, ids: readonly string[]): RunRecord {
  const steps = prev.steps;
  const defs = prev.definition.steps;
  for (const id of ids) steps[id] = stepRecord(h, id, defs[stepIndex(defs, id)]?.kind ?? 'call');
  const { error: _error, plan: _plan, ...fixed } = prev;
  return {
    ...fixed,
    status: h.status as RunStatus,
    updatedAt: Number(h.updatedAt),
    ...(h.error ? { error: JSON.parse(h.error) as ErrorInfo } : {}),
    steps,
    ...(h.plan ? { plan: JSON.parse(h.plan) as PlanApproval } : {}),
  };
}

/** The items of a loop or parallel step: fields `s:<stepId>/<key>:…` of the run hash. */
function parseItems(h: Record<string, string>, stepId: string): Record<string, ItemRecord> {
  const prefix = `s:${stepId}/`;
  const out: Record<string, ItemRecord> = {};
  for (const [field, value] of Object.entries(h)) {
    if (!field.startsWith(prefix) || !field.endsWith(':status')) continue;
    const key = field.slice(prefix.length, -':status'.length);
    const item = `${stepId}/${key}`;
    const result = h[F.stepResult(item)] ? (JSON.parse(h[F.stepResult(item)]) as Omit<ItemRecord, 'status' | 'attempts'>) : {};
    out[key] = {
      ...result,
      status: value as StepStatus,
      attempts: Number(h[F.stepAttempts(item)] ?? 0),
      ...(h[F.stepIntent(item)] ? { intentAttempt: Number(h[F.stepIntent(item)]) } : {}),
    };
  }
  return out;
}

/**
 * A confirmation from the fields of its run hash: its JSON (what was shown), status, decision,
 * hash, deadline and step, and the run's workflow and session.
 */
export function confirmationFrom(runId: string, cid: string, h: Record<string, string>): ConfirmationRecord | undefined {
  const raw = h[F.conf(cid)];
  if (!raw) return undefined;
  const shown = JSON.parse(raw) as Omit<
    ConfirmationRecord,
    'id' | 'runId' | 'stepId' | 'workflow' | 'session' | 'owner' | 'argumentsHash' | 'status' | 'expiresAt'
  >;
  const rec: ConfirmationRecord = {
    ...shown,
    id: cid,
    runId,
    stepId: h[F.confStep(cid)] ?? '',
    workflow: h.workflow ?? '',
    session: h.session ?? defaultSession(runId),
    ...(h.owner ? { owner: h.owner } : {}),
    argumentsHash: h[F.confHash(cid)] ?? '',
    status: (h[F.confStatus(cid)] ?? 'pending') as ConfirmationStatus,
    expiresAt: Number(h[F.confExpiresAt(cid)] ?? 0),
  };
  const decision = h[F.confDecision(cid)];
  if (decision) {
    const d = JSON.parse(decision) as {
      by?: string;
      at?: number;
      remember?: 'session';
      channel?: DecisionChannel;
      grantId?: string;
      planHash?: string;
      grantMade?: string;
    };
    rec.decidedBy = d.by;
    rec.decidedAt = d.at;
    if (d.channel) rec.channel = d.channel;
    if (d.remember) rec.remember = d.remember;
    if (d.grantId) rec.grantId = d.grantId;
    if (d.planHash) rec.planHash = d.planHash;
    if (d.grantMade) rec.grantMade = d.grantMade;
  }
  const approvals = h[F.confApprovals(cid)];
  if (approvals) {
    rec.approvals = (JSON.parse(approvals) as Array<{ by?: string; channel?: DecisionChannel; at?: number }>).map((a) => ({
      by: a.by ?? 'unknown',
      ...(a.channel ? { channel: a.channel } : {}),
      ...(a.at !== undefined ? { at: a.at } : {}),
    }));
  }
  return rec;
}
