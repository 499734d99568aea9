/**
 * A run's plan: every write it will reach from where it stands, with what is known. Arguments
 * that templates resolve from inputs and finished steps are shown as values; a value that will
 * come from an earlier write's output is shown as its template and its source
 * (`steps.refund.output.id`). A write whose arguments or condition depend on anything else (a
 * read or a model step that has not run) is listed as not planned: it asks on its own.
 * Pure (no Redis, no connector): the caller passes the run and what it knows of the tools.
 */
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import { analyzeExpression } from '../workflows/refs.ts';
import { resolveTemplates, scanTemplates, evaluateCondition } from '../workflows/templates.ts';
import type { StepDef, TemplateContext, WorkflowDef } from '../workflows/types.ts';

/** What the planner needs of a tool: whether it writes, and the hash of its pinned definition. */
export interface PlannedTool {
  write: boolean;
  /** sha256 of the tool's definition (runs/tool-pins.ts makePin): a changed tool is another plan */
  definitionHash: string;
}

/** A field whose value comes from an earlier write's output. */
export interface TemplatedField {
  /** dotted path in the arguments */
  path: string;
  /** the template text as the workflow has it */
  template: string;
  /** what it reads that is not known yet: `steps.refund.output` */
  sources: string[];
}

export type PlanItem =
  | {
      stepId: string;
      connector: string;
      tool: string;
      status: 'planned';
      definitionHash: string;
      /** known values; a templated field holds its template text until then */
      args: Record<string, unknown>;
      templated: TemplatedField[];
    }
  | { stepId: string; connector: string; tool: string; status: 'skipped'; condition: string }
  | { stepId: string; connector: string; tool: string; status: 'unplanned'; reason: string };

export interface Plan {
  runId: string;
  /** sha256 over the items and the known context: what a person approves */
  planHash: string;
  /** the step the plan was made at (the first write not yet decided) */
  from: string;
  items: PlanItem[];
  /** what was known: the inputs and the outputs of the steps that had finished */
  known: Pick<TemplateContext, 'inputs' | 'steps' | 'run'>;
}

export interface PlanRun {
  id: string;
  workflow: string;
  session: string;
  inputs: Record<string, unknown>;
  definition: WorkflowDef;
  steps: Record<string, { status: string; output?: unknown; content?: unknown[] }>;
}

type Known = Pick<TemplateContext, 'inputs' | 'steps' | 'run'>;

function knownContext(run: PlanRun): Known {
  const steps: TemplateContext['steps'] = {};
  for (const [id, s] of Object.entries(run.steps))
    if (s.status === 'succeeded' || s.status === 'skipped')
      steps[id] = { output: s.output, status: s.status, ...(s.content !== undefined ? { content: s.content } : {}) };
  return { inputs: run.inputs, steps, run: { id: run.id, workflow: run.workflow, session: run.session } };
}

/** Which steps an expression reads that are not known, and whether it reads them in a way we cannot follow. */
function unknownReads(expr: string, known: Known): { steps: string[]; sources: string[]; dynamic: boolean } {
  const a = analyzeExpression(expr);
  const steps: string[] = [];
  const sources: string[] = [];
  let dynamic = a.problems.length > 0;
  for (const r of a.reads) {
    if (r.root !== 'steps') continue;
    if (r.dynamic || !r.name) {
      dynamic = true;
      continue;
    }
    if (Object.hasOwn(known.steps, r.name)) continue;
    if (!steps.includes(r.name)) steps.push(r.name);
    const src = `steps.${r.name}${r.field ? `.${r.field}` : ''}`;
    if (!sources.includes(src)) sources.push(src);
  }
  return { steps, sources, dynamic };
}

async function knownFalse(step: StepDef, known: Known): Promise<boolean> {
  if (step.if === undefined) return false;
  const u = unknownReads(step.if, known);
  if (u.dynamic || u.steps.length) return false;
  try {
    return !(await evaluateCondition(step.if, known as TemplateContext));
  } catch {
    return false;
  }
}

/** Every string leaf of an argument tree with its dotted path. */
function leaves(v: unknown, path: string, out: Array<{ path: string; text: string }>): void {
  if (typeof v === 'string') out.push({ path, text: v });
  else if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) leaves(x, `${path}${path ? '.' : ''}${i}`, out);
  } else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) leaves(x, `${path}${path ? '.' : ''}${k}`, out);
}

export function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Record<string, unknown> = obj;
  for (const p of parts.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[parts[parts.length - 1]] = value;
}

function stripUndefined(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(canonicalJson(v));
}

/**
 * One write's plan item. `writesBefore`: the planned writes before it, whose outputs may fill a
 * template; anything else unknown makes the write unplanned.
 */
async function planWrite(
  step: Extract<StepDef, { kind: 'call' }>,
  tool: PlannedTool,
  known: Known,
  writesBefore: Set<string>,
): Promise<PlanItem> {
  const head = { stepId: step.id, connector: step.connector, tool: step.tool };
  if (step.if !== undefined) {
    const u = unknownReads(step.if, known);
    if (u.dynamic || u.steps.length)
      return {
        ...head,
        status: 'unplanned',
        reason: `its condition reads ${u.sources.join(', ') || 'steps it cannot name'}, not known yet`,
      };
    if (!(await evaluateCondition(step.if, known as TemplateContext))) return { ...head, status: 'skipped', condition: step.if };
  }
  const found: Array<{ path: string; text: string }> = [];
  leaves(step.with, '', found);
  const templated: TemplatedField[] = [];
  for (const leaf of found) {
    const scan = scanTemplates(leaf.text);
    const u = scan.segments.map((s) => unknownReads(s.expr, known));
    const steps = [...new Set(u.flatMap((x) => x.steps))];
    if (u.some((x) => x.dynamic))
      return { ...head, status: 'unplanned', reason: `${leaf.path || 'an argument'} reads steps it cannot name` };
    if (steps.length === 0) continue;
    const other = steps.filter((s) => !writesBefore.has(s));
    if (other.length)
      return {
        ...head,
        status: 'unplanned',
        reason: `${leaf.path} comes from ${other.map((s) => `steps.${s}`).join(', ')}, which has not run and is not a planned write`,
      };
    templated.push({ path: leaf.path, template: leaf.text, sources: [...new Set(u.flatMap((x) => x.sources))] });
  }
  // Known leaves resolve now; a templated leaf keeps its text in the shown arguments.
  const shell = structuredClone(step.with);
  for (const t of templated) setAt(shell, t.path, `__planned_${t.path}__`);
  const args = (await resolveTemplates(shell, known as TemplateContext)) as Record<string, unknown>;
  for (const t of templated) setAt(args, t.path, t.template);
  return {
    ...head,
    status: 'planned',
    definitionHash: tool.definitionHash,
    args: stripUndefined(args) as Record<string, unknown>,
    templated,
  };
}

/**
 * The plan from the run's first unfinished step on. `tools` answers for each `connector.tool` of a
 * call step; a step whose tool is unknown (its connector is down) is unplanned.
 */
export async function buildPlan(
  run: PlanRun,
  tools: (connector: string, tool: string) => PlannedTool | undefined,
): Promise<Plan> {
  const known = knownContext(run);
  const steps = run.definition.steps;
  const fromIdx = steps.findIndex((s) => !Object.hasOwn(known.steps, s.id));
  const items: PlanItem[] = [];
  const writesBefore = new Set<string>();
  for (const step of fromIdx < 0 ? [] : steps.slice(fromIdx)) {
    const looked = step.kind === 'call' ? tools(step.connector, step.tool) : undefined;
    if (step.kind !== 'call' || (looked !== undefined && !looked.write)) {
      // A read or model step whose condition is already known false will be skipped: what reads
      // it (`$exists(steps.draft.output.message)`) is known too.
      if (await knownFalse(step, known)) known.steps[step.id] = { output: undefined, status: 'skipped' };
      if (step.kind !== 'call' || step.confirm !== 'always') continue;
    }
    const tool = tools(step.connector, step.tool);
    const head = { stepId: step.id, connector: step.connector, tool: step.tool };
    if (!tool) {
      items.push({ ...head, status: 'unplanned', reason: `the tool ${step.connector}.${step.tool} is not available to look at` });
      continue;
    }
    if (!tool.write && step.confirm !== 'always') continue;
    let item: PlanItem;
    try {
      item = await planWrite(step, tool, known, writesBefore);
    } catch (err) {
      item = { ...head, status: 'unplanned', reason: `its arguments do not resolve yet: ${(err as Error).message}` };
    }
    items.push(item);
    if (item.status === 'planned') writesBefore.add(step.id);
  }
  const from = fromIdx < 0 ? '' : steps[fromIdx].id;
  const planHash = sha256Hex(canonicalJson({ runId: run.id, version: run.definition.version, from, items, known }));
  return { runId: run.id, planHash, from, items, known };
}
