/**
 * What let a write through, or stopped it, without a person asking now goes on record: a
 * remembered decision (a grant), an approved plan or a policy rule, in the run's events and in
 * the audit (see runs/audit.ts). A denied write is never sent, and its step ends denied.
 */
import { verdictWords } from '../policy/words.ts';
import type { StepDeps, StepJob } from './execute.ts';
import type { Resolved, RuleVerdict, StepOp } from './plan.ts';

type CallOp = Extract<StepOp, { kind: 'call' }>;
type DenyOp = Extract<StepOp, { kind: 'deny' }>;

/** A remembered deny covers the write: its use is counted, and the step ends denied without a call. */
export async function denyByGrant(d: StepDeps, j: StepJob, op: DenyOp): Promise<string> {
  const { run, step } = j;
  if (op.grant && !op.grant.id.startsWith('legacy-'))
    await d.store.grants.use(op.grant, {
      runId: run.id,
      stepId: step.id,
      confirmationId: '',
      argumentsHash: op.argumentsHash,
      at: Date.now(),
    });
  const by = op.by ? ` (made by ${op.by}${op.grant ? `, grant ${op.grant.id}` : ''})` : '';
  await d.store.audit.append('deny', {
    ...auditDraft(j, op),
    source: { kind: 'grant', ...(op.grant ? { grant: op.grant.id } : {}), ...(op.by ? { by: op.by } : {}) },
  });
  await d.store.failStep(
    run.id,
    step.id,
    'denied',
    'denied',
    { arguments: op.args, argumentsHash: op.argumentsHash, note: `denied by a decision remembered for this session${by}` },
    {
      code: 'DENIED',
      message: `A decision remembered for this session${by} denies ${step.connector}.${step.tool}; the tool was not called`,
    },
  );
  return 'denied by grant';
}

/**
 * What let the write through without a person asking now goes on record before it is sent: a
 * grant, an approved plan or a policy rule, in the run's events and in the audit (see runs/audit.ts).
 */
export async function recordGateNote(d: StepDeps, j: StepJob, op: CallOp, confirmationId?: string): Promise<void> {
  const { connector, tool } = j.step;
  const draft = {
    argumentsHash: op.argumentsHash,
    runId: j.run.id,
    stepId: j.step.id,
    workflow: j.run.workflow,
    connector,
    tool,
    at: Date.now(),
  };
  if (op.note?.kind === 'remembered') {
    const g = op.note.grant;
    await d.store.audit.append('approve', {
      ...draft,
      source: { kind: 'grant', ...(g?.id ? { grant: g.id } : {}), ...(g?.by ? { by: g.by } : {}) },
    });
    await d.store.appendEvent(j.run.id, 'confirmation.remembered', j.step.id, {
      connector,
      tool,
      argumentsHash: op.argumentsHash,
      grantedBy: g?.by ?? 'unknown',
      ...(g?.channel ? { channel: g.channel } : {}),
      ...(g ? { grantId: g.id } : {}),
      ...(confirmationId ? { confirmationId } : {}),
    });
  } else if (op.note?.kind === 'planned') {
    await d.store.audit.append('approve', { ...draft, source: { kind: 'plan', planHash: op.note.planHash } });
    await d.store.appendEvent(j.run.id, 'confirmation.planned', j.step.id, {
      connector,
      tool,
      argumentsHash: op.argumentsHash,
      planHash: op.note.planHash,
      approvedBy: op.note.by,
      ...(confirmationId ? { confirmationId } : {}),
    });
  } else if (op.note?.kind === 'rule') {
    const v = op.note.verdict;
    await d.store.audit.append('approve', {
      ...draft,
      source: { kind: 'rule', rule: v.rule },
      ...(v.money ? { money: v.money } : {}),
    });
    await d.store.appendEvent(j.run.id, 'step.approved_by_rule', j.step.id, {
      connector,
      tool,
      argumentsHash: op.argumentsHash,
      rule: v.rule,
      ...(v.money ? { money: v.money } : {}),
      message: verdictWords(v),
    });
  } else if (op.note?.kind === 'ungatedByOverride') {
    await d.store.appendEvent(j.run.id, 'step.ungated_by_override', j.step.id, {
      connector,
      tool,
      loosened: op.note.loosened,
      argumentsHash: op.argumentsHash,
    });
  }
}

/** A policy rule denies the write: it is never sent, and the step and the audit name the rule. */
export async function denyByRule(d: StepDeps, j: StepJob, v: RuleVerdict, r: Resolved): Promise<string> {
  const { run, step } = j;
  const words = verdictWords(v);
  await d.store.audit.append('deny', {
    ...auditDraft(j, r),
    source: { kind: 'rule', rule: v.rule },
    ...(v.money ? { money: v.money } : {}),
  });
  await d.store.appendEvent(run.id, 'step.denied_by_rule', step.id, {
    rule: v.rule,
    argumentsHash: r.argumentsHash,
    message: words,
  });
  await d.store.failStep(
    run.id,
    step.id,
    'denied',
    'denied',
    { arguments: r.args, argumentsHash: r.argumentsHash, note: words },
    { code: 'DENIED', message: `${words} ${step.connector}.${step.tool} was not called.` },
  );
  return `denied by rule ${v.rule}`;
}

export function auditDraft(j: StepJob, r: Resolved) {
  return {
    argumentsHash: r.argumentsHash,
    runId: j.run.id,
    stepId: j.step.id,
    workflow: j.run.workflow,
    connector: j.step.connector,
    tool: j.step.tool,
    at: Date.now(),
  };
}
