/**
 * The calls inside a loop or a parallel step ("units"). A unit of a loop is one body step of one
 * item (key `3`, or `3.inner` for a group); of a parallel step, one step of one branch
 * (`branch.inner`). Body steps run in order within their item or branch.
 *
 * What a unit does is decided by planStep, the function that decides for a plain step, from the
 * same facts with the unit's own arguments: so policy rules, scoped grants, a changed tool, a
 * turned-off tool and "in doubt after a crash" hold for each item exactly as for a step. The only
 * difference is where an approval comes from: the hash a person approved for the unit in the
 * loop's batch confirmation.
 */
import type { ToolInfo } from '../../connectors/types.ts';
import type { RuleContext } from '../../policy/types.ts';
import type { ItemRecord, RunRecord } from '../../runs/records.ts';
import type { CallStep, ForeachStep, ParallelStep, PolicyConfig, TemplateContext } from '../../workflows/types.ts';
import { type ActionOp, type StepFacts, planStep } from '../plan.ts';
import { ruleContext } from '../rule-context.ts';
import { innerContext } from './context.ts';

export interface Unit {
  key: string;
  step: CallStep;
  ctx: TemplateContext;
  /** what rules read as `loop`: the unit's key, and in a foreach its item, index and the list's length */
  loop: NonNullable<RuleContext['loop']>;
  /** sent as the write's idempotency key: run, step and item (or branch step), so a resend is the same write */
  idem: string;
}

/** What a unit does next: an operation of planStep's, for this unit. */
export interface UnitOp {
  unit: Unit;
  op: ActionOp;
}

const DONE = new Set(['succeeded', 'skipped']);
const ENDED = new Set(['succeeded', 'skipped', 'failed', 'denied', 'in_doubt']);

export function unitKey(step: ForeachStep | ParallelStep, group: string, inner: CallStep): string {
  return step.kind === 'foreach' && step.single ? group : `${group}.${inner.id}`;
}

/** Groups (items or branches) with their body steps and the locals their templates see. */
export function groupsOf(step: ForeachStep | ParallelStep, list: unknown[] | undefined) {
  if (step.kind === 'parallel')
    return Object.entries(step.branches).map(([name, body]) => ({ name, body, locals: {}, item: undefined }));
  return (list ?? []).map((item, i) => ({
    name: String(i),
    body: step.steps,
    locals: { [step.as]: item, loop: { index: i, count: list?.length ?? 0 } },
    item: { item, index: i, count: list?.length ?? 0 },
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
          loop: { key, ...g.item },
          idem: `interlock-${run.id}-${step.id}-${key}`,
        });
      break;
    }
  }
  return out;
}

export interface UnitFacts {
  /** what a step would gather: condition, arguments, tool, toggle, pin, grants, the rules' verdict */
  facts: StepFacts;
  /** the hash a person approved for this unit, from the loop's approved batch */
  approvedHash: string | undefined;
  rec: ItemRecord | undefined;
}

/** What one unit does, from its facts: planStep's answer for the unit's call. Pure. */
export function planUnit(run: RunRecord, unit: Unit, f: UnitFacts, policy: PolicyConfig, now: number): UnitOp {
  const op = planStep({
    run,
    step: unit.step,
    rec: {
      status: f.rec?.status ?? 'pending',
      ...(f.rec?.intentAttempt !== undefined ? { intentAttempt: f.rec.intentAttempt } : {}),
      ...(f.approvedHash !== undefined ? { approvedHash: f.approvedHash } : {}),
    },
    facts: f.facts,
    policy,
    // An item retries in place (loop.ts callUnit), so no earlier job's attempt is known undelivered.
    undeliveredAttempt: undefined,
    now,
  });
  return { unit, op };
}

/**
 * What a rule reads about a unit's call: what it would read about a step with the unit's arguments,
 * `run.steps` with the item's (or branch's) earlier steps over the run's, and `loop`.
 */
export function unitRuleContext(
  run: RunRecord,
  unit: Unit,
  tool: Pick<ToolInfo, 'connector' | 'name' | 'write' | 'annotations'>,
  args: Record<string, unknown>,
): RuleContext {
  const steps: Record<string, { output?: unknown; status: string }> = {};
  for (const [id, s] of Object.entries(unit.ctx.steps)) steps[id] = { output: s.output, status: s.status };
  return { ...ruleContext({ ...run, steps }, unit.step, tool, args), loop: unit.loop };
}
