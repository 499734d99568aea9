/**
 * `${{ expression }}` templates (JSONata) in step arguments and `if` conditions.
 *
 * Rules callers can rely on:
 * - Only strings that come from a workflow definition are ever compiled. Values read from `inputs`
 *   or tool outputs are data: they are returned as they are, never scanned for templates, and
 *   JSONata's `$eval` is switched off so an expression cannot turn data into code either.
 * - A string that is exactly one template keeps the result's JSON type (number, object, …).
 *   Any other string with templates stays a string: each template is replaced by its string form
 *   (strings as they are, everything else as JSON); one that resolves to nothing is an error that
 *   names the path, never a silent "" (write `$exists(x) ? x : ''` for an optional part).
 * - An `undefined` result drops its key from the enclosing object, so an optional argument
 *   whose source is missing is simply not sent. Inside an array it becomes `null` so the other
 *   elements keep their positions.
 */
import jsonata from 'jsonata';
import { InterlockError, errorMessage } from './errors.ts';

/** What templates can read while a step is resolved. */
export interface TemplateContext {
  inputs: Record<string, unknown>;
  steps: Record<string, { output: unknown; status: string; content?: unknown[] }>;
  run: { id: string; workflow: string; session: string };
}

export interface TemplateSegment {
  /** the expression between `${{` and `}}`, trimmed */
  expr: string;
  /** offset of `${{` in the string */
  start: number;
  /** offset of the expression's first character in the string */
  exprStart: number;
  /** offset just after the closing `}}` */
  end: number;
}

export interface TemplateScan {
  segments: TemplateSegment[];
  /** an unterminated or empty template; the segments before it are still listed */
  error?: { offset: number; message: string };
}

const OPEN = '${{';

/**
 * Finds the templates in a string. The closing `}}` is found by scanning the expression, so
 * object constructors (`{"a": {"b": 1}}`) and strings holding `}}` do not end it early.
 */
export function scanTemplates(s: string): TemplateScan {
  const segments: TemplateSegment[] = [];
  let from = 0;
  for (;;) {
    const start = s.indexOf(OPEN, from);
    if (start < 0) return { segments };
    const end = findClose(s, start + OPEN.length);
    if (end < 0) return { segments, error: { offset: start, message: 'unterminated template: "${{" has no matching "}}"' } };
    const raw = s.slice(start + OPEN.length, end);
    const lead = raw.length - raw.trimStart().length;
    const expr = raw.trim();
    if (expr === '') return { segments, error: { offset: start, message: 'empty template "${{ }}"' } };
    segments.push({ expr, start, exprStart: start + OPEN.length + lead, end: end + 2 });
    from = end + 2;
  }
}

function findClose(s: string, i: number): number {
  let depth = 0;
  const start = i;
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipQuoted(s, i, c);
      continue;
    }
    if (c === '/' && s[i + 1] === '*') {
      const close = s.indexOf('*/', i + 2);
      if (close < 0) return -1;
      i = close + 2;
      continue;
    }
    if (c === '/' && regexMayStart(s, start, i)) {
      i = skipRegex(s, i);
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0 && s[i + 1] === '}') return i;
      if (depth > 0) depth--;
    }
    i++;
  }
  return -1;
}

/**
 * JSONata reads `/` as a regex where an operand is expected and as division after one, so the
 * character before it decides, as in JSONata's own tokenizer: after a name, number, string or
 * closing bracket it divides; after an operator, an opening bracket, a comma or `and`/`or`/`in`
 * (or at the start) a regex begins, and the quotes inside it are not strings.
 */
function regexMayStart(s: string, from: number, i: number): boolean {
  let j = i - 1;
  while (j >= from && /\s/.test(s[j])) j--;
  if (j < from) return true;
  const p = s[j];
  if ('([{,:;?=!<>&|+-*/%~^'.includes(p)) return true;
  if (!/[A-Za-z0-9_$]/.test(p)) return false;
  let k = j;
  while (k >= from && /[A-Za-z0-9_$]/.test(s[k])) k--;
  return ['and', 'or', 'in'].includes(s.slice(k + 1, j + 1));
}

/** Past a regex literal `/…/flags`; `\/` inside does not end it. */
function skipRegex(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '/') {
      let k = j + 1;
      while (k < s.length && /[a-z]/.test(s[k])) k++;
      return k;
    }
  }
  return s.length;
}

function skipQuoted(s: string, i: number, q: string): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\' && q !== '`') j++;
    else if (s[j] === q) return j + 1;
  }
  return s.length;
}

/** The expression of a string that is exactly one template, else undefined. */
export function soleTemplate(s: string): string | undefined {
  const { segments, error } = scanTemplates(s);
  if (error || segments.length !== 1) return undefined;
  const [seg] = segments;
  return seg.start === 0 && seg.end === s.length ? seg.expr : undefined;
}

// Compiled expressions by source. Definitions are few and long-lived, and every step job
// resolves its arguments, so parsing once per distinct source is the main saving. The cap only
// guards a long-lived server that keeps loading new definitions.
const compiled = new Map<string, jsonata.Expression>();
const CACHE_LIMIT = 5000;

export function compileExpression(expr: string): jsonata.Expression {
  let e = compiled.get(expr);
  if (e) return e;
  try {
    e = jsonata(expr);
  } catch (err) {
    throw new InterlockError('TEMPLATE_ERROR', `expression "${expr}" does not parse: ${errorMessage(err)}`, { expression: expr });
  }
  if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value as string);
  compiled.set(expr, e);
  return e;
}

type Node =
  | { k: 'lit'; value: unknown }
  | { k: 'expr'; source: string; expr: jsonata.Expression; path?: string[] }
  | { k: 'str'; parts: Array<string | { source: string; expr: jsonata.Expression; path?: string[] }> }
  | { k: 'arr'; items: Node[] }
  | { k: 'obj'; entries: Array<[string, Node]> };

/** A template tree compiled once and resolved many times. */
export class CompiledTemplate {
  readonly root: Node;
  readonly hasTemplates: boolean;
  constructor(root: Node) {
    this.root = root;
    this.hasTemplates = root.k !== 'lit';
  }
  resolve(ctx: TemplateContext): Promise<unknown> {
    let quick: unknown;
    try {
      quick = evalQuick(this.root, ctx);
    } catch (err) {
      return Promise.reject(err);
    }
    return quick === SLOW ? evalNode(this.root, ctx) : Promise.resolve(quick);
  }
}

export function compileTemplateTree(value: unknown): CompiledTemplate {
  return new CompiledTemplate(compileNode(value));
}

function compileNode(value: unknown): Node {
  if (typeof value === 'string') {
    const { segments, error } = scanTemplates(value);
    if (error) throw new InterlockError('TEMPLATE_ERROR', `${error.message} in "${value}"`, { template: value });
    if (segments.length === 0) return { k: 'lit', value };
    const [first] = segments;
    if (segments.length === 1 && first.start === 0 && first.end === value.length) {
      return { k: 'expr', source: first.expr, expr: compileExpression(first.expr), ...pathOf(first.expr) };
    }
    const parts: Array<string | { source: string; expr: jsonata.Expression }> = [];
    let at = 0;
    for (const seg of segments) {
      if (seg.start > at) parts.push(value.slice(at, seg.start));
      parts.push({ source: seg.expr, expr: compileExpression(seg.expr), ...pathOf(seg.expr) });
      at = seg.end;
    }
    if (at < value.length) parts.push(value.slice(at));
    return { k: 'str', parts };
  }
  if (Array.isArray(value)) {
    const items = value.map(compileNode);
    return items.every((n) => n.k === 'lit') ? { k: 'lit', value } : { k: 'arr', items };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([key, v]): [string, Node] => [key, compileNode(v)]);
    return entries.every(([, n]) => n.k === 'lit') ? { k: 'lit', value } : { k: 'obj', entries };
  }
  return { k: 'lit', value };
}

/*
 * Most templates only read a value (`steps.lookup.output.customer.id`). Such a path over plain
 * objects is looked up directly, which gives what JSONata gives; anything else, including a path
 * that meets an array (JSONata maps over those), goes to JSONata.
 */
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const OPERATOR_WORDS = new Set(['and', 'or', 'in', 'true', 'false', 'null', 'function']);

function pathOf(expr: string): { path?: string[] } {
  if (!PATH.test(expr)) return {};
  const path = expr.split('.');
  return path.some((p) => OPERATOR_WORDS.has(p)) ? {} : { path };
}

const SLOW = Symbol('needs JSONata');

function lookup(path: string[], ctx: TemplateContext): unknown {
  let v: unknown = ctx;
  for (const name of path) {
    if (v === undefined) return undefined;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return SLOW;
    v = Object.hasOwn(v, name) ? (v as Record<string, unknown>)[name] : undefined;
  }
  return Array.isArray(v) ? SLOW : v;
}

/** The tree resolved without JSONata, or SLOW when some template needs it. */
function evalQuick(node: Node, ctx: TemplateContext): unknown {
  switch (node.k) {
    case 'lit':
      return node.value !== null && typeof node.value === 'object' ? structuredClone(node.value) : node.value;
    case 'expr': {
      if (!node.path) return SLOW;
      const v = lookup(node.path, ctx);
      return v === SLOW ? SLOW : plain(v, node.source);
    }
    case 'str': {
      let out = '';
      for (const p of node.parts) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        const v = p.path ? lookup(p.path, ctx) : SLOW;
        if (v === SLOW) return SLOW;
        out += stringForm(plain(v, p.source), p.source, ctx);
      }
      return out;
    }
    case 'arr': {
      const out: unknown[] = [];
      for (const n of node.items) {
        const v = evalQuick(n, ctx);
        if (v === SLOW) return SLOW;
        out.push(v === undefined ? null : v);
      }
      return out;
    }
    case 'obj': {
      const out: Record<string, unknown> = {};
      for (const [key, n] of node.entries) {
        const v = evalQuick(n, ctx);
        if (v === SLOW) return SLOW;
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
  }
}

// Trees compiled from the same definition object are reused, so definitions are treated as
// immutable once resolved. A definition read back from Redis is a new object; then only the walk
// is repeated, not the JSONata parsing.
const trees = new WeakMap<object, CompiledTemplate>();

/** Resolves every template in `value` (a raw definition tree or a CompiledTemplate). */
export function resolveTemplates(value: unknown, ctx: TemplateContext): Promise<unknown> {
  if (value instanceof CompiledTemplate) return value.resolve(ctx);
  if (value !== null && typeof value === 'object') {
    let tree = trees.get(value);
    if (!tree) {
      tree = compileTemplateTree(value);
      trees.set(value, tree);
    }
    return tree.resolve(ctx);
  }
  return compileTemplateTree(value).resolve(ctx);
}

async function evalNode(node: Node, ctx: TemplateContext): Promise<unknown> {
  switch (node.k) {
    case 'lit':
      // The definition is shared by every run; callers get their own copy to change.
      return node.value !== null && typeof node.value === 'object' ? structuredClone(node.value) : node.value;
    case 'expr':
      return plain(await run(node.source, node.expr, ctx), node.source);
    case 'str': {
      const out = await Promise.all(
        node.parts.map(async (p) =>
          typeof p === 'string' ? p : stringForm(plain(await run(p.source, p.expr, ctx), p.source), p.source, ctx),
        ),
      );
      return out.join('');
    }
    case 'arr':
      return (await Promise.all(node.items.map((n) => evalNode(n, ctx)))).map((v) => (v === undefined ? null : v));
    case 'obj': {
      const values = await Promise.all(node.entries.map(([, n]) => evalNode(n, ctx)));
      const out: Record<string, unknown> = {};
      node.entries.forEach(([key], i) => {
        if (values[i] !== undefined) out[key] = values[i];
      });
      return out;
    }
  }
}

// `$eval` parses a string at run time; the string could be tool output, which must stay data.
const BINDINGS = {
  eval: () => {
    throw new Error('$eval is disabled: tool output and inputs are data and are never evaluated');
  },
};

async function run(source: string, expr: jsonata.Expression, ctx: TemplateContext): Promise<unknown> {
  try {
    return await expr.evaluate(ctx, BINDINGS);
  } catch (err) {
    const { code, position } = err as { code?: unknown; position?: unknown };
    throw new InterlockError('TEMPLATE_ERROR', `template \${{ ${source} }} failed: ${errorMessage(err)}`, {
      expression: source,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof position === 'number' ? { position } : {}),
    });
  }
}

/** JSONata results can be tagged sequences or functions; arguments must be plain JSON. */
function plain(v: unknown, source: string): unknown {
  if (v === undefined || v === null || typeof v !== 'object') {
    if (typeof v === 'function')
      throw new InterlockError('TEMPLATE_ERROR', `template \${{ ${source} }} gave a function, not a value`, {
        expression: source,
      });
    if (typeof v === 'number' && !Number.isFinite(v))
      throw new InterlockError('TEMPLATE_ERROR', `template \${{ ${source} }} gave ${v}, not a JSON number`, {
        expression: source,
      });
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => plain(x, source) ?? null);
  const out: Record<string, unknown> = {};
  for (const [key, x] of Object.entries(v)) {
    const p = plain(x, source);
    if (p !== undefined) out[key] = p;
  }
  return out;
}

/**
 * A template inside a longer string must give something: a silent "" would send a message with a
 * blank refund id. An optional part is written out, e.g. `${{ $exists(x) ? x : 'none' }}`.
 */
function stringForm(v: unknown, source: string, ctx: TemplateContext): string {
  if (v === undefined) {
    throw new InterlockError(
      'TEMPLATE_ERROR',
      `template \${{ ${source} }} inside a string resolved to nothing${whereMissing(source, ctx)}; ` +
        `for an optional value write \${{ $exists(${source}) ? ${source} : '' }} or give a default`,
      { expression: source, path: source },
    );
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** For a plain path, which name along it is missing and what was there instead. */
function whereMissing(source: string, ctx: TemplateContext): string {
  const { path } = pathOf(source);
  if (!path) return '';
  let v: unknown = ctx;
  for (const [i, name] of path.entries()) {
    const here = path.slice(0, i).join('.');
    if (v === null || typeof v !== 'object')
      return `: ${here} is ${v === null ? 'null' : typeof v}, not an object with "${name}"`;
    if (Array.isArray(v)) return `: ${here} is a list; pick an element (${here}[0].${path.slice(i).join('.')}) or map over it`;
    if (!Object.hasOwn(v, name)) {
      const keys = Object.keys(v);
      return i === 0
        ? `: there is no "${name}"`
        : `: ${here} has no "${name}"${keys.length ? ` (it has ${keys.slice(0, 8).join(', ')})` : ''}`;
    }
    v = (v as Record<string, unknown>)[name];
  }
  return '';
}

/**
 * Evaluates a step's `if` (a bare expression or one `${{ }}` template) with JSONata's truthiness:
 * undefined, null, false, 0, "", empty arrays, empty objects and functions are false.
 */
export async function evaluateCondition(expr: string, ctx: TemplateContext | Record<string, unknown>): Promise<boolean> {
  const source = soleTemplate(expr) ?? expr;
  const compiledExpr = compileExpression(source);
  let v: unknown;
  try {
    v = await compiledExpr.evaluate(ctx, BINDINGS);
  } catch (err) {
    throw new InterlockError('TEMPLATE_ERROR', `condition "${source}" failed: ${errorMessage(err)}`, { expression: source });
  }
  return truthy(v);
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length === 1 ? truthy(v[0]) : v.some(truthy);
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'object':
      return Object.keys(v).length > 0;
    default:
      return false;
  }
}
