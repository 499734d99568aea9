/**
 * Approving a run's plan once: the plan as it stands (src/plans/plan.ts), and its approval bound
 * to the planHash the person saw. The write the run is paused at is approved with it when the
 * plan covers it exactly; every later write is checked against the plan by the worker.
 */
import type { ToolInfo } from '../connectors/types.ts';
import { InterlockError } from '../errors.ts';
import { runCurrency } from '../grants/run-currency.ts';
import { type Plan, buildPlan, type PlannedTool } from '../plans/plan.ts';
import { matchPlan } from '../plans/match.ts';
import { describePlan, type PlanState } from '../plans/words.ts';
import type { ConfirmationRecord, DecisionChannel, RunRecord } from '../runs/records.ts';
import { makePin } from '../runs/tool-pins.ts';
import type { Engine } from './engine.ts';

export type ToolLookup = (connector: string, tool: string) => Promise<ToolInfo>;

/** The tools a run's call steps name, looked up once; a tool that cannot be reached is left out (its step is unplanned). */
async function plannedTools(run: RunRecord, getTool: ToolLookup): Promise<(c: string, t: string) => PlannedTool | undefined> {
  const found = new Map<string, PlannedTool>();
  await Promise.all(
    run.definition.steps
      .filter((s) => s.kind === 'call')
      .map(async (s) => {
        try {
          const t = await getTool(s.connector, s.tool);
          found.set(`${s.connector}.${s.tool}`, { write: t.write, definitionHash: makePin(t).hash });
        } catch {
          // unreachable: unplanned, with the reason on the item
        }
      }),
  );
  return (c, t) => found.get(`${c}.${t}`);
}

export type PlanView = PlanState;

export async function currentPlan(engine: Engine, getTool: ToolLookup, runId: string): Promise<PlanView> {
  const run = await engine.store.requireRun(runId);
  const plan = await buildPlan(run, await plannedTools(run, getTool));
  const diverged = run.plan ? await divergence(engine, run) : undefined;
  return {
    plan,
    words: describePlan(plan, runCurrency(run)),
    ...(diverged ? { diverged } : {}),
    ...(run.plan
      ? {
          approved: {
            planHash: run.plan.plan.planHash,
            by: run.plan.by,
            at: run.plan.at,
            current: run.plan.plan.planHash === plan.planHash,
          },
        }
      : {}),
  };
}

/**
 * Why the write the run waits at asks again although a plan was approved: the worker's
 * `step.plan_diverged` event, written just before it opened that gate (so among the newest).
 */
async function divergence(engine: Engine, run: RunRecord): Promise<PlanView['diverged']> {
  const waiting = Object.values(run.steps).find((s) => s.status === 'awaiting_confirmation');
  if (!waiting) return undefined;
  const e = (await engine.store.recentEvents(run.id)).find((x) => x.type === 'step.plan_diverged' && x.stepId === waiting.id);
  return e && typeof e.data.reason === 'string' ? { stepId: waiting.id, reason: e.data.reason } : undefined;
}

/**
 * Approves the plan the person saw (`planHash`); a plan that changed since is refused with the
 * new hash. The confirmation the run waits at is approved with it when the plan covers it.
 */
export async function approvePlan(
  engine: Engine,
  getTool: ToolLookup,
  runId: string,
  planHash: string,
  opts: { by: string; channel: DecisionChannel },
): Promise<{ plan: Plan; confirmation?: ConfirmationRecord }> {
  const { plan } = await currentPlan(engine, getTool, runId);
  if (plan.planHash !== planHash)
    throw new InterlockError(
      'HASH_MISMATCH',
      `The plan of run ${runId} is not the one you approved (now ${plan.planHash}); look at it again`,
      {
        planHash: plan.planHash,
      },
    );
  if (!plan.items.some((i) => i.status === 'planned'))
    throw new InterlockError('BAD_REQUEST', `The plan of run ${runId} covers no write; decide its confirmations one by one`);
  await engine.store.approvePlan(runId, { plan, by: opts.by, at: Date.now(), channel: opts.channel });
  const run = await engine.store.requireRun(runId);
  const waiting = Object.values(run.steps).find((s) => s.status === 'awaiting_confirmation' && s.confirmationId);
  if (!waiting?.confirmationId) return { plan };
  const conf = await engine.store.requireConfirmation(waiting.confirmationId);
  const step = run.definition.steps.find((s) => s.id === conf.stepId);
  if (step?.kind !== 'call') return { plan };
  const tool = await getTool(conf.connector, conf.tool);
  const m = await matchPlan(plan, {
    stepId: conf.stepId,
    connector: conf.connector,
    tool: conf.tool,
    definitionHash: makePin(tool).hash,
    args: conf.arguments,
    steps: run.steps,
  });
  if (!m.ok) return { plan };
  const confirmation = await engine.approve(conf.id, conf.argumentsHash, { ...opts, planHash });
  return { plan, confirmation };
}
