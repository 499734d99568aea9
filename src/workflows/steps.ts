/**
 * Workflows and their steps: structure, `call` targets, and what each template reads.
 * A template may read `inputs`, `run` and the steps before its own; steps run in order, so a
 * read of the step itself or a later one could only ever see nothing, and is refused here.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { inputSchemaProblems } from './inputs.ts';
import { analyzeExpression } from './refs.ts';
import { type Declared, NAME_RE, toolAllowed } from './schema.ts';
import {
  type Field,
  type Source,
  joinPath,
  readBool,
  readDuration,
  readEntries,
  readInt,
  readList,
  readMap,
  readString,
  suggest,
} from './source.ts';
import { type TemplateSegment, scanTemplates } from './templates.ts';
import { readLlmStep } from './llm-step.ts';
import { branchesOf, checkChildren, flowKeyOf, readFlowStep, withoutPositions } from './flow-steps.ts';
import { readTriggers } from './triggers.ts';
import type { CallStep, ConfirmMode, ConnectorConfig, LlmConfig, RetryPolicy, SourcePos, StepDef, WorkflowDef } from './types.ts';

export const STEP_ID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000 };
const CONFIRM_MODES: ConfirmMode[] = ['auto', 'always', 'never'];
const STEP_KEYS = ['call', 'with', 'if', 'confirm', 'retry', 'timeout'] as const;

export function readWorkflows(
  src: Source,
  f: Field,
  connectors: Record<string, ConnectorConfig>,
  declared: Declared,
  llm?: LlmConfig,
): Record<string, WorkflowDef> {
  const out: Record<string, WorkflowDef> = {};
  for (const wf of readEntries(src, f, 'workflows') ?? []) {
    declared.workflows.add(wf.key);
    const def = readWorkflow(src, wf, connectors, declared, llm);
    if (def) out[def.name] = def;
  }
  checkChildren(src, out, declared.workflows);
  return out;
}

function readWorkflow(
  src: Source,
  f: Field,
  connectors: Record<string, ConnectorConfig>,
  declared: Declared,
  llm: LlmConfig | undefined,
): WorkflowDef | undefined {
  const what = `workflow "${f.key}"`;
  if (!NAME_RE.test(f.key)) src.add(f.keyPos, f.path, `${what}: a workflow name may hold only letters, digits, _ and -`);
  const m = readMap(src, f, what, { required: ['description', 'steps'], optional: ['inputs', 'expose', 'triggers'] });
  if (!m) return undefined;
  const description = m.description && readString(src, m.description, `${what} description`);
  const expose = m.expose ? readBool(src, m.expose, `${what} expose`) : false;
  const inputs = m.inputs ? readInputSchema(src, m.inputs, what) : { type: 'object' };
  const steps: StepDef[] = [];
  const items = m.steps && readList(src, m.steps, `${what} steps`);
  if (items?.length === 0 && m.steps) src.add(m.steps.pos, m.steps.path, `${what} needs at least one step`);
  // Ids are collected first so a template reading a later step is told "later", not "unknown".
  const ids = (items ?? []).map((item) => stepIdOf(src, item));
  const seen = new Map<string, SourcePos>();
  const branches = branchesOf(src, items ?? []);
  (items ?? []).forEach((item, index) => {
    const scope = { workflow: f.key, ids, index, connectors, declared, inputs: inputs ?? {}, llm, branches };
    const step = readStep(src, item, scope, seen);
    if (step) steps.push(step);
  });
  const triggers = m.triggers ? readTriggers(src, m.triggers, f.key, inputs ?? {}) : [];
  if (
    description === undefined ||
    expose === undefined ||
    triggers === undefined ||
    inputs === undefined ||
    !items ||
    steps.length !== items.length ||
    items.length === 0
  )
    return undefined;
  const def: WorkflowDef = {
    name: f.key,
    description,
    inputs,
    steps,
    expose,
    ...(triggers.length ? { triggers } : {}),
    version: '',
    pos: f.keyPos,
  };
  def.version = workflowVersion(def);
  return def;
}

/**
 * First 12 hex of sha256 over the canonical definition, positions and the version itself left out.
 * Triggers are left out too: they say when runs start, not what a run does.
 */
export function workflowVersion(def: WorkflowDef): string {
  const steps = def.steps.map(withoutPositions);
  const { pos: _pos, version: _version, triggers: _triggers, ...rest } = def;
  return sha256Hex(canonicalJson({ ...rest, steps })).slice(0, 12);
}

function readInputSchema(src: Source, f: Field, what: string): Record<string, unknown> | undefined {
  const node = src.deref(f.node);
  if (!isMap(node)) {
    src.add(
      f.pos,
      f.path,
      `${what} inputs must be a JSON Schema (a map), not ${node === null ? 'nothing' : isSeq(node) ? 'a list' : 'a scalar'}`,
    );
    return undefined;
  }
  const schema = node.toJS(src.doc) as Record<string, unknown>;
  const problems = inputSchemaProblems(schema);
  for (const p of problems) {
    const at = nodeAt(src, node, p.pointer, p.keyword);
    src.add(
      src.posOf(at, f.pos),
      `${f.path}${p.pointer.map((s) => `.${s}`).join('')}`,
      `${what} inputs is not a valid JSON Schema: ${p.message}`,
    );
  }
  return problems.length === 0 ? schema : undefined;
}

/** The YAML node at a JSON pointer path (or its deepest existing parent); `keyword` points at a key inside it. */
export function nodeAt(src: Source, node: Node, pointer: string[], keyword?: string): Node {
  let cur: Node = node;
  const segs = keyword === undefined ? pointer : [...pointer, keyword];
  for (const [i, seg] of segs.entries()) {
    const wantKey = keyword !== undefined && i === segs.length - 1;
    let next: Node | null = null;
    if (isMap(cur)) {
      const pair = cur.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      next = pair ? (wantKey ? (pair.key as Node) : src.deref(pair.value)) : null;
    } else if (isSeq(cur)) next = src.deref(cur.items[Number(seg)]);
    if (!next) break;
    cur = next;
  }
  return cur;
}

function stepIdOf(src: Source, item: Field): string | undefined {
  const node = src.deref(item.node);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'id');
  const v = isScalar(pair?.value) ? pair.value.value : undefined;
  return typeof v === 'string' ? v : undefined;
}

export interface Scope {
  workflow: string;
  ids: Array<string | undefined>;
  index: number;
  connectors: Record<string, ConnectorConfig>;
  declared: Declared;
  inputs: Record<string, unknown>;
  llm: LlmConfig | undefined;
  /** names a template may read at its root besides inputs, steps and run (a loop's item and `loop`) */
  locals?: string[];
  /** branches of the workflow's parallel steps: the step they are in and their step ids */
  branches?: Map<string, { index: number; ids: string[] }>;
}

/** A step of a loop body or a branch: a tool call only. */
export function readCallStep(
  src: Source,
  f: Field,
  scope: Scope,
  seen: Map<string, SourcePos>,
  label: string,
): CallStep | undefined {
  const nested = flowKeyOf(src, f) ?? (hasKey(src, f, 'llm') ? 'llm' : undefined);
  if (nested) {
    src.add(f.pos, f.path, `${label}: "${nested}" cannot be used here; a loop body or a branch holds call steps only`);
    return undefined;
  }
  const step = readStep(src, f, scope, seen);
  return step?.kind === 'call' ? step : undefined;
}

/** A step's id: well formed and not used before in the same list. */
function readId(
  src: Source,
  m: Record<string, Field>,
  scope: Scope,
  what: string,
  seen: Map<string, SourcePos>,
): string | undefined {
  const id = m.id && readString(src, m.id, `${what} id`);
  if (id === undefined || !m.id) return undefined;
  const first = seen.get(id);
  if (!STEP_ID_RE.test(id)) {
    src.add(
      m.id.pos,
      m.id.path,
      `step id "${id}" must start with a letter or _ and hold only letters, digits and _ (templates read it as steps.${id.replace(/\W/g, '_')}.output)`,
    );
    return undefined;
  }
  if (first) {
    src.add(
      m.id.pos,
      m.id.path,
      `duplicate step id "${id}" in workflow "${scope.workflow}" (first used at line ${first.line}:${first.col})`,
    );
    return undefined;
  }
  seen.set(id, m.id.pos);
  return id;
}

function readStep(src: Source, f: Field, scope: Scope, seen: Map<string, SourcePos>): StepDef | undefined {
  const what = `step ${scope.index + 1} of workflow "${scope.workflow}"`;
  const flow = flowKeyOf(src, f);
  if (flow)
    return readFlowStep(src, f, scope, flow, (m) => {
      const id = readId(src, m, scope, what, seen);
      const common = readCommon(src, m, what, { scope, self: id });
      return id !== undefined && common ? { ...common, id } : undefined;
    });
  // A step without `call` but with `llm` asks a model; the keys it takes are checked there.
  const llm = hasKey(src, f, 'llm') && !hasKey(src, f, 'call');
  const m = readMap(src, f, what, {
    required: llm ? ['id'] : ['id', 'call'],
    optional: [...STEP_KEYS.filter((k) => k !== 'call'), 'llm'],
  });
  if (!m) return undefined;
  if (m.llm && m.call) {
    src.add(m.llm.keyPos, m.llm.path, `${what} has both call and llm: a step either calls a tool (call) or asks a model (llm)`);
    return undefined;
  }
  const id = readId(src, m, scope, what, seen);
  const ok = id !== undefined;
  const ctx = { scope, self: id };
  if (llm) {
    const common = readCommon(src, m, what, ctx);
    return readLlmStep(src, f, m, what, ctx, common && ok && id !== undefined ? { ...common, id } : undefined);
  }
  const target = m.call && readCall(src, m.call, scope);
  const withNode = m.with ? src.deref(m.with.node) : null;
  if (m.with && !isMap(withNode))
    src.add(
      m.with.pos,
      m.with.path,
      `${what} with must be a map of arguments, not ${withNode === null ? 'nothing' : isSeq(withNode) ? 'a list' : 'a scalar'}`,
    );
  else if (m.with && withNode) checkTemplatesIn(src, withNode, m.with.path, ctx);
  const common = readCommon(src, m, what, ctx);
  let confirm: ConfirmMode | undefined = 'auto';
  if (m.confirm) {
    const c = readString(src, m.confirm, `${what} confirm`);
    confirm = CONFIRM_MODES.find((x) => x === c);
    if (c !== undefined && !confirm) {
      const hint = suggest(c, CONFIRM_MODES);
      src.add(
        m.confirm.pos,
        m.confirm.path,
        `${what} has confirm "${c}"${hint ? ` (did you mean "${hint}"?)` : ''}; use auto, always or never`,
      );
    }
  }
  if (!ok || id === undefined || !target || !common || !confirm || (m.with && !isMap(withNode))) return undefined;
  const { if: cond, retry, timeoutMs } = common;
  const keyPos: CallStep['keyPos'] = {};
  for (const k of STEP_KEYS) if (m[k]) keyPos[k] = m[k].keyPos;
  return {
    kind: 'call',
    id,
    connector: target.connector,
    tool: target.tool,
    with: withNode ? (withNode.toJS(src.doc) as Record<string, unknown>) : {},
    ...(cond !== undefined ? { if: cond } : {}),
    confirm,
    retry,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    pos: f.pos,
    keyPos,
  };
}

/** What every kind of step may have: `if`, `retry`, `timeout`. Undefined when any of them is wrong. */
export interface StepCommon {
  if?: string;
  retry: RetryPolicy;
  timeoutMs?: number;
}

function readCommon(src: Source, m: Record<string, Field>, what: string, ctx: CheckCtx): StepCommon | undefined {
  const cond = m.if ? readCondition(src, m.if, ctx) : undefined;
  const retry = m.retry ? readRetry(src, m.retry, what) : { ...DEFAULT_RETRY };
  const timeoutMs = m.timeout ? readDuration(src, m.timeout, `${what} timeout`, { positive: true }) : undefined;
  if (cond === null || !retry || (m.timeout && timeoutMs === undefined)) return undefined;
  return { ...(cond !== undefined ? { if: cond } : {}), retry, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

function hasKey(src: Source, f: Field, key: string): boolean {
  const node = src.deref(f.node);
  return isMap(node) && node.items.some((p) => isScalar(p.key) && p.key.value === key);
}

function readCall(src: Source, f: Field, { connectors, declared }: Scope): { connector: string; tool: string } | undefined {
  const call = readString(src, f, 'call');
  if (call === undefined) return undefined;
  const m = /^([A-Za-z0-9_-]+)\.(\S+)$/.exec(call);
  if (!m) {
    src.add(f.pos, f.path, `malformed call "${call}": write connector.tool, e.g. stripe.create_refund`);
    return undefined;
  }
  const [, connector, tool] = m;
  const c = connectors[connector];
  if (!c) {
    if (declared.connectors.has(connector)) return undefined;
    const known = [...declared.connectors];
    const hint = suggest(connector, known);
    src.add(
      f.pos,
      f.path,
      `unknown connector "${connector}" in call "${call}"${hint ? ` (did you mean "${hint}"?)` : ''}; connectors: ${known.join(', ') || 'none defined'}`,
    );
    return undefined;
  }
  if (!toolAllowed(c.tools, tool)) {
    src.add(
      f.pos,
      f.path,
      `call "${call}": tool "${tool}" is turned off by connectors.${connector}.tools (allow: [${c.tools.allow.join(', ')}], deny: [${c.tools.deny.join(', ')}])`,
    );
    return undefined;
  }
  return { connector, tool };
}

function readRetry(src: Source, f: Field, what: string): RetryPolicy | undefined {
  const node = src.deref(f.node);
  if (isScalar(node) && typeof node.value === 'number') {
    const attempts = readInt(src, f, `${what} retry`, 1);
    return attempts === undefined ? undefined : { attempts, backoffMs: DEFAULT_RETRY.backoffMs };
  }
  const m = readMap(src, f, `${what} retry`, { optional: ['attempts', 'backoff'] });
  if (!m) return undefined;
  const attempts = m.attempts ? readInt(src, m.attempts, `${what} retry attempts`, 1) : DEFAULT_RETRY.attempts;
  const backoffMs = m.backoff
    ? readDuration(src, m.backoff, `${what} retry backoff`, { positive: false })
    : DEFAULT_RETRY.backoffMs;
  return attempts === undefined || backoffMs === undefined ? undefined : { attempts, backoffMs };
}

export interface CheckCtx {
  scope: Scope;
  self: string | undefined;
}

/** `if` holds one expression: bare, or wrapped as one `${{ }}`. Returns null when it is wrong. */
function readCondition(src: Source, f: Field, ctx: CheckCtx): string | null {
  const node = src.deref(f.node);
  if (isScalar(node) && typeof node.value === 'boolean') return String(node.value);
  const s = readString(src, f, 'if');
  if (s === undefined || !isScalar(node)) return null;
  const { segments, error } = scanTemplates(s);
  if (error) {
    src.add(locate(src, node, s, error.offset, { start: error.offset, end: s.length }), f.path, `if: ${error.message}`);
    return null;
  }
  if (segments.length === 0)
    return checkExpr(src, node, s, { expr: s, start: 0, exprStart: 0, end: s.length }, f.path, ctx) ? s.trim() : null;
  const [seg] = segments;
  if (segments.length > 1 || s.slice(0, seg.start).trim() !== '' || s.slice(seg.end).trim() !== '') {
    src.add(
      src.posOf(node, f.pos),
      f.path,
      'if must be one expression: either "${{ expr }}" or a bare expression, not text around templates',
    );
    return null;
  }
  return checkExpr(src, node, s, seg, f.path, ctx) ? seg.expr : null;
}

/** Walks an argument tree and checks every template string in it. */
export function checkTemplatesIn(src: Source, node: Node, path: string, ctx: CheckCtx): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      if (key.includes('${{'))
        src.add(
          src.posOf(pair.key as Node, { line: 1, col: 1 }),
          joinPath(path, key),
          `templates are not evaluated in argument names ("${key}"); only values can be templated`,
        );
      const v = src.deref(pair.value);
      if (v) checkTemplatesIn(src, v, joinPath(path, key), ctx);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const v = src.deref(item);
      if (v) checkTemplatesIn(src, v, `${path}[${i}]`, ctx);
    });
  } else if (isScalar(node) && typeof node.value === 'string') {
    const s = node.value;
    const { segments, error } = scanTemplates(s);
    for (const seg of segments) checkExpr(src, node, s, seg, path, ctx);
    if (error) src.add(locate(src, node, s, error.offset, { start: error.offset, end: s.length }), path, error.message);
  }
}

/**
 * Where `value[at]` is in the file. Plain and unescaped quoted scalars hold the value as written;
 * otherwise the template around `at` (`seg`) is looked up in the raw text, and when escapes or
 * folding hide even that, the scalar's start is the answer.
 */
export function locate(src: Source, node: Node, value: string, at: number, seg: { start: number; end: number }): SourcePos {
  const [start, end] = node.range ?? [0, 0];
  const raw = src.text.slice(start, end);
  const whole = raw.indexOf(value);
  if (whole >= 0) return src.at(start + whole + at);
  const piece = value.slice(seg.start, seg.end);
  let nth = 0;
  for (let i = value.indexOf(piece); i >= 0 && i < seg.start; i = value.indexOf(piece, i + 1)) nth++;
  let found = -1;
  for (let k = 0; k <= nth; k++) {
    found = raw.indexOf(piece, found + 1);
    if (found < 0) break;
  }
  return src.at(found < 0 ? start : start + found + (at - seg.start));
}

const ROOTS = ['inputs', 'steps', 'run'];
const RUN_FIELDS = ['id', 'workflow', 'session'];
const STEP_FIELDS = ['output', 'content', 'status'];

function checkExpr(src: Source, node: Node, value: string, seg: TemplateSegment, path: string, ctx: CheckCtx): boolean {
  const { reads, problems } = analyzeExpression(seg.expr);
  const before = src.issues.length;
  const report = (offset: number, message: string) =>
    src.add(locate(src, node, value, seg.exprStart + offset, seg), path, message);
  for (const p of problems) report(p.offset, p.message);
  const { ids, index, workflow, inputs, locals = [], branches } = ctx.scope;
  for (const r of reads) {
    if (locals.includes(r.root)) continue;
    if (!ROOTS.includes(r.root)) {
      const hint = suggest(r.root, [...ROOTS, ...locals]);
      report(
        r.offset,
        `template reads "${r.root}", but templates read only inputs, steps.<id> and run${locals.length ? ` (and here ${locals.join(', ')})` : ''}${hint ? ` (did you mean "${hint}"?)` : ''}`,
      );
    } else if (r.root === 'steps') {
      if (r.name === undefined) {
        report(r.offset, 'template reads steps without naming one: write steps.<id>.output or steps.<id>.status');
        continue;
      }
      const branch = branches?.get(r.name);
      if (branch && !ids.includes(r.name)) {
        if (branch.index >= index)
          report(
            r.nameOffset ?? r.offset,
            `template reads steps.${r.name}, a branch of a parallel step that runs after this step`,
          );
        else if (r.field !== undefined && !branch.ids.includes(r.field)) {
          const hint = suggest(r.field, branch.ids);
          report(
            r.fieldOffset ?? r.offset,
            `template reads steps.${r.name}.${r.field}, but branch "${r.name}" has no step "${r.field}"${hint ? ` (did you mean "${hint}"?)` : ''}; write steps.<branch>.<id>.output`,
          );
        }
        continue;
      }
      const at = ids.indexOf(r.name);
      const nameAt = r.nameOffset ?? r.offset;
      if (r.name === ctx.self)
        report(nameAt, `template reads steps.${r.name}, the step itself; a step can read only the steps before it`);
      else if (at < 0) {
        const hint = suggest(
          r.name,
          ids.filter((x): x is string => x !== undefined),
        );
        report(
          nameAt,
          `template reads steps.${r.name}, but workflow "${workflow}" has no step "${r.name}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      } else if (at > index)
        report(nameAt, `template reads steps.${r.name}, which runs after this step; a step can read only the steps before it`);
      else if (r.field !== undefined && !STEP_FIELDS.includes(r.field)) {
        const hint = suggest(r.field, STEP_FIELDS);
        report(
          r.fieldOffset ?? nameAt,
          `template reads steps.${r.name}.${r.field}; a step has only output, content and status${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
    } else if (r.root === 'run' && r.name !== undefined && !RUN_FIELDS.includes(r.name)) {
      const hint = suggest(r.name, RUN_FIELDS);
      report(
        r.nameOffset ?? r.offset,
        `template reads run.${r.name}; run has only id, workflow and session${hint ? ` (did you mean "${hint}"?)` : ''}`,
      );
    } else if (r.root === 'inputs' && r.name !== undefined) {
      const props = inputs.properties;
      const extra = inputs.additionalProperties;
      if (props && typeof props === 'object' && !(r.name in props) && (extra === undefined || extra === false)) {
        const hint = suggest(r.name, Object.keys(props));
        report(
          r.nameOffset ?? r.offset,
          `template reads inputs.${r.name}, but the inputs schema has no property "${r.name}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
    }
  }
  return src.issues.length === before;
}
