/**
 * A connector's `tools.overrides`: per-tool corrections of what a server declares (annotations) or
 * fails to declare (what failure looks like), keyed by tool name or glob:
 *
 *   tools:
 *     overrides:
 *       "slack_list_*": { annotations: { readOnlyHint: true } }
 *       "*": { fail_when: "${{ output.ok = false }}" }
 *
 * `fail_when` reads the tool's result, never the run: `output`, `content`, `text`, `isError` and
 * `annotations` (see src/connectors/results.ts), so it is checked here against those names only.
 */
import { isScalar, type Node } from 'yaml';
import { analyzeExpression } from './refs.ts';
import { globProblem } from './schema.ts';
import { type Field, type Source, readBool, readEntries, readMap, readString, suggest } from './source.ts';
import { locate } from './steps.ts';
import { scanTemplates } from './templates.ts';
import type { OverrideAnnotations, ToolOverride } from './types.ts';

export const OVERRIDE_HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;
/** What a `fail_when` condition can read. */
export const FAIL_WHEN_ROOTS = ['output', 'content', 'text', 'isError', 'annotations'];

export function readOverrides(src: Source, f: Field, what: string): ToolOverride[] | undefined {
  const entries = readEntries(src, f, `${what} tools.overrides`);
  if (!entries) return undefined;
  const out: ToolOverride[] = [];
  let ok = true;
  for (const e of entries) {
    const o = readOverride(src, e, `${what} tools.overrides "${e.key}"`);
    if (o) out.push(o);
    else ok = false;
  }
  return ok ? out : undefined;
}

function readOverride(src: Source, f: Field, what: string): ToolOverride | undefined {
  const problem = globProblem(f.key);
  if (problem) src.add(f.keyPos, f.path, `${what}: bad tool name or glob: ${problem}`);
  const m = readMap(src, f, what, { optional: ['annotations', 'fail_when'] });
  if (!m) return undefined;
  const empty = (readEntries(src, f, what) ?? []).length === 0;
  if (empty) src.add(f.pos, f.path, `${what} sets nothing: give it annotations, fail_when or both`);
  let annotations: OverrideAnnotations | undefined;
  let ok = problem === undefined;
  if (m.annotations) {
    const a = readMap(src, m.annotations, `${what} annotations`, { optional: OVERRIDE_HINTS });
    if (!a) ok = false;
    annotations = {};
    for (const k of OVERRIDE_HINTS) {
      if (!a?.[k]) continue;
      const v = readBool(src, a[k], `${what} annotations.${k}`);
      if (v === undefined) ok = false;
      else annotations[k] = v;
    }
  }
  const failWhen = m.fail_when ? readFailWhen(src, m.fail_when, what) : undefined;
  if (m.fail_when && failWhen === undefined) ok = false;
  if (!ok || (!m.annotations && !m.fail_when)) return undefined;
  return {
    match: f.key,
    ...(annotations ? { annotations } : {}),
    ...(failWhen !== undefined ? { failWhen } : {}),
    pos: f.keyPos,
  };
}

/** One expression, bare or as one `${{ }}`, reading only the result. Returns the bare expression. */
function readFailWhen(src: Source, f: Field, what: string): string | undefined {
  const s = readString(src, f, `${what} fail_when`);
  const node = src.deref(f.node);
  if (s === undefined || !isScalar(node)) return undefined;
  const { segments, error } = scanTemplates(s);
  if (error) {
    src.add(
      locate(src, node, s, error.offset, { start: error.offset, end: s.length }),
      f.path,
      `${what} fail_when: ${error.message}`,
    );
    return undefined;
  }
  let seg = { expr: s.trim(), start: 0, exprStart: s.length - s.trimStart().length, end: s.length };
  if (segments.length > 0) {
    const [first] = segments;
    if (segments.length > 1 || s.slice(0, first.start).trim() !== '' || s.slice(first.end).trim() !== '') {
      src.add(
        src.posOf(node, f.pos),
        f.path,
        `${what} fail_when must be one expression: "\${{ expr }}" or a bare expression, not text around templates`,
      );
      return undefined;
    }
    seg = first;
  }
  if (seg.expr === '') {
    src.add(src.posOf(node, f.pos), f.path, `${what} fail_when is empty`);
    return undefined;
  }
  return checkResultExpr(src, node, s, seg, f.path, what) ? seg.expr : undefined;
}

function checkResultExpr(
  src: Source,
  node: Node,
  value: string,
  seg: { expr: string; start: number; exprStart: number; end: number },
  path: string,
  what: string,
): boolean {
  const { reads, problems } = analyzeExpression(seg.expr);
  const report = (offset: number, message: string) =>
    src.add(locate(src, node, value, seg.exprStart + offset, seg), path, `${what} fail_when: ${message}`);
  for (const p of problems) report(p.offset, p.message);
  let ok = problems.length === 0;
  for (const r of reads) {
    if (r.root === '*' || FAIL_WHEN_ROOTS.includes(r.root)) continue;
    const hint = suggest(r.root, FAIL_WHEN_ROOTS);
    report(
      r.offset,
      `reads "${r.root}", but fail_when reads only the tool's result: ${FAIL_WHEN_ROOTS.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`,
    );
    ok = false;
  }
  return ok;
}
