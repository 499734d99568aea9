/**
 * Whether a write about to be sent is what an approved plan said: same step, same tool (its
 * definition unchanged), and arguments exactly what the plan's values and templates give, the
 * templates filled from the planned writes' actual outputs and nothing else. A read that returned
 * something else, a different branch, a changed tool or a changed template all differ, and the
 * write asks a person again. Pure.
 */
import { canonicalJson } from '../workflows/canonical.ts';
import { resolveTemplates } from '../workflows/templates.ts';
import type { TemplateContext } from '../workflows/types.ts';
import { type Plan, setAt } from './plan.ts';

export type PlanMatch = { ok: true } | { ok: false; reason: string };

export interface WriteAtGate {
  stepId: string;
  connector: string;
  tool: string;
  definitionHash: string;
  args: Record<string, unknown>;
  /** the run's steps now: the planned writes' outputs are read from here */
  steps: Record<string, { status: string; output?: unknown; content?: unknown[] }>;
}

function differing(a: unknown, b: unknown, path = ''): string[] {
  if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      differing((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
    );
  }
  return [path || '(the arguments)'];
}

/** The arguments the plan promises for its item, given the planned writes' actual outputs. */
export async function expectedArgs(
  plan: Plan,
  stepId: string,
  steps: WriteAtGate['steps'],
): Promise<Record<string, unknown> | undefined> {
  const item = plan.items.find((i) => i.stepId === stepId);
  if (item?.status !== 'planned') return undefined;
  const ctx: TemplateContext = { ...plan.known, steps: { ...plan.known.steps } };
  const writes = new Set(plan.items.filter((i) => i.status === 'planned').map((i) => i.stepId));
  for (const t of item.templated)
    for (const src of t.sources) {
      const id = src.split('.')[1];
      const s = steps[id];
      if (writes.has(id) && s)
        ctx.steps[id] = { output: s.output, status: s.status, ...(s.content ? { content: s.content } : {}) };
    }
  const args = structuredClone(item.args);
  for (const t of item.templated) setAt(args, t.path, await resolveTemplates(t.template, ctx));
  return JSON.parse(canonicalJson(args)) as Record<string, unknown>;
}

export async function matchPlan(plan: Plan, w: WriteAtGate): Promise<PlanMatch> {
  const item = plan.items.find((i) => i.stepId === w.stepId);
  if (!item) return { ok: false, reason: `step ${w.stepId} was not in the plan` };
  if (item.status === 'skipped')
    return { ok: false, reason: `the plan had step ${w.stepId} skipped (${item.condition}); the run took another branch` };
  if (item.status === 'unplanned') return { ok: false, reason: `step ${w.stepId} was not planned: ${item.reason}` };
  if (item.connector !== w.connector || item.tool !== w.tool)
    return { ok: false, reason: `the plan had ${item.connector}.${item.tool}; the step calls ${w.connector}.${w.tool}` };
  if (item.definitionHash !== w.definitionHash)
    return { ok: false, reason: `the tool ${w.connector}.${w.tool} changed since the plan was approved` };
  let expected: Record<string, unknown> | undefined;
  try {
    expected = await expectedArgs(plan, w.stepId, w.steps);
  } catch (err) {
    return { ok: false, reason: `the plan's template does not resolve: ${(err as Error).message}` };
  }
  const diff = differing(expected, JSON.parse(canonicalJson(w.args)));
  if (diff.length) return { ok: false, reason: `the arguments differ from the plan at ${diff.join(', ')}` };
  return { ok: true };
}
