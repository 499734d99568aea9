/**
 * Every event a run's stream can hold, the one list of their names. The Lua transitions in
 * scripts/ write most of them and the worker appends the rest (RunStore.appendEvent);
 * test/runs/events.test.ts checks each script's XADD against this list, so a name is spelled once.
 */
export const RUN_EVENT_TYPES = [
  'run.created',
  'run.succeeded',
  'run.failed',
  'run.denied',
  'run.cancelled',
  'run.needs_attention',
  'step.started',
  'step.succeeded',
  'step.skipped',
  'step.failed',
  'step.in_doubt',
  'step.denied',
  'step.blocked',
  'step.unblocked',
  'step.requeued',
  'step.resolved',
  'step.retrying',
  'step.aborted',
  'step.handed_back',
  'step.ungated_by_override',
  'confirmation.requested',
  'confirmation.approved',
  'confirmation.approval_recorded',
  'confirmation.denied',
  'confirmation.expired',
  'confirmation.remembered',
  'step.approved_by_rule',
  'step.denied_by_rule',
] as const;

export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);

export function isRunEventType(s: string): s is RunEventType {
  return KNOWN.has(s);
}
