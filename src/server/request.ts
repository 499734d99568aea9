import type { Context } from 'hono';
import { InterlockError } from '../errors.ts';
import type { Principal } from './auth.ts';
import type { RememberRequest } from '../grants/grant.ts';
import { parseRemember } from '../grants/remember.ts';

/** Per-request values the middleware sets for handlers. */
export interface ServerEnv {
  Variables: {
    principal: Principal | undefined;
    /** how the principal was established; cookie sessions get extra CSRF checks */
    authVia: 'header' | 'cookie' | 'open' | undefined;
  };
}

export type Ctx = Context<ServerEnv>;

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The JSON object of a request body, refusing anything a caller could have meant differently:
 * a non-JSON content type, malformed JSON, a non-object, or a key the route does not know
 * (a typo such as `remeber` must not silently approve without remembering).
 */
export async function readJsonObject(c: Ctx, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new InterlockError(
      'BAD_REQUEST',
      `Send the body as JSON with Content-Type: application/json (got '${type || 'none'}')`,
    );
  }
  const body = parseJsonText(text);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InterlockError('BAD_REQUEST', 'The body must be a JSON object');
  }
  const obj = body as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new InterlockError(
      'BAD_REQUEST',
      `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; this route takes ${allowed.map((k) => `'${k}'`).join(', ') || 'no fields'}`,
      { unknown, allowed },
    );
  }
  return obj;
}

/** Nesting deeper than this is no input a workflow takes, and recursive code after parsing must never meet it. */
export const MAX_JSON_DEPTH = 64;

/** How deep arrays and objects nest in JSON text, counted without parsing (brackets in strings do not count). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > max) max = depth;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return max;
}

/** JSON text to a value, refusing malformed JSON and nesting beyond MAX_JSON_DEPTH with a 400. */
export function parseJsonText(text: string): unknown {
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new InterlockError('BAD_REQUEST', `The body nests ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, {
      maxDepth: MAX_JSON_DEPTH,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InterlockError('BAD_REQUEST', `The body is not valid JSON: ${(err as Error).message}`);
  }
}

export function optionalString(body: Record<string, unknown>, key: string, opts: { max?: number } = {}): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > (opts.max ?? 200)) {
    throw new InterlockError('BAD_REQUEST', `'${key}' must be a non-empty string of at most ${opts.max ?? 200} characters`, {
      field: key,
    });
  }
  return v;
}

export function requiredString(body: Record<string, unknown>, key: string, opts: { max?: number } = {}): string {
  const v = optionalString(body, key, opts);
  if (v === undefined) throw new InterlockError('BAD_REQUEST', `'${key}' is required`, { field: key });
  return v;
}

/**
 * `remember`: absent, `"session"` (the exact payload approved, as before scopes), or a scope
 * object (see grants/remember.ts).
 */
export function rememberField(body: Record<string, unknown>): RememberRequest | undefined {
  return parseRemember(body.remember);
}

export interface Page {
  limit: number;
  offset: number;
}

/** `limit` (1–500, default 50) and the opaque `cursor` a previous page returned as `nextCursor`. */
export function pageParams(c: Ctx): Page {
  const rawLimit = c.req.query('limit');
  const rawCursor = c.req.query('cursor');
  const limit = rawLimit === undefined ? 50 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new InterlockError('BAD_REQUEST', `'limit' must be an integer from 1 to 500 (got '${rawLimit}')`, { field: 'limit' });
  }
  const offset = rawCursor === undefined || rawCursor === '' ? 0 : decodeCursor(rawCursor);
  return { limit, offset };
}

export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const m = /^o:(\d{1,12})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new InterlockError('BAD_REQUEST', `'cursor' is not one this server returned`, { field: 'cursor' });
  return Number(m[1]);
}

/** One page of an in-memory list, in the same shape as store-backed lists. */
export function paginate<T>(items: T[], page: Page): { items: T[]; nextCursor?: string } {
  const slice = items.slice(page.offset, page.offset + page.limit);
  const end = page.offset + slice.length;
  return { items: slice, ...(end < items.length ? { nextCursor: encodeCursor(end) } : {}) };
}

export function oneOf<T extends string>(c: Ctx, key: string, values: readonly T[]): T | undefined {
  const v = c.req.query(key);
  if (v === undefined || v === '') return undefined;
  if (!(values as readonly string[]).includes(v)) {
    throw new InterlockError('BAD_REQUEST', `'${key}' must be one of ${values.join(', ')} (got '${v}')`, { field: key });
  }
  return v as T;
}
