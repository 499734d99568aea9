/** `interlock grants` and `interlock plan`: remembered decisions and a run's plan, in words. */
import type { App } from '../app.ts';
import { approvePlan, currentPlan } from '../engine/plans.ts';
import { describeGrant, isActive } from '../grants/grant.ts';
import { type PlanState, planWorthShowing } from '../plans/words.ts';
import { bold, cyan, green } from './format.ts';

export async function listGrants(a: App, o: { all?: boolean; session?: string }): Promise<void> {
  const grants = await a.store.grants.list({ ...(o.all ? { all: true } : {}), ...(o.session ? { session: o.session } : {}) });
  if (grants.length === 0) {
    console.log(o.all ? 'no grants' : 'no active grants (--all lists revoked, expired and used-up ones too)');
    return;
  }
  const now = Date.now();
  for (const g of grants) {
    console.log(
      `${bold(g.id)}${isActive(g, now) ? '' : ' (inactive)'}  by ${g.by ?? 'unknown'}${g.channel ? ` (${g.channel})` : ''}`,
    );
    console.log(`   ${describeGrant(g, now)}`);
  }
  console.log(`revoke one: ${cyan('npx interlock grants revoke <id>')}`);
}

export async function revokeGrant(a: App, id: string): Promise<void> {
  const g = await a.engine.revokeGrant(id, 'cli');
  console.log(green(`revoked ${g.id}: ${describeGrant(g, Date.now())}`));
}

export async function showPlan(a: App, runId: string, o: { approve?: string | boolean }): Promise<void> {
  const getTool = (c: string, t: string) => a.pool.getTool(c, t);
  const view = await currentPlan(a.engine, getTool, runId);
  console.log(view.words);
  console.log(`planHash: ${view.plan.planHash}`);
  if (view.approved)
    console.log(
      `approved by ${view.approved.by} at ${new Date(view.approved.at).toISOString()}${view.approved.current ? '' : ' (an earlier plan)'}`,
    );
  if (!o.approve) {
    console.log(`approve it: ${cyan(`npx interlock plan ${runId} --approve ${view.plan.planHash}`)}`);
    return;
  }
  const hash = typeof o.approve === 'string' ? o.approve : view.plan.planHash;
  const r = await approvePlan(a.engine, getTool, runId, hash, { by: 'cli', channel: 'cli' });
  console.log(
    green(
      `plan approved${r.confirmation ? `, and ${r.confirmation.connector}.${r.confirmation.tool} with it` : ''}; run ${runId} continues`,
    ),
  );
}

/** The plan beside a paused run's write, when it has something to say (the CLI's and chat's gate). */
export async function planAtGate(a: App, runId: string): Promise<PlanState | undefined> {
  const view = await currentPlan(a.engine, (c, t) => a.pool.getTool(c, t), runId).catch(() => undefined);
  return view && planWorthShowing(view) ? view : undefined;
}
