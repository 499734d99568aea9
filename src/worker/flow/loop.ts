/**
 * A loop or a parallel step, run by one job: round after round, every unit whose turn it is is
 * planned, the ones that may proceed are called (at most `concurrency` at a time, each recorded as
 * it starts and ends, so a worker killed mid-loop leaves every item's state in Redis), and when
 * nothing can proceed the writes that wait are asked together in one confirmation. The job then
 * ends; the approval runs the step again, and the items already done are not called again.
 */
import { checkToolResult, recordedResult } from '../../connectors/results.ts';
import type { ToolCallResult, ToolInfo } from '../../connectors/types.ts';
import { InterlockError } from '../../errors.ts';
import type { Grant, ItemRecord } from '../../runs/records.ts';
import { evaluateCondition, resolveTemplates } from '../../workflows/templates.ts';
import type { ForeachStep, ParallelStep, TemplateContext } from '../../workflows/types.ts';
import { type StepDeps, type StepJob, commitAndAdvance, failAttempt } from '../execute.ts';
import { errorInfo, isTransient, neverDelivered } from '../retry.ts';
import { notStarted } from '../start.ts';
import { approvedItems, batchPayload } from './batch.ts';
import { type Unit, type UnitPlan, groupsOf, planUnit, readyUnits, unitKey } from './units.ts';

type Plan = UnitPlan;
type Call = Extract<Plan, { kind: 'call' }>;

/** How many units resolve their arguments and look up their tool at once (calls use the step's concurrency). */
const PLAN_CONCURRENCY = 16;

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
    const plans = await mapLimit(ready, PLAN_CONCURRENCY, (u) => lookups.plan(u, approved.get(u.key), items[u.key]));
    const calls = plans.filter((p): p is Call => p.kind === 'call');
    const ends = plans.filter((p) => p.kind === 'end');
    for (const e of ends) items[e.unit.key] = await endUnit(d, j, e);
    if (calls.length) {
      const concurrency = step.kind === 'foreach' ? step.concurrency : calls.length;
      const done = await mapLimit(calls, concurrency, (c) => callUnit(d, j, c, items[c.unit.key]));
      if (done.some((r) => r === undefined)) return 'stopped: the run cannot go on';
      for (const [i, c] of calls.entries()) items[c.unit.key] = done[i] as ItemRecord;
      continue;
    }
    if (ends.length) continue;
    const asks = plans.filter((p): p is Extract<Plan, { kind: 'ask' }> => p.kind === 'ask');
    const conf = await d.store.openGate(run, step.id, batchPayload(asks), d.policy().confirmationTtlMs);
    d.logger.info(
      { runId: run.id, stepId: step.id, confirmationId: conf?.id, items: asks.length },
      'waiting for a batch confirmation',
    );
    return `awaiting confirmation of ${asks.length} item(s)`;
  }
  return finish(d, j, step, list, items);
}

async function listOf(step: ForeachStep, ctx: TemplateContext): Promise<unknown[]> {
  const v = await resolveTemplates(`\${{ ${step.foreach} }}`, ctx);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw new InterlockError('TEMPLATE_ERROR', `foreach of step "${step.id}" gave ${typeof v}, not a list: ${step.foreach}`);
  return v;
}

/** Tool, toggle and grant per distinct tool of the step, looked up once per job. */
class Lookups {
  private readonly tools = new Map<string, Promise<{ tool: ToolInfo; enabled: boolean; grant: Grant | undefined }>>();
  private readonly d: StepDeps;
  private readonly j: StepJob;
  constructor(d: StepDeps, j: StepJob) {
    this.d = d;
    this.j = j;
  }

  private lookup(connector: string, name: string) {
    const k = `${connector}.${name}`;
    let p = this.tools.get(k);
    if (!p) {
      const { store } = this.d;
      p = Promise.all([
        this.d.tools.getTool(connector, name),
        store.toolEnabled(connector, name),
        store.getGrant(this.j.run.session, connector, name, this.j.run.owner),
      ]).then(([tool, enabled, grant]) => ({ tool, enabled, grant }));
      this.tools.set(k, p);
    }
    return p;
  }

  async plan(unit: Unit, approvedHash: string | undefined, rec: ItemRecord | undefined): Promise<Plan> {
    try {
      const s = unit.step;
      if (s.if !== undefined && !(await evaluateCondition(s.if, unit.ctx)))
        return { kind: 'end', unit, status: 'skipped', note: `condition is false: ${s.if}` };
      const args = (await resolveTemplates(s.with, unit.ctx)) as Record<string, unknown>;
      const { tool, enabled, grant } = await this.lookup(s.connector, s.tool);
      return planUnit(unit, { args, tool, enabled, grant, approvedHash, rec }, this.j.run.workflow, this.d.policy());
    } catch (error) {
      return { kind: 'end', unit, status: 'failed', error };
    }
  }
}

async function endUnit(d: StepDeps, j: StepJob, e: Extract<Plan, { kind: 'end' }>): Promise<ItemRecord> {
  const error = e.error === undefined ? undefined : errorInfo(e.error);
  const result = {
    ...(e.args ? { arguments: e.args } : {}),
    ...(error ? { error } : {}),
    ...(e.note ? { note: e.note } : {}),
    finishedAt: Date.now(),
  };
  await d.store.flow.commitItem(j.run.id, j.step.id, e.unit.key, e.status, result);
  return { ...result, status: e.status, attempts: 0 };
}

/** One call of a unit: its start (a write's intent first), the call with the unit's idempotency key, its end. */
async function callUnit(d: StepDeps, j: StepJob, c: Call, rec: ItemRecord | undefined): Promise<ItemRecord | undefined> {
  const { run, step } = j;
  const { unit, tool, args, argumentsHash } = c;
  const start = await d.store.flow.startItem(run.id, step.id, unit.key, { argumentsHash }, tool.write, rec?.attempts ?? 0);
  // An item another job has started is that job's to finish; one that ended meanwhile is as it ended.
  if (!start.ok)
    return start.reason === 'item' && start.status !== 'running'
      ? { status: start.status as ItemRecord['status'], attempts: rec?.attempts ?? 0 }
      : undefined;
  const t0 = Date.now();
  const base = { arguments: args, argumentsHash, startedAt: t0 };
  let result: ToolCallResult | undefined;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= Math.max(1, unit.step.retry.attempts); attempt++) {
    try {
      result = await d.tools.send(tool, args, {
        idempotencyKey: unit.idem,
        ...(unit.step.timeoutMs ? { timeoutMs: unit.step.timeoutMs } : {}),
      });
      break;
    } catch (err) {
      lastErr = err;
      // A write that may have reached the server is resent only when the server dedupes it by key.
      const resendable = !tool.write || tool.idempotent || neverDelivered(err);
      if (!isTransient(err) || !resendable) break;
      await new Promise((r) => setTimeout(r, unit.step.retry.backoffMs * 2 ** (attempt - 1)));
    }
  }
  const finishedAt = Date.now();
  if (!result) {
    const info = errorInfo(lastErr);
    const inDoubt = tool.write && !tool.idempotent && isTransient(lastErr) && !neverDelivered(lastErr);
    const status = inDoubt ? 'in_doubt' : 'failed';
    await d.store.flow.commitItem(run.id, step.id, unit.key, status, { ...base, error: info, finishedAt });
    return { ...base, status, attempts: start.attempts, error: info, finishedAt };
  }
  const failure = result.isError
    ? {
        code: 'TOOL_ERROR' as const,
        message: `${tool.connector}.${tool.name} failed: ${result.text || 'the tool reported an error'}`,
      }
    : await checkToolResult(tool, result);
  d.onStepFinished?.({ connector: tool.connector, tool: tool.name, durationMs: finishedAt - t0, ok: !failure });
  const recorded = { ...base, ...recordedResult(result), finishedAt };
  if (failure) {
    const out = { ...recorded, error: { code: failure.code, message: failure.message } as ItemRecord['error'] };
    await d.store.flow.commitItem(run.id, step.id, unit.key, 'failed', out);
    return { ...out, status: 'failed', attempts: start.attempts };
  }
  await d.store.flow.commitItem(run.id, step.id, unit.key, 'succeeded', recorded);
  return { ...recorded, status: 'succeeded', attempts: start.attempts };
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
