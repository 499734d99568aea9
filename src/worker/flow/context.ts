/**
 * What templates see: inputs, run, and every step's output and status. A parallel step also gives
 * `steps.<branch>.<id>` for each step of its branches; inside a loop or branch the earlier steps of
 * the same item or branch read as `steps.<id>`, and a loop's item reads by its `as` name, with
 * `loop.index` (from 0) and `loop.count`.
 */
import type { ItemRecord, RunRecord } from '../../runs/records.ts';
import type { TemplateContext } from '../../workflows/types.ts';

type StepView = TemplateContext['steps'][string];

function view(r: { output?: unknown; status: string; content?: unknown[] }): StepView {
  return { output: r.output, status: r.status, ...(r.content !== undefined ? { content: r.content } : {}) };
}

export function contextOf(run: RunRecord): TemplateContext {
  const steps: TemplateContext['steps'] = {};
  for (const [id, s] of Object.entries(run.steps)) steps[id] = view(s);
  for (const def of run.definition.steps) {
    if (def.kind !== 'parallel') continue;
    const items = run.steps[def.id]?.items ?? {};
    for (const [branch, body] of Object.entries(def.branches)) {
      const inner: Record<string, StepView> = {};
      for (const b of body) inner[b.id] = view(items[`${branch}.${b.id}`] ?? { status: 'pending' });
      // A branch reads as a map of its steps; the template context types steps one level deep.
      steps[branch] = inner as unknown as StepView;
    }
  }
  return { inputs: run.inputs, steps, run: { id: run.id, workflow: run.workflow, session: run.session } };
}

/**
 * `ctx` (contextOf `run` as it was) brought up to date where steps `ids` changed. Only for a run
 * without parallel steps, whose branches read as `steps.<branch>` beside the step ids.
 */
export function refreshContext(ctx: TemplateContext, run: RunRecord, ids: readonly string[]): void {
  for (const id of ids) {
    const s = run.steps[id];
    if (s) ctx.steps[id] = view(s);
  }
}

/** The context of one step inside an item or a branch: the earlier steps there read as `steps.<id>`. */
export function innerContext(
  base: TemplateContext,
  earlier: Array<[string, ItemRecord | undefined]>,
  locals: Record<string, unknown>,
): TemplateContext {
  const steps = { ...base.steps };
  for (const [id, rec] of earlier) steps[id] = view(rec ?? { status: 'pending' });
  return { ...locals, ...base, steps } as TemplateContext;
}
