/**
 * `remember` as callers send it, checked strictly: a typo must not widen or drop a grant.
 * HTTP body: `"session"` (the exact payload, as before scopes) or
 * `{ scope: "payload" | "arguments", fields?: string[], ttl?: "10m" | ms, uses?: n }`.
 */
import { InterlockError } from '../errors.ts';
import { parseDuration } from '../workflows/source.ts';
import type { RememberRequest } from './grant.ts';

const KEYS = ['scope', 'fields', 'ttl', 'uses'];
const MAX_TTL_MS = 7 * 86_400_000;

function bad(message: string): never {
  throw new InterlockError('BAD_REQUEST', message, { field: 'remember' });
}

function ttlOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0 || ms > MAX_TTL_MS)
    bad(`'remember.ttl' must be a duration such as "10m" or "1h" (or milliseconds), more than 0 and at most 7 days`);
  return ms;
}

function usesOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000)
    bad(`'remember.uses' must be a whole number of uses, at least 1`);
  return v;
}

export function parseRemember(v: unknown): RememberRequest | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'session') return { scope: 'payload' };
  if (typeof v !== 'object' || Array.isArray(v))
    bad(`'remember' must be "session" or an object { scope: "payload" | "arguments", fields?, ttl?, uses? }`);
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length)
    bad(`'remember' has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`);
  if (o.scope !== 'payload' && o.scope !== 'arguments') bad(`'remember.scope' must be "payload" or "arguments"`);
  let fields: string[] | undefined;
  if (o.fields !== undefined) {
    if (
      !Array.isArray(o.fields) ||
      !o.fields.every((f) => typeof f === 'string' && f.length > 0 && f.length <= 200) ||
      o.fields.length > 50
    )
      bad(`'remember.fields' must be a list of argument names (dotted for nested fields)`);
    fields = o.fields as string[];
  }
  if (o.scope === 'payload' && fields?.length) bad(`'remember.fields' only applies to scope "arguments"`);
  const ttlMs = ttlOf(o.ttl);
  const uses = usesOf(o.uses);
  return {
    scope: o.scope,
    ...(fields ? { fields } : {}),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
    ...(uses !== undefined ? { uses } : {}),
  };
}

/** The CLI's flags: `--remember`, `--fields amount,channel`, `--for 10m`, `--uses 3`. */
export function rememberFromFlags(o: {
  remember?: boolean;
  fields?: string;
  for?: string;
  uses?: string;
}): RememberRequest | undefined {
  if (!o.remember && !o.fields && !o.for && !o.uses) return undefined;
  const fields = o.fields
    ?.split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  return parseRemember({
    scope: fields?.length ? 'arguments' : 'payload',
    ...(fields?.length ? { fields } : {}),
    ...(o.for ? { ttl: o.for } : {}),
    ...(o.uses ? { uses: Number(o.uses) } : {}),
  });
}
