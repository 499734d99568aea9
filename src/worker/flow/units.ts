/**
 * The calls inside a loop or a parallel step ("units"), and what each one does next, decided before
 * anything is done, as planStep does for a step: end (skip, fail, deny, in doubt), ask, or call.
 * A unit of a loop is one body step of one item (key `3`, or `3.inner` for a group); of a parallel
 * step, one step of one branch (`branch.inner`). Body steps run in order within their item or branch.
 */
import { validateArguments } from '../../connectors/arguments.ts';
import type { ToolInfo } from '../../connectors/types.ts';
import type { Grant, ItemRecord, RunRecord } from '../../runs/records.ts';
import { canonicalJson, sha256Hex } from '../../workflows/canonical.ts';
import type { CallStep, ForeachStep, ParallelStep, PolicyConfig, TemplateContext } from '../../workflows/types.ts';
import { decideGate } from '../gate.ts';
import { innerContext } from './context.ts';

export interface Unit {
  key: string;
  step: CallStep;
  ctx: TemplateContext;
  /** sent as the write's idempotency key: run, step and item (or branch step), so a resend is the same write */
  idem: string;
}

export type UnitPlan =
  | {
      kind: 'end';
      unit: Unit;
      status: 'skipped' | 'failed' | 'denied' | 'in_doubt';
      error?: unknown;
      note?: string;
      args?: Record<string, unknown>;
    }
  | ({ kind: 'ask' } & Resolved)
  | ({ kind: 'call' } & Resolved);

interface Resolved {
  unit: Unit;
  tool: ToolInfo;
  args: Record<string, unknown>;
  argumentsHash: string;
}

const DONE = new Set(['succeeded', 'skipped']);
const ENDED = new Set(['succeeded', 'skipped', 'failed', 'denied', 'in_doubt']);

export function unitKey(step: ForeachStep | ParallelStep, group: string, inner: CallStep): string {
  return step.kind === 'foreach' && step.single ? group : `${group}.${inner.id}`;
}

/** Groups (items or branches) with their body steps and the locals their templates see. */
export function groupsOf(step: ForeachStep | ParallelStep, list: unknown[] | undefined) {
  if (step.kind === 'parallel') return Object.entries(step.branches).map(([name, body]) => ({ name, body, locals: {} }));
  return (list ?? []).map((item, i) => ({
    name: String(i),
    body: step.steps,
    locals: { [step.as]: item, loop: { index: i, count: list?.length ?? 0 } },
  }));
}

/** The next unit of every group whose earlier units succeeded and whose next one has not ended. */
export function readyUnits(
  run: RunRecord,
  step: ForeachStep | ParallelStep,
  list: unknown[] | undefined,
  items: Record<string, ItemRecord>,
  base: TemplateContext,
): Unit[] {
  const out: Unit[] = [];
  for (const g of groupsOf(step, list)) {
    const earlier: Array<[string, ItemRecord | undefined]> = [];
    for (const inner of g.body) {
      const key = unitKey(step, g.name, inner);
      const rec = items[key];
      if (rec && DONE.has(rec.status)) {
        earlier.push([inner.id, rec]);
        continue;
      }
      if (!rec || !ENDED.has(rec.status))
        out.push({
          key,
          step: inner,
          ctx: innerContext(base, earlier, g.locals),
          idem: `interlock-${run.id}-${step.id}-${key}`,
        });
      break;
    }
  }
  return out;
}

export interface UnitFacts {
  args: Record<string, unknown>;
  tool: ToolInfo;
  enabled: boolean;
  /**
   * a remembered deny for the tool stops the item; a remembered approve is not applied to loop
   * items (each still needs its own or the batch's approval: the safe side)
   */
  grant: Pick<Grant, 'decision' | 'by'> | undefined;
  /** the hash a person approved for this unit, from the loop's approved batch */
  approvedHash: string | undefined;
  rec: ItemRecord | undefined;
}

/** What one unit does, from its facts; pure, like planStep. */
export function planUnit(unit: Unit, facts: UnitFacts, workflow: string, policy: PolicyConfig): UnitPlan {
  const { args, tool } = facts;
  if (!facts.enabled)
    return {
      kind: 'end',
      unit,
      status: 'failed',
      error: { code: 'TOOL_DISABLED', message: `Tool ${tool.connector}.${tool.name} is turned off` },
    };
  try {
    validateArguments(tool, args);
  } catch (error) {
    return { kind: 'end', unit, status: 'failed', error, args };
  }
  const argumentsHash = sha256Hex(canonicalJson(args));
  const rec = facts.rec;
  if (rec?.status === 'running' && rec.intentAttempt !== undefined && tool.write && !tool.idempotent)
    return {
      kind: 'end',
      unit,
      status: 'in_doubt',
      args,
      error: {
        code: 'IN_DOUBT',
        message: `The worker stopped while calling ${tool.connector}.${tool.name} for ${unit.key}, which is not idempotent; whether the write happened is unknown`,
      },
    };
  if (facts.grant?.decision === 'deny')
    return {
      kind: 'end',
      unit,
      status: 'denied',
      args,
      error: { code: 'DENIED', message: `A decision remembered for this session denies ${tool.connector}.${tool.name}` },
    };
  const gate = decideGate({
    workflow,
    step: unit.step,
    tool,
    arguments: args,
    argumentsHash,
    ...(facts.approvedHash !== undefined ? { approvedHash: facts.approvedHash } : {}),
    policy,
  });
  return gate.kind === 'ask'
    ? { kind: 'ask', unit, tool, args, argumentsHash }
    : { kind: 'call', unit, tool, args, argumentsHash };
}
