/**
 * What a unit's plan decided without asking anyone, put on record before anything is sent, as
 * call.ts and execute.ts do for a step: a policy rule's approve or deny, a grant's approve or deny
 * (with the grant's use counted), a read that is one only because an override says so. The run's
 * events and the audit name the loop's step and the item (`item`), the rule or grant, and the hash.
 */
import { verdictWords } from '../../policy/words.ts';
import type { ErrorInfo } from '../../runs/records.ts';
import type { StepDeps, StepJob } from '../execute.ts';
import type { ActionOp } from '../plan.ts';
import type { Unit } from './units.ts';

type Op<K extends ActionOp['kind']> = Extract<ActionOp, { kind: K }>;

/** How a unit stopped without a call, for its item record. */
export interface UnitEnd {
  unit: Unit;
  status: 'skipped' | 'failed' | 'denied' | 'in_doubt';
  error?: ErrorInfo;
  note?: string;
  args?: Record<string, unknown>;
}

function draft(j: StepJob, unit: Unit, argumentsHash: string) {
  return {
    argumentsHash,
    runId: j.run.id,
    stepId: j.step.id,
    item: unit.key,
    workflow: j.run.workflow,
    connector: unit.step.connector,
    tool: unit.step.tool,
    at: Date.now(),
  };
}

/** A rule or a remembered deny stops the unit: on record, never sent. */
export async function denyUnit(d: StepDeps, j: StepJob, unit: Unit, op: Op<'deny'>): Promise<UnitEnd> {
  const { connector, tool } = unit.step;
  const base = draft(j, unit, op.argumentsHash);
  if (op.rule) {
    const words = verdictWords(op.rule);
    await d.store.audit.append('deny', {
      ...base,
      source: { kind: 'rule', rule: op.rule.rule },
      ...(op.rule.money ? { money: op.rule.money } : {}),
    });
    await d.store.appendEvent(j.run.id, 'step.denied_by_rule', j.step.id, {
      item: unit.key,
      rule: op.rule.rule,
      argumentsHash: op.argumentsHash,
      message: words,
    });
    const error: ErrorInfo = { code: 'DENIED', message: `${words} ${connector}.${tool} was not called for ${unit.key}.` };
    return { unit, status: 'denied', args: op.args, note: words, error };
  }
  const g = op.grant;
  if (g && !g.id.startsWith('legacy-'))
    await d.store.grants.use(g, {
      runId: j.run.id,
      stepId: j.step.id,
      confirmationId: '',
      argumentsHash: op.argumentsHash,
      at: Date.now(),
    });
  await d.store.audit.append('deny', {
    ...base,
    source: { kind: 'grant', ...(g ? { grant: g.id } : {}), ...(op.by ? { by: op.by } : {}) },
  });
  const by = op.by ? ` (made by ${op.by}${g ? `, grant ${g.id}` : ''})` : '';
  return {
    unit,
    status: 'denied',
    args: op.args,
    note: `denied by a decision remembered for this session${by}`,
    error: { code: 'DENIED', message: `A decision remembered for this session${by} denies ${connector}.${tool}` },
  };
}

/**
 * A grant covers the unit: its use is counted first (in Lua, which refuses a grant revoked, expired
 * or used up since it was read), then the decision goes on record. `false`: a person is asked.
 */
export async function coverUnit(d: StepDeps, j: StepJob, unit: Unit, op: Op<'callCovered'>): Promise<string | false> {
  const { cover } = op;
  // Items are not part of a run's plan (plans/plan.ts lists plain steps), so only a grant covers one.
  if (cover.by !== 'grant') return false;
  const g = cover.grant;
  const used = g.id.startsWith('legacy-')
    ? 'ok'
    : await d.store.grants.use(g, {
        runId: j.run.id,
        stepId: j.step.id,
        confirmationId: '',
        argumentsHash: op.argumentsHash,
        at: Date.now(),
      });
  if (used !== 'ok') return false;
  await d.store.audit.append('approve', {
    ...draft(j, unit, op.argumentsHash),
    source: { kind: 'grant', grant: g.id, ...(g.by ? { by: g.by } : {}) },
  });
  await d.store.appendEvent(j.run.id, 'confirmation.remembered', j.step.id, {
    item: unit.key,
    connector: unit.step.connector,
    tool: unit.step.tool,
    argumentsHash: op.argumentsHash,
    grantedBy: g.by ?? 'unknown',
    ...(g.channel ? { channel: g.channel } : {}),
    grantId: g.id,
  });
  return `approved by grant ${g.id}${g.by ? ` (remembered by ${g.by})` : ''}`;
}

/** What let a unit through without a person, on record before the call; the item's note, if any. */
export async function noteUnit(d: StepDeps, j: StepJob, unit: Unit, op: Op<'call'>): Promise<string | undefined> {
  const note = op.note;
  if (note?.kind === 'rule') {
    const v = note.verdict;
    const words = verdictWords(v);
    await d.store.audit.append('approve', {
      ...draft(j, unit, op.argumentsHash),
      source: { kind: 'rule', rule: v.rule },
      ...(v.money ? { money: v.money } : {}),
    });
    await d.store.appendEvent(j.run.id, 'step.approved_by_rule', j.step.id, {
      item: unit.key,
      connector: unit.step.connector,
      tool: unit.step.tool,
      argumentsHash: op.argumentsHash,
      rule: v.rule,
      ...(v.money ? { money: v.money } : {}),
      message: words,
    });
    return words;
  }
  if (note?.kind === 'ungatedByOverride') {
    await d.store.appendEvent(j.run.id, 'step.ungated_by_override', j.step.id, {
      item: unit.key,
      connector: unit.step.connector,
      tool: unit.step.tool,
      loosened: note.loosened,
      argumentsHash: op.argumentsHash,
    });
  }
  return undefined;
}
