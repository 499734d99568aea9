/**
 * A loop or a parallel step, run by one job: round after round, every unit whose turn it is is
 * planned (by planStep, as a plain step is: see units.ts), what a rule or a grant decides is put on
 * record, the units that may proceed are called (at most `concurrency` at a time, each taking its
 * rate-limit slots and recorded as it starts and ends, so a worker killed mid-loop leaves every
 * item's state in Redis), and when nothing can proceed the run pauses: on a changed tool or a
 * connector that needs a login as a step would, else with one confirmation for the writes that
 * wait. The job then ends; the decision runs the step again, and the items already done are not
 * called again.
 */
import type { ToolInfo } from '../../connectors/types.ts';
import { InterlockError } from '../../errors.ts';
import type { Grant, ItemRecord } from '../../runs/records.ts';
import { evaluateCondition, resolveTemplates } from '../../workflows/templates.ts';
import type { ForeachStep, ParallelStep, TemplateContext } from '../../workflows/types.ts';
import { type StepDeps, type StepJob, commitAndAdvance, execute, failAttempt } from '../execute.ts';
import type { ActionOp, StepFacts } from '../plan.ts';
import { errorInfo } from '../retry.ts';
import { verdictFor } from '../rule-context.ts';
import { notStarted } from '../start.ts';
import { type Ask, approvedItems, batchOf, batchPayload } from './batch.ts';
import { type UnitEnd, coverUnit, denyUnit, noteUnit } from './decisions.ts';
import { type UnitCall, callUnit } from './item-call.ts';
import { type Unit, type UnitOp, groupsOf, planUnit, readyUnits, unitKey, unitRuleContext } from './units.ts';

/** How many units resolve their arguments and look up their tool at once (calls use the step's concurrency). */
const PLAN_CONCURRENCY = 16;

type Pause = Extract<ActionOp, { kind: 'block' | 'awaitLogin' }>;

/** A round's plans, sorted by what comes of them. */
interface Round {
  ends: UnitEnd[];
  calls: UnitCall[];
  asks: Ask[];
  pauses: Pause[];
}

export async function runLoop(d: StepDeps, j: StepJob, step: ForeachStep | ParallelStep, base: TemplateContext): Promise<string> {
  const { run } = j;
  const started = await d.store.startStep(run.id, step.id, { kind: step.kind }, false);
  if (!started.ok) return notStarted(started);
  let list: unknown[] | undefined;
  if (step.kind === 'foreach') {
    try {
      list = await listOf(step, base);
    } catch (err) {
      return failAttempt(d, j, err, {});
    }
  }
  const items: Record<string, ItemRecord> = { ...(j.rec.items ?? {}) };
  const approved = await approvedItems(d.store, j.rec);
  const lookups = new Lookups(d, j);
  for (;;) {
    const ready = readyUnits(run, step, list, items, base);
    if (ready.length === 0) break;
    const planned = await mapLimit(ready, PLAN_CONCURRENCY, async (u) =>
      planUnit(
        run,
        u,
        { facts: await lookups.facts(u), approvedHash: approved.get(u.key), rec: items[u.key] },
        d.policy(),
        Date.now(),
      ),
    );
    const round = await sortRound(d, j, planned, lookups);
    for (const e of round.ends) items[e.unit.key] = await endUnit(d, j, e);
    if (round.calls.length) {
      const concurrency = step.kind === 'foreach' ? step.concurrency : round.calls.length;
      const done = await mapLimit(round.calls, concurrency, (c) => callUnit(d, j, c, items[c.unit.key]));
      if (done.some((r) => r === undefined)) return 'stopped: the run cannot go on';
      for (const [i, c] of round.calls.entries()) items[c.unit.key] = done[i] as ItemRecord;
      continue;
    }
    if (round.ends.length) continue;
    // A changed tool or a connector that needs a login pauses the whole step, as it would a step.
    const [pause] = round.pauses;
    if (pause) return execute(d, j, pause);
    const asks = batchOf(round.asks);
    const conf = await d.store.openGate(run, step.id, batchPayload(asks), d.policy().confirmationTtlMs);
    d.logger.info(
      { runId: run.id, stepId: step.id, confirmationId: conf?.id, items: asks.length, waiting: round.asks.length },
      'waiting for a batch confirmation',
    );
    return `awaiting confirmation of ${asks.length} item(s)`;
  }
  return finish(d, j, step, list, items);
}

/**
 * Each unit's operation, carried out as far as it goes without a call: an end or a deny is
 * recorded, a rule's or a grant's approval goes on record (a grant spent meanwhile asks instead).
 */
async function sortRound(d: StepDeps, j: StepJob, planned: UnitOp[], lookups: Lookups): Promise<Round> {
  const r: Round = { ends: [], calls: [], asks: [], pauses: [] };
  for (const { unit, op } of planned) {
    switch (op.kind) {
      case 'skip':
        r.ends.push({ unit, status: 'skipped', note: op.note });
        break;
      case 'fail':
        r.ends.push({ unit, status: 'failed', error: errorInfo(op.error) });
        break;
      case 'inDoubt':
        r.ends.push({
          unit,
          status: 'in_doubt',
          args: op.args,
          error: {
            code: 'IN_DOUBT',
            message: `The worker stopped while calling ${unit.step.connector}.${unit.step.tool} for ${unit.key}, which is not idempotent; whether the write happened is unknown`,
          },
        });
        break;
      case 'deny':
        r.ends.push(await denyUnit(d, j, unit, op));
        break;
      case 'block':
      case 'awaitLogin':
        r.pauses.push(op);
        break;
      case 'ask':
        r.asks.push({ unit, op });
        break;
      case 'call': {
        const note = await noteUnit(d, j, unit, op);
        r.calls.push({ unit, tool: op.tool, args: op.args, argumentsHash: op.argumentsHash, ...(note ? { note } : {}) });
        break;
      }
      case 'callCovered': {
        const note = await coverUnit(d, j, unit, op);
        if (note) r.calls.push({ unit, tool: op.tool, args: op.args, argumentsHash: op.argumentsHash, note });
        else {
          lookups.forgetGrants();
          r.asks.push({ unit, op: { kind: 'ask', payload: op.payload } });
        }
        break;
      }
      case 'callModel':
        r.ends.push({ unit, status: 'failed', error: { code: 'INTERNAL', message: `${unit.key} is not a tool call` } });
        break;
    }
  }
  return r;
}

async function listOf(step: ForeachStep, ctx: TemplateContext): Promise<unknown[]> {
  const v = await resolveTemplates(`\${{ ${step.foreach} }}`, ctx);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw new InterlockError('TEMPLATE_ERROR', `foreach of step "${step.id}" gave ${typeof v}, not a list: ${step.foreach}`);
  return v;
}

interface ToolFacts {
  tool: ToolInfo;
  enabled: boolean;
  /** the fields that changed since the tool was pinned */
  changed: string[];
}

/**
 * What planStep needs of each unit, gathered as the processor gathers it for a step: tool, toggle
 * and pin once per distinct tool per job, the session's grants once (again after one was spent),
 * and the rules' verdict per unit, over the unit's own arguments and its item's earlier steps.
 */
class Lookups {
  private readonly tools = new Map<string, Promise<ToolFacts>>();
  private grants: Promise<Grant[]> | undefined;
  private readonly d: StepDeps;
  private readonly j: StepJob;
  constructor(d: StepDeps, j: StepJob) {
    this.d = d;
    this.j = j;
  }

  private tool(connector: string, name: string): Promise<ToolFacts> {
    const k = `${connector}.${name}`;
    let p = this.tools.get(k);
    if (!p) {
      const { store, tools } = this.d;
      p = (async () => {
        const [tool, enabled] = await Promise.all([tools.getTool(connector, name), store.toolEnabled(connector, name)]);
        const pin = await store.pins.observe(tool);
        return { tool, enabled, changed: pin.status === 'changed' ? pin.changes.map((c) => c.field) : [] };
      })();
      this.tools.set(k, p);
    }
    return p;
  }

  forgetGrants(): void {
    this.grants = undefined;
  }

  async facts(unit: Unit): Promise<StepFacts> {
    const s = unit.step;
    let args: Record<string, unknown>;
    let t: ToolFacts;
    try {
      if (s.if !== undefined && !(await evaluateCondition(s.if, unit.ctx))) return { kind: 'conditionFalse', condition: s.if };
      args = (await resolveTemplates(s.with, unit.ctx)) as Record<string, unknown>;
      t = await this.tool(s.connector, s.tool);
    } catch (error) {
      return { kind: 'error', error };
    }
    try {
      const { run } = this.j;
      const verdict = await verdictFor(this.d.policy(), unitRuleContext(run, unit, t.tool, args));
      this.grants ??= this.d.store.grants.forSession(run.session);
      return { kind: 'tool', args, ...t, grants: await this.grants, verdict };
    } catch (error) {
      return { kind: 'error', error };
    }
  }
}

async function endUnit(d: StepDeps, j: StepJob, e: UnitEnd): Promise<ItemRecord> {
  const result = {
    ...(e.args ? { arguments: e.args } : {}),
    ...(e.error ? { error: e.error } : {}),
    ...(e.note ? { note: e.note } : {}),
    finishedAt: Date.now(),
  };
  await d.store.flow.commitItem(j.run.id, j.step.id, e.unit.key, e.status, result);
  return { ...result, status: e.status, attempts: 0 };
}

/** Every unit has ended: the step's output (items in order, or branches), or its failure. */
async function finish(
  d: StepDeps,
  j: StepJob,
  step: ForeachStep | ParallelStep,
  list: unknown[] | undefined,
  items: Record<string, ItemRecord>,
): Promise<string> {
  const groups = groupsOf(step, list);
  const outputOf = (g: (typeof groups)[number]) =>
    step.kind === 'foreach' && step.single
      ? (items[g.name]?.output ?? null)
      : Object.fromEntries(g.body.map((b) => [b.id, items[unitKey(step, g.name, b)]?.output ?? null]));
  const output = step.kind === 'foreach' ? groups.map(outputOf) : Object.fromEntries(groups.map((g) => [g.name, outputOf(g)]));
  const all = Object.entries(items);
  const count = (s: string) => all.filter(([, r]) => r.status === s).length;
  const note = `${count('succeeded')} succeeded, ${count('failed')} failed, ${count('skipped')} skipped of ${groups.length} ${step.kind === 'foreach' ? 'item(s)' : 'branch(es)'}`;
  const doubt = all.find(([, r]) => r.status === 'in_doubt');
  const denied = all.find(([, r]) => r.status === 'denied');
  const failed = all.filter(([, r]) => r.status === 'failed');
  const result = { output, note, itemCount: groups.length, finishedAt: Date.now() };
  if (doubt) {
    await d.store.failStep(j.run.id, step.id, 'in_doubt', 'needs_attention', result, {
      code: 'IN_DOUBT',
      message: `${doubt[0]} of step ${step.id}: ${doubt[1].error?.message ?? 'whether the write happened is unknown'}; a person must check it`,
    });
    return 'in doubt';
  }
  if (denied) {
    await d.store.failStep(j.run.id, step.id, 'denied', 'denied', result, {
      code: 'DENIED',
      message: `${denied[0]} of step ${step.id}: ${denied[1].error?.message ?? 'denied'}`,
    });
    return 'denied';
  }
  if (failed.length && !step.continueOnError) {
    await d.store.failStep(j.run.id, step.id, 'failed', 'failed', result, {
      code: 'FLOW_FAILED',
      message: `${failed.length} of step ${step.id} failed (first: ${failed[0][0]}: ${failed[0][1].error?.message ?? 'failed'}); set continue_on_error to go on without them`,
    });
    return 'failed';
  }
  return commitAndAdvance(d, j, 'succeeded', result);
}

/** `fn` over `xs`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(xs: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, xs.length)) }, worker));
  return out;
}
