/**
 * Control-flow steps in workflows.yaml: `parallel`, `foreach`, `workflow` (a child run) and the
 * durable waits `sleep` / `wait_until`. Their bodies are call steps, read by steps.ts with a scope
 * that lets them read what they may: the steps before the flow step, the earlier steps of their own
 * body or branch, and in a loop the item (`as`) and `loop.index`.
 */
import { YAMLMap, isMap, isScalar, isSeq } from 'yaml';
import { scanTemplates } from '../templates.ts';
import { analyzeExpression } from './refs.ts';
import {
  type Field,
  type Source,
  readBool,
  readDuration,
  readEntries,
  readInt,
  readList,
  readMap,
  readString,
  suggest,
  typeName,
} from './source.ts';
import { type CheckCtx, type Scope, STEP_ID_RE, checkTemplatesIn, locate, readCallStep } from './steps.ts';
import {
  type CallStep,
  FLOW_CONNECTOR,
  type FlowStep,
  type ForeachStep,
  type ParallelStep,
  type SleepStep,
  type SourcePos,
  type StepDef,
  type WorkflowDef,
  type WorkflowStep,
} from './types.ts';

export const FLOW_KEYS = ['parallel', 'foreach', 'workflow', 'sleep', 'wait_until'] as const;
export const DEFAULT_FOREACH_CONCURRENCY = 5;
const BODY_CALL_KEYS = ['call', 'with', 'confirm', 'retry', 'timeout'];

/** The flow key a step map holds, if any (the first, when a step wrongly holds several). */
export function flowKeyOf(src: Source, f: Field): (typeof FLOW_KEYS)[number] | undefined {
  const node = src.deref(f.node);
  if (!isMap(node)) return undefined;
  const keys = node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
  return FLOW_KEYS.find((k) => keys.includes(k));
}

/** Branch names of the parallel steps of a workflow, read ahead so later steps can be checked against them. */
export function branchesOf(src: Source, items: Field[]): Map<string, { index: number; ids: string[] }> {
  const out = new Map<string, { index: number; ids: string[] }>();
  items.forEach((item, index) => {
    const node = src.deref(item.node);
    if (!isMap(node)) return;
    const par = node.items.find((p) => isScalar(p.key) && p.key.value === 'parallel');
    const branches = src.deref(par?.value);
    if (!isMap(branches)) return;
    for (const b of branches.items) {
      if (!isScalar(b.key)) continue;
      const body = src.deref(b.value);
      const ids = isSeq(body)
        ? body.items.map((s) => {
            const m = src.deref(s);
            const idPair = isMap(m) ? m.items.find((p) => isScalar(p.key) && p.key.value === 'id') : undefined;
            return isScalar(idPair?.value) ? String(idPair.value.value) : '';
          })
        : [];
      out.set(String(b.key.value), { index, ids });
    }
  });
  return out;
}

interface FlowRead {
  id: string;
  common: { if?: string; retry: CallStep['retry']; timeoutMs?: number };
  f: Field;
  m: Record<string, Field>;
  what: string;
  scope: Scope;
}

/** Reads a flow step; `head` reads id and `if` the way every step does (steps.ts). */
export function readFlowStep(
  src: Source,
  f: Field,
  scope: Scope,
  key: (typeof FLOW_KEYS)[number],
  head: (m: Record<string, Field>, what: string) => (FlowRead['common'] & { id: string }) | undefined,
): StepDef | undefined {
  const what = `step ${scope.index + 1} of workflow "${scope.workflow}"`;
  const others = FLOW_KEYS.filter((k) => k !== key && hasKey(src, f, k));
  const optional = optionalKeys(key, src, f);
  const m = readMap(src, f, what, { required: ['id', key], optional: [...optional, ...others] });
  if (!m) return undefined;
  for (const k of others) src.add(m[k].keyPos, m[k].path, `${what} has both ${key} and ${k}: a step does one of them`);
  const h = head(m, what);
  const { connectors, declared } = scope;
  if (connectors[FLOW_CONNECTOR] || declared.connectors.has(FLOW_CONNECTOR)) {
    src.add(
      m[key].keyPos,
      m[key].path,
      `${what} is a ${key} step, but a connector is named "${FLOW_CONNECTOR}": control-flow steps run on a queue of that name, so rename the connector`,
    );
    return undefined;
  }
  if (!h || others.length) return undefined;
  const { id, ...common } = h;
  const r: FlowRead = { id, common, f, m, what, scope };
  if (key === 'parallel') return readParallel(src, r);
  if (key === 'foreach') return readForeach(src, r);
  if (key === 'workflow') return readChild(src, r);
  return readSleep(src, r, key);
}

function optionalKeys(key: string, src: Source, f: Field): string[] {
  if (key === 'parallel') return ['if', 'continue_on_error'];
  if (key === 'foreach')
    return ['if', 'as', 'concurrency', 'continue_on_error', hasKey(src, f, 'steps') ? 'steps' : '', ...BODY_CALL_KEYS].filter(
      Boolean,
    );
  if (key === 'workflow') return ['if', 'with'];
  return ['if'];
}

function hasKey(src: Source, f: Field, key: string): boolean {
  const node = src.deref(f.node);
  return isMap(node) && node.items.some((p) => isScalar(p.key) && p.key.value === key);
}

function base(r: FlowRead, tool: string): Omit<FlowStep, 'kind'> {
  const keyPos: Partial<Record<string, SourcePos>> = {};
  for (const [k, v] of Object.entries(r.m)) keyPos[k] = v.keyPos;
  return {
    id: r.id,
    connector: FLOW_CONNECTOR,
    tool,
    confirm: 'auto',
    with: {},
    ...r.common,
    pos: r.f.pos,
    keyPos,
  };
}

/**
 * A body of call steps: ids unique within it and distinct from the workflow's steps, each read with
 * the ids before it (plus the outer steps before the flow step) visible.
 */
function readBody(src: Source, items: Field[], r: FlowRead, locals: string[], label: string): CallStep[] | undefined {
  const outer = r.scope.ids.slice(0, r.scope.index);
  const innerIds = items.map((it) => {
    const node = src.deref(it.node);
    const pair = isMap(node) ? node.items.find((p) => isScalar(p.key) && p.key.value === 'id') : undefined;
    return isScalar(pair?.value) && typeof pair.value.value === 'string' ? pair.value.value : undefined;
  });
  const seen = new Map<string, SourcePos>();
  const out: CallStep[] = [];
  let ok = true;
  items.forEach((item, k) => {
    const innerId = innerIds[k];
    if (innerId !== undefined && r.scope.ids.includes(innerId)) {
      src.add(
        item.pos,
        item.path,
        `${label}: step id "${innerId}" is also a step of workflow "${r.scope.workflow}"; give it another id`,
      );
      ok = false;
    }
    const scope: Scope = {
      ...r.scope,
      ids: [...outer, ...innerIds],
      index: outer.length + k,
      locals: [...(r.scope.locals ?? []), ...locals],
    };
    const step = readCallStep(src, item, scope, seen, label);
    if (step) out.push(step);
    else ok = false;
  });
  return ok ? out : undefined;
}

function readParallel(src: Source, r: FlowRead): ParallelStep | undefined {
  const pm = r.m.parallel;
  const entries = readEntries(src, pm, `${r.what} parallel`);
  if (!entries) return undefined;
  if (entries.length < 1) src.add(pm.pos, pm.path, `${r.what} parallel needs at least one branch: {name: [steps]}`);
  const branches: Record<string, CallStep[]> = {};
  let ok = entries.length > 0;
  for (const b of entries) {
    if (!STEP_ID_RE.test(b.key)) {
      src.add(
        b.keyPos,
        b.path,
        `branch name "${b.key}" must start with a letter or _ and hold only letters, digits and _ (templates read steps.<branch>.<id>)`,
      );
      ok = false;
      continue;
    }
    if (r.scope.ids.includes(b.key)) {
      src.add(
        b.keyPos,
        b.path,
        `branch name "${b.key}" is also a step id of workflow "${r.scope.workflow}"; steps.${b.key} would mean both`,
      );
      ok = false;
      continue;
    }
    const items = readList(src, b, `branch "${b.key}" of ${r.what}`);
    if (items?.length === 0) src.add(b.pos, b.path, `branch "${b.key}" of ${r.what} needs at least one step`);
    const body = items?.length ? readBody(src, items, r, [], `branch "${b.key}" of ${r.what}`) : undefined;
    if (body) branches[b.key] = body;
    else ok = false;
  }
  const continueOnError = r.m.continue_on_error ? readBool(src, r.m.continue_on_error, `${r.what} continue_on_error`) : false;
  if (!ok || continueOnError === undefined) return undefined;
  return { ...base(r, 'parallel'), kind: 'parallel', branches, continueOnError };
}

function readForeach(src: Source, r: FlowRead): ForeachStep | undefined {
  const { m, what } = r;
  const expr = readListTemplate(src, m.foreach, r);
  const as = m.as ? readString(src, m.as, `${what} as`) : 'item';
  if (as !== undefined && m.as && (!STEP_ID_RE.test(as) || ['inputs', 'steps', 'run', 'loop'].includes(as))) {
    src.add(
      m.as.pos,
      m.as.path,
      `${what} as "${as}" must be a plain name (letters, digits, _) other than inputs, steps, run and loop`,
    );
    return undefined;
  }
  const concurrency = m.concurrency ? readInt(src, m.concurrency, `${what} concurrency`, 1) : DEFAULT_FOREACH_CONCURRENCY;
  const continueOnError = m.continue_on_error ? readBool(src, m.continue_on_error, `${what} continue_on_error`) : false;
  const locals = [as ?? 'item', 'loop'];
  let steps: CallStep[] | undefined;
  const single = !m.steps;
  if (m.steps) {
    for (const k of BODY_CALL_KEYS)
      if (m[k]) src.add(m[k].keyPos, m[k].path, `${what}: "${k}" belongs to a step of the loop's steps, not beside them`);
    const items = readList(src, m.steps, `${what} steps`);
    if (items?.length === 0) src.add(m.steps.pos, m.steps.path, `${what} steps needs at least one step`);
    steps = items?.length ? readBody(src, items, r, locals, `${what} steps`) : undefined;
  } else if (!m.call) {
    src.add(
      r.f.keyPos,
      `${r.f.path}.call`,
      `${what} has a foreach but no body: give call (one call per item) or steps (a group)`,
    );
  } else {
    // The one-call form reads as a body of one step with the loop's own id.
    const body = bodyField(src, r);
    const one =
      body && readBody(src, [body], { ...r, scope: { ...r.scope, ids: r.scope.ids.filter((x) => x !== r.id) } }, locals, what);
    steps = one;
  }
  if (expr === undefined || as === undefined || concurrency === undefined || continueOnError === undefined || !steps)
    return undefined;
  return { ...base(r, 'foreach'), kind: 'foreach', foreach: expr, as, concurrency, steps, single, continueOnError };
}

/** The one-call form of a loop as a step field of its own: the loop's id with call/with/confirm/retry/timeout. */
function bodyField(src: Source, r: FlowRead): Field | undefined {
  const node = src.deref(r.f.node);
  if (!isMap(node)) return undefined;
  const copy = new YAMLMap();
  copy.items = node.items.filter((p) => isScalar(p.key) && ['id', ...BODY_CALL_KEYS].includes(String(p.key.value)));
  copy.range = node.range;
  return { ...r.f, node: copy };
}

/** `foreach` must be one template (or a bare expression) that can give a list: not a literal, not text. */
function readListTemplate(src: Source, f: Field, r: FlowRead): string | undefined {
  const node = src.deref(f.node);
  const what = `${r.what} foreach`;
  if (!isScalar(node) || typeof node.value !== 'string') {
    src.add(
      f.pos,
      f.path,
      `${what} must be a template that gives a list, e.g. \${{ steps.list.output.data }}, not ${typeName(node)}`,
    );
    return undefined;
  }
  const s = node.value;
  const { segments, error } = scanTemplates(s);
  if (error) {
    src.add(locate(src, node, s, error.offset, { start: error.offset, end: s.length }), f.path, `${what}: ${error.message}`);
    return undefined;
  }
  const [seg] = segments;
  if (segments.length !== 1 || s.slice(0, seg.start).trim() !== '' || s.slice(seg.end).trim() !== '') {
    src.add(
      src.posOf(node, f.pos),
      f.path,
      `${what} must be one template that gives a list, e.g. \${{ steps.list.output.data }}, not text`,
    );
    return undefined;
  }
  const { problems } = analyzeExpression(seg.expr);
  if (problems.length) {
    src.add(locate(src, node, s, seg.exprStart + problems[0].offset, seg), f.path, `${what}: ${problems[0].message}`);
    return undefined;
  }
  const before = src.issues.length;
  checkTemplatesIn(src, node, f.path, { scope: r.scope, self: r.id } satisfies CheckCtx);
  return src.issues.length === before ? seg.expr : undefined;
}

function readChild(src: Source, r: FlowRead): WorkflowStep | undefined {
  const name = readString(src, r.m.workflow, `${r.what} workflow`);
  const withNode = r.m.with ? src.deref(r.m.with.node) : null;
  if (r.m.with && !isMap(withNode)) {
    src.add(
      r.m.with.pos,
      r.m.with.path,
      `${r.what} with must be a map of the child workflow's inputs, not ${typeName(withNode)}`,
    );
    return undefined;
  }
  const before = src.issues.length;
  if (r.m.with && withNode) checkTemplatesIn(src, withNode, r.m.with.path, { scope: r.scope, self: r.id });
  if (name === undefined || src.issues.length > before) return undefined;
  const b = base(r, `workflow:${name}`);
  // Problems with the name found later (unknown, a cycle) point at the name itself.
  b.keyPos.workflow = r.m.workflow.pos;
  return {
    ...b,
    kind: 'workflow',
    workflow: name,
    with: withNode ? (withNode.toJS(src.doc) as Record<string, unknown>) : {},
  };
}

function readSleep(src: Source, r: FlowRead, key: 'sleep' | 'wait_until'): SleepStep | undefined {
  if (key === 'sleep') {
    const ms = readDuration(src, r.m.sleep, `${r.what} sleep`, { positive: true });
    return ms === undefined ? undefined : { ...base(r, 'sleep'), kind: 'sleep', sleepMs: ms };
  }
  const f = r.m.wait_until;
  const node = src.deref(f.node);
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== 'string' && !(v instanceof Date)) {
    src.add(
      f.pos,
      f.path,
      `${r.what} wait_until must be an ISO date-time (2026-01-05T09:00:00Z) or a template that gives one, not ${typeName(node)}`,
    );
    return undefined;
  }
  const s = v instanceof Date ? v.toISOString() : v;
  if (!s.includes('${{') && Number.isNaN(Date.parse(s))) {
    src.add(
      f.pos,
      f.path,
      `${r.what} wait_until "${s}" is not a date-time: write ISO 8601 such as 2026-01-05T09:00:00Z, or a template`,
    );
    return undefined;
  }
  const before = src.issues.length;
  if (node) checkTemplatesIn(src, node, f.path, { scope: r.scope, self: r.id });
  if (src.issues.length > before) return undefined;
  return { ...base(r, 'wait_until'), kind: 'sleep', waitUntil: s };
}

/**
 * After every workflow is read: a `workflow:` step must name a workflow of the file, and no chain of
 * them may lead back to where it started (a run would start itself forever).
 */
export function checkChildren(src: Source, workflows: Record<string, WorkflowDef>, declared: Set<string>): void {
  const edges = new Map<string, WorkflowStep[]>();
  for (const wf of Object.values(workflows))
    edges.set(
      wf.name,
      wf.steps.filter((s): s is WorkflowStep => s.kind === 'workflow'),
    );
  for (const wf of Object.values(workflows)) {
    for (const s of edges.get(wf.name) ?? []) {
      const pos = s.keyPos.workflow ?? s.pos;
      if (!declared.has(s.workflow)) {
        const hint = suggest(s.workflow, [...declared]);
        src.add(
          pos,
          `workflows.${wf.name}.steps.${s.id}.workflow`,
          `step "${s.id}" starts workflow "${s.workflow}", which is not defined${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
        continue;
      }
      const path = cycleFrom(s.workflow, wf.name, edges, [wf.name]);
      if (path)
        src.add(
          pos,
          `workflows.${wf.name}.steps.${s.id}.workflow`,
          `step "${s.id}" starts workflow "${s.workflow}", which leads back to "${wf.name}" (${[...path, wf.name].join(' → ')}); a workflow cannot start itself`,
        );
    }
  }
}

function cycleFrom(at: string, target: string, edges: Map<string, WorkflowStep[]>, path: string[]): string[] | undefined {
  if (at === target) return path;
  if (path.includes(at)) return undefined;
  for (const s of edges.get(at) ?? []) {
    const found = cycleFrom(s.workflow, target, edges, [...path, at]);
    if (found) return found;
  }
  return undefined;
}

/** Every call step of a workflow with its path in the file: top-level, in branches and in loop bodies. */
export function callStepsOf(wf: WorkflowDef): Array<{ path: string; step: CallStep }> {
  const out: Array<{ path: string; step: CallStep }> = [];
  wf.steps.forEach((s, i) => {
    const at = `workflows.${wf.name}.steps[${i}]`;
    if (s.kind === 'call') out.push({ path: at, step: s });
    else if (s.kind === 'foreach')
      for (const [k, b] of s.steps.entries()) out.push({ path: s.single ? at : `${at}.steps[${k}]`, step: b });
    else if (s.kind === 'parallel')
      for (const [name, body] of Object.entries(s.branches))
        for (const [k, b] of body.entries()) out.push({ path: `${at}.parallel.${name}[${k}]`, step: b });
  });
  return out;
}

/** A step without its positions, for the workflow's version hash; bodies are stripped too. */
export function withoutPositions(s: StepDef): Record<string, unknown> {
  const { pos: _p, keyPos: _k, ...rest } = s;
  if (s.kind === 'foreach') return { ...rest, steps: s.steps.map(withoutPositions) };
  if (s.kind === 'parallel')
    return {
      ...rest,
      branches: Object.fromEntries(Object.entries(s.branches).map(([b, body]) => [b, body.map(withoutPositions)])),
    };
  return rest;
}
