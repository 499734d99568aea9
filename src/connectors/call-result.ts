/**
 * The check of a tools/call answer, made cheaper for the answer nearly every server sends. The
 * SDK checks every answer against CallToolResultSchema (zod), which for a one-line text answer
 * costs more of a worker's time per step than anything Interlock does itself. An answer of plain
 * text blocks (`{type: 'text', text}` and nothing else), with a boolean `isError` and an object
 * `structuredContent` if any, and no `_meta`, is one that schema accepts and hands back unchanged
 * (its extra top-level fields pass through): it is taken as it is. Anything else goes through the
 * SDK's schema exactly as before, so it is accepted, normalised or refused (with the same error)
 * as it was.
 */
import { safeParse } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** What the request itself checks: nothing; checkedCallResult does it. */
export const UNCHECKED = z.unknown();

export function checkedCallResult(raw: unknown): object {
  if (plainTextResult(raw)) return raw;
  const r = safeParse(CallToolResultSchema, raw);
  if (!r.success) throw r.error;
  return r.data;
}

function plainTextResult(raw: unknown): raw is object {
  if (!isRecord(raw) || raw._meta !== undefined) return false;
  if (raw.isError !== undefined && typeof raw.isError !== 'boolean') return false;
  const sc = raw.structuredContent;
  // An own `__proto__` key is one the schema's copy would not keep as it is.
  if (sc !== undefined && (!isRecord(sc) || Object.hasOwn(sc, '__proto__'))) return false;
  if (!Array.isArray(raw.content)) return false;
  for (const b of raw.content as unknown[]) {
    if (!isRecord(b) || b.type !== 'text' || typeof b.text !== 'string') return false;
    // The schema drops a block's unknown fields and checks annotations and _meta: leave those to it.
    let fields = 0;
    for (const _ in b) fields++;
    if (fields !== 2) return false;
  }
  return true;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
