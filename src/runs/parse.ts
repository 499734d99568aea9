import type { WorkflowDef } from '../workflows/types.ts';
import { InterlockError } from '../errors.ts';
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

/** The run-level fields parseRun and the ready marker read (the rest of a run hash is per step or per confirmation). */
export const RUN_FIELDS: readonly string[] = [
  'id',
  'workflow',
  'version',
  'session',
  'owner',
  'label',
  'status',
  'inputs',
  'createdAt',
  'updatedAt',
  'error',
  'plan',
  'parent',
  'parentStep',
  F.ready,
  F.readyGen,
  F.readyAt,
  F.job,
];

/** The fields parseRun reads for a step that is neither a loop nor waiting at a confirmation. */
export function stepFields(id: string): string[] {
  return [F.stepStatus(id), F.stepAttempts(id), F.stepResult(id), F.stepApproved(id), F.stepConf(id), F.stepIntent(id)];
}

/**
 * A run hash, with the definition it names (see RunStore.definitionOf). `known`: records of steps
 * the hash leaves out, read before by the caller (an in-place commit does not send the steps that
 * were committed when the caller read the run: a committed step's record never changes; see
 * commitStep-n.lua).
 */
export function parseRun(h: Record<string, string>, definition: WorkflowDef, known?: Map<string, StepRecord>): RunRecord {
  const steps: Record<string, StepRecord> = {};
  for (const s of definition.steps) {
    const prev = known?.get(s.id);
    if (prev) {
      // A long chain reads its run after every step: a committed step's record is the one it had.
      steps[s.id] = prev;
      continue;
    }
    const raw = h[F.stepResult(s.id)];
    const result = raw ? (JSON.parse(raw) as StepResult) : awaitingResult(h, s.id);
    steps[s.id] = {
      ...result,
      id: s.id,
      status: (h[F.stepStatus(s.id)] ?? 'pending') as StepStatus,
      attempts: Number(h[F.stepAttempts(s.id)] ?? 0),
      ...(h[F.stepConf(s.id)] ? { confirmationId: h[F.stepConf(s.id)] } : {}),
      ...(h[F.stepApproved(s.id)] ? { approvedHash: h[F.stepApproved(s.id)] } : {}),
      ...(h[F.stepIntent(s.id)] ? { intentAttempt: Number(h[F.stepIntent(s.id)]) } : {}),
    };
    if (s.kind === 'foreach' || s.kind === 'parallel') steps[s.id].items = parseItems(h, s.id);
  }
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
