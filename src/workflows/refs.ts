/**
 * What a JSONata expression reads, found by walking its parsed AST rather than by pattern
 * matching, so `steps.a` inside a string literal is not a reference and `$$.steps.a` is.
 * The loader uses this to reject reads of unknown or later steps before anything runs.
 */
import jsonata from 'jsonata';

// The published typings omit node types the parser produces (`path`, `bind`, `sort`, …).
type AstNode = Omit<jsonata.ExprNode, 'type'> & { type: string } & Record<string, unknown>;

/** A read from the template context root: `inputs…`, `steps.<id>.<field>…`, `run.<field>…`. */
export interface RootRead {
  /** first name after the root (`inputs`, `steps`, `run`, or anything a typo produced) */
  root: string;
  /** offset of `root` in the expression */
  offset: number;
  /** the next name (`steps.<id>`, `run.<field>`), if the next path step is a plain name */
  name?: string;
  nameOffset?: number;
  /** the name after that (`steps.<id>.<field>`) */
  field?: string;
  fieldOffset?: number;
  /** the step after the root is not a plain name: a wildcard, a filter or a computed name */
  dynamic?: boolean;
}

export interface ExprAnalysis {
  reads: RootRead[];
  /** offset in the expression plus message; a syntax error stops the analysis */
  problems: Array<{ offset: number; message: string }>;
}

export function analyzeExpression(expr: string): ExprAnalysis {
  let ast: AstNode;
  try {
    ast = jsonata(expr).ast() as AstNode;
  } catch (err) {
    const e = err as { position?: unknown; token?: unknown; message?: unknown };
    const msg = typeof e.message === 'string' ? e.message : String(err);
    return {
      reads: [],
      problems: [{ offset: errorOffset(expr, e.position, e.token), message: `syntax error in expression "${expr}": ${msg}` }],
    };
  }
  const out: ExprAnalysis = { reads: [], problems: [] };
  walk(ast, true, expr, out);
  return out;
}

/** Step ids an expression reads through `steps.<id>`, in order of appearance. */
export function stepReads(expr: string): string[] {
  const ids: string[] = [];
  for (const r of analyzeExpression(expr).reads) if (r.root === 'steps' && r.name && !ids.includes(r.name)) ids.push(r.name);
  return ids;
}

// JSONata reports the position just after the offending token (1-based end), or the end of
// input for "(end)"; turn that into the 0-based start of the token.
function errorOffset(expr: string, position: unknown, token: unknown): number {
  if (typeof position !== 'number') return 0;
  const len = typeof token === 'string' && token !== '(end)' ? token.length : 0;
  return Math.max(0, Math.min(expr.length - 1, position - len));
}

// A name node's `position` is the offset just after it; a back-quoted name has two more characters.
function nameStart(expr: string, node: AstNode): number {
  const end = typeof node.position === 'number' ? node.position : 0;
  const name = String(node.value);
  const start = end - name.length;
  return expr[end - 1] === '`' ? Math.max(0, start - 2) : Math.max(0, start);
}

/**
 * `atRoot` says whether the node's context item is the template context itself. Only there does a
 * leading name read `inputs`/`steps`/`run`; inside filters and after the first path step names
 * are fields of the current item. Lambda bodies are evaluated in the context they were defined in.
 */
function walk(node: unknown, atRoot: boolean, expr: string, out: ExprAnalysis): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) walk(n, atRoot, expr, out);
    return;
  }
  const n = node as AstNode;
  if (n.type === 'path' && Array.isArray(n.steps)) {
    walkPath(n.steps as AstNode[], atRoot, expr, out);
    walkExtras(n, expr, out);
    return;
  }
  if (n.type === 'name') {
    if (atRoot) readFrom([n], 0, expr, out);
    walkExtras(n, expr, out);
    return;
  }
  if (n.type === 'variable' && n.value === 'eval') {
    out.problems.push({
      offset: Math.max(0, (n.position ?? 0) - 5),
      message: '$eval is not allowed: inputs and tool output are data and are never evaluated',
    });
  }
  for (const [key, child] of Object.entries(n)) {
    if (key === 'type' || key === 'value' || key === 'position' || EXTRAS.includes(key)) continue;
    walk(child, atRoot, expr, out);
  }
  walkExtras(n, expr, out);
}

function walkPath(steps: AstNode[], atRoot: boolean, expr: string, out: ExprAnalysis): void {
  const [first] = steps;
  if (first === undefined) return;
  // `$$` (value "$") is always the root; `$` (value "") is the current context.
  const rootVar = first.type === 'variable' && (first.value === '$' || (first.value === '' && atRoot));
  if (rootVar || (first.type === 'name' && atRoot)) {
    readFrom(steps, rootVar ? 1 : 0, expr, out);
    walkExtras(first, expr, out);
  } else if (first.type === 'name') {
    walkExtras(first, expr, out);
  } else {
    walk(first, atRoot, expr, out);
  }
  for (const step of steps.slice(1)) {
    if (step.type === 'name') walkExtras(step, expr, out);
    else walk(step, false, expr, out);
  }
}

function readFrom(steps: AstNode[], i: number, expr: string, out: ExprAnalysis): void {
  const rootNode = steps[i];
  if (rootNode === undefined) return;
  if (rootNode.type !== 'name') {
    out.reads.push({ root: '*', offset: nameStart(expr, rootNode), dynamic: true });
    return;
  }
  const read: RootRead = { root: String(rootNode.value), offset: nameStart(expr, rootNode) };
  const next = steps[i + 1];
  if (next !== undefined) {
    if (next.type === 'name' && !hasStages(rootNode)) {
      read.name = String(next.value);
      read.nameOffset = nameStart(expr, next);
      const field = steps[i + 2];
      if (field?.type === 'name' && !hasStages(next)) {
        read.field = String(field.value);
        read.fieldOffset = nameStart(expr, field);
      }
    } else {
      read.dynamic = true;
    }
  } else if (hasStages(rootNode)) {
    read.dynamic = true;
  }
  out.reads.push(read);
}

function hasStages(n: AstNode): boolean {
  return Array.isArray(n.stages) && n.stages.length > 0;
}

// Filters, sort terms and grouping attached to a path step see the current item, not the root.
const EXTRAS = ['stages', 'predicate', 'group', 'terms'];

function walkExtras(n: AstNode, expr: string, out: ExprAnalysis): void {
  for (const key of EXTRAS) {
    if (n[key] !== undefined) walk(n[key], false, expr, out);
  }
}
