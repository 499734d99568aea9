/**
 * A connector's `rate_limit`: one limit as a map, or a list of them. Each limit is `max` calls per
 * `per`, optionally only for one `tool`, optionally with a window per value of one top-level
 * argument (`by`):
 *
 *   rate_limit:
 *     - { max: 20, per: 1s }                                   # every call of the connector
 *     - { max: 1, per: 1s, tool: post_message, by: channel }   # and one post per channel per second
 */
import { isMap, isSeq } from 'yaml';
import type { ConnectorConfig, RateLimitRule } from './types.ts';
import { type Field, type Source, readDuration, readInt, readList, readMap, readString, typeName } from './source.ts';
import { globProblem, toolAllowed } from './schema.ts';

const KEYS = { required: ['max', 'per'], optional: ['tool', 'by'] } as const;

export function readRateLimits(
  src: Source,
  f: Field,
  what: string,
  tools: ConnectorConfig['tools'],
): RateLimitRule[] | undefined {
  const node = src.deref(f.node);
  let items: Array<{ f: Field; label: string }>;
  if (isMap(node)) items = [{ f, label: `${what} rate_limit` }];
  else if (isSeq(node))
    items = (readList(src, f, `${what} rate_limit`) ?? []).map((item, i) => ({ f: item, label: `${what} rate_limit[${i}]` }));
  else {
    src.add(f.pos, f.path, `${what} rate_limit must be a map {max, per} or a list of them, not ${typeName(node)}`);
    return undefined;
  }
  const out: RateLimitRule[] = [];
  const scopes = new Map<string, RateLimitRule>();
  let ok = true;
  for (const { f: item, label } of items) {
    const rule = readRule(src, item, label, tools);
    if (!rule) {
      ok = false;
      continue;
    }
    // Two windows of different lengths over the same calls would share one Redis key.
    const scope = JSON.stringify([rule.tool ?? null, rule.by ?? null]);
    const first = scopes.get(scope);
    if (first) {
      src.add(
        item.pos,
        item.path,
        `${label} limits the same calls as the limit at line ${first.pos.line}:${first.pos.col} (${scopeText(rule)}); ` +
          'give each tool and by at most one limit: keep the stricter one',
      );
      ok = false;
      continue;
    }
    scopes.set(scope, rule);
    out.push(rule);
  }
  return ok ? out : undefined;
}

function readRule(src: Source, f: Field, label: string, tools: ConnectorConfig['tools']): RateLimitRule | undefined {
  const m = readMap(src, f, label, KEYS);
  if (!m) return undefined;
  const max = m.max && readInt(src, m.max, `${label} max`, 1);
  const durationMs = m.per && readDuration(src, m.per, `${label} per`, { positive: true });
  let tool: string | undefined;
  let toolOk = true;
  if (m.tool) {
    tool = readString(src, m.tool, `${label} tool`);
    const problem = tool === undefined ? undefined : toolProblem(tool, tools);
    if (problem) src.add(m.tool.pos, m.tool.path, `${label} tool ${problem}`);
    toolOk = tool !== undefined && !problem;
  }
  let by: string | undefined;
  let byOk = true;
  if (m.by) {
    const node = src.deref(m.by.node);
    by = isSeq(node) ? undefined : readString(src, m.by, `${label} by`);
    if (isSeq(node)) src.add(m.by.pos, m.by.path, `${label} by must be a string naming one top-level argument, not a list`);
    else if (by !== undefined && by.trim() === '')
      src.add(m.by.pos, m.by.path, `${label} by must name a top-level argument of the tool, not be empty`);
    byOk = by !== undefined && by.trim() !== '';
  }
  if (typeof max !== 'number' || typeof durationMs !== 'number' || !toolOk || !byOk) return undefined;
  const keyPos: RateLimitRule['keyPos'] = {};
  if (m.tool) keyPos.tool = m.tool.keyPos;
  if (m.by) keyPos.by = m.by.keyPos;
  return { max, durationMs, ...(tool !== undefined ? { tool } : {}), ...(by !== undefined ? { by } : {}), pos: f.pos, keyPos };
}

function toolProblem(tool: string, tools: ConnectorConfig['tools']): string | undefined {
  if (/[*?]/.test(tool))
    return `"${tool}" must name one tool: globs are not supported here (leave tool out to limit every call of the connector)`;
  const problem = globProblem(tool);
  if (problem) return `"${tool}" is not a tool name: ${problem}`;
  if (!toolAllowed(tools, tool)) {
    return `"${tool}" is turned off by this connector's tools (allow: [${tools.allow.join(', ')}], deny: [${tools.deny.join(', ')}]), so the limit would never apply`;
  }
  return undefined;
}

export function scopeText(rule: Pick<RateLimitRule, 'tool' | 'by'>): string {
  const calls = rule.tool ? `calls of ${rule.tool}` : 'every call';
  return rule.by ? `${calls}, per value of ${rule.by}` : calls;
}
