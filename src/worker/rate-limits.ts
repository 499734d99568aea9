/**
 * Which rate-limit windows a tool call takes a slot in. Pure: the processor takes the slots (all
 * of them at once, in Redis) right before the call.
 */
import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import type { ConnectorConfig, RateLimitRule } from '../workflows/types.ts';

/** One window a call must take a slot in. */
export interface RateSlot {
  /**
   * The window's Redis key after the connector's part (`il:rate:{<connector>}`): '' for a limit
   * on every call of the connector, which keeps the key that limit has always had.
   */
  key: string;
  max: number;
  durationMs: number;
}

/** Names longer than this (they come from the config) are hashed in the key. */
const MAX_NAME = 64;
/** Calls whose `by` argument is missing or null share this window. */
export const MISSING_VALUE = '-';

/**
 * The windows of every `rate_limit` entry of the connector that applies to this call: entries
 * without a tool apply to every call, the others to calls of their tool. An entry with `by` has a
 * window per value of that top-level argument. Values are never written into keys as they are:
 * their hash is, so a hostile value cannot make a huge key or reach another key.
 */
export function rateLimitsFor(
  connector: Pick<ConnectorConfig, 'rateLimits'> | undefined,
  tool: string,
  args: Record<string, unknown>,
): RateSlot[] {
  const out: RateSlot[] = [];
  for (const rule of connector?.rateLimits ?? []) {
    if (rule.tool !== undefined && rule.tool !== tool) continue;
    out.push({ key: slotKey(rule, args), max: rule.max, durationMs: rule.durationMs });
  }
  return out;
}

function slotKey(rule: RateLimitRule, args: Record<string, unknown>): string {
  const parts: string[] = [];
  if (rule.tool !== undefined) parts.push('tool', name(rule.tool));
  if (rule.by !== undefined) parts.push('by', name(rule.by), valuePart(Object.hasOwn(args, rule.by) ? args[rule.by] : undefined));
  return parts.join(':');
}

/** A name from the config, escaped so `:` and `{}` in it cannot run into the key's other parts. */
function name(s: string): string {
  const e = encodeURIComponent(s);
  return e.length <= MAX_NAME ? e : `#${sha256Hex(s).slice(0, 16)}`;
}

/** 16 hex characters of the SHA-256 of the value's canonical JSON, so `"C1"` and `1` differ. */
function valuePart(v: unknown): string {
  if (v === undefined || v === null) return MISSING_VALUE;
  return sha256Hex(canonicalJson(v)).slice(0, 16);
}
