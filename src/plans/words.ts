/**
 * A plan in words, for the pages, the CLI, chat and the MCP facade: each write with its values,
 * the fields that will be filled in from an earlier write's output and from where, and the writes
 * the plan does not cover and why.
 */
import { formatMinor, isAmountField } from '../grants/money.ts';
import type { Plan, PlanItem } from './plan.ts';

function value(path: string, v: unknown, currency: string | undefined): string {
  const leaf = path.slice(path.lastIndexOf('.') + 1);
  if (typeof v === 'number' && currency && isAmountField(leaf)) return `${v} (${formatMinor(v, currency)})`;
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
}

function flat(v: unknown, path: string, out: Array<[string, unknown]>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flat(x, path ? `${path}.${k}` : k, out);
  } else out.push([path, v]);
}

export function describeItem(item: PlanItem, currency?: string): string[] {
  const name = `${item.connector}.${item.tool} (step ${item.stepId})`;
  if (item.status === 'skipped') return [`${name}: skipped, its condition ${item.condition} is false`];
  if (item.status === 'unplanned') return [`${name}: not in the plan, asks on its own: ${item.reason}`];
  const templated = new Map(item.templated.map((t) => [t.path, t]));
  const fields: Array<[string, unknown]> = [];
  flat(item.args, '', fields);
  const lines = [`${name}:`];
  for (const [path, v] of fields) {
    const t = templated.get(path);
    if (t) lines.push(`  ${path}: filled in from ${t.sources.join(', ')} when it has run: ${t.template}`);
    else lines.push(`  ${path}: ${value(path, v, currency)}`);
  }
  return lines;
}

/** The whole plan, one line per field; `currency` names the run's currency for amounts. */
export function describePlan(plan: Plan, currency?: string): string {
  const planned = plan.items.filter((i) => i.status === 'planned').length;
  const head = `Plan ${plan.planHash.slice(0, 12)}… from step ${plan.from}: ${planned} write${planned === 1 ? '' : 's'} run without asking again if their arguments are exactly these`;
  return [head, ...plan.items.flatMap((i) => describeItem(i, currency))].join('\n');
}

/** A run's plan as the gate shows it: the plan, its words, and what became of an approved one. */
export interface PlanState {
  plan: Plan;
  /** describePlan's text, with the run's currency */
  words: string;
  approved?: { planHash: string; by: string; at: number; current: boolean };
  /** the last write an approved plan did not cover, and why it asks a person again */
  diverged?: { stepId: string; reason: string };
}

/** Whether a gate has anything to say about the plan: writes it could approve at once, or why an approved one did not hold. */
export function planWorthShowing(s: PlanState): boolean {
  const offers = !s.approved?.current && s.plan.items.some((i) => i.status === 'planned');
  return offers || (s.approved !== undefined && s.diverged !== undefined);
}

/**
 * What every front end says about the plan beside a pending write (the MCP facade's answer and
 * elicitation, `interlock chat`, `interlock run`): why an approved plan did not cover this write,
 * and the plan in words with how to approve it once. Empty when there is nothing to say.
 */
export function planGateLines(s: PlanState, where: { runId: string; url?: string }): string[] {
  const lines: string[] = [];
  if (s.approved && s.diverged)
    lines.push(
      `The plan ${s.approved.by} approved (${s.approved.planHash.slice(0, 12)}…) does not cover step ${s.diverged.stepId}, so a person is asked again: ${s.diverged.reason}.`,
    );
  if (!s.approved?.current && s.plan.items.some((i) => i.status === 'planned')) {
    lines.push(...s.words.split('\n'));
    lines.push(
      `Approve the whole plan once ${where.url ? `at ${where.url} or ` : ''}with \`npx interlock plan ${where.runId} --approve ${s.plan.planHash}\`; a write that differs from it asks again.`,
    );
  }
  return lines;
}
