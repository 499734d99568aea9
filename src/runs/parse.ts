import type { WorkflowDef } from '../workflows/types.ts';
import { InterlockError } from '../errors.ts';
import { isRunEventType } from './events.ts';
import { F, defaultSession } from './keys.ts';
import type {
  ConfirmationRecord,
  ConfirmationStatus,
  DecisionChannel,
  Grant,
  ErrorInfo,
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

/** A run hash, with the definition it names (see RunStore.definitionOf). */
export function parseRun(h: Record<string, string>, definition: WorkflowDef): RunRecord {
  const steps: Record<string, StepRecord> = {};
  for (const s of definition.steps) {
    const result = h[F.stepResult(s.id)] ? (JSON.parse(h[F.stepResult(s.id)]) as StepResult) : awaitingResult(h, s.id);
    steps[s.id] = {
      ...result,
      id: s.id,
      status: (h[F.stepStatus(s.id)] ?? 'pending') as StepStatus,
      attempts: Number(h[F.stepAttempts(s.id)] ?? 0),
      ...(h[F.stepConf(s.id)] ? { confirmationId: h[F.stepConf(s.id)] } : {}),
      ...(h[F.stepApproved(s.id)] ? { approvedHash: h[F.stepApproved(s.id)] } : {}),
      ...(h[F.stepIntent(s.id)] ? { intentAttempt: Number(h[F.stepIntent(s.id)]) } : {}),
    };
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
  };
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
    const d = JSON.parse(decision) as { by?: string; at?: number; remember?: 'session'; channel?: DecisionChannel };
    rec.decidedBy = d.by;
    rec.decidedAt = d.at;
    if (d.channel) rec.channel = d.channel;
    if (d.remember) rec.remember = d.remember;
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

/**
 * A stored grant: JSON naming who decided and for whose runs, or the bare decision written by
 * versions before grants had owners (which then applies only to runs without an owner).
 */
export function parseGrant(raw: string | null | undefined): Grant | undefined {
  if (raw === 'approve' || raw === 'deny') return { decision: raw };
  if (raw?.[0] !== '{') return undefined;
  try {
    const g = JSON.parse(raw) as Partial<Grant>;
    return g.decision === 'approve' || g.decision === 'deny' ? (g as Grant) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The grant if it was made for runs of this owner, by that owner: another principal's grant never
 * applies, and neither does one somebody else made in this owner's session.
 */
export function grantFor(g: Grant | undefined, owner: string | undefined): Grant | undefined {
  if (!g || (g.owner ?? undefined) !== (owner ?? undefined)) return undefined;
  return owner === undefined || g.by === owner ? g : undefined;
}
