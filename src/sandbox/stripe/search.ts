/**
 * A slice of Stripe's search query language, enough for customer look-ups:
 * `email:'ada@example.com'`, `name~"Lov"`, `metadata['slack_channel']:'C0CUST001'`,
 * clauses joined by all-AND or all-OR, quoted values with `\'` / `\"` escapes.
 * `:` is a case-insensitive exact match, `~` a substring match of at least 3 characters.
 */
import { invalidRequest } from './errors.ts';
import type { SandboxCustomer } from './types.ts';

interface Clause {
  field: string;
  metadataKey?: string;
  op: ':' | '~';
  value: string;
}

const FIELDS = new Set(['email', 'name', 'phone', 'description']);

function parseError(detail: string): Error {
  return invalidRequest(
    `We were unable to parse your search query: ${detail}. Try using the format \`metadata['key']:'value'\` to query for metadata or \`key:'value'\` to query for other fields.`,
    undefined,
    'query',
  );
}

function readQuoted(q: string, at: number): { value: string; end: number } {
  const quote = q[at];
  if (quote !== "'" && quote !== '"') throw parseError(`expected a quoted value at position ${at}`);
  let value = '';
  for (let i = at + 1; i < q.length; i++) {
    const ch = q[i];
    if (ch === '\\' && i + 1 < q.length) {
      value += q[++i];
    } else if (ch === quote) {
      return { value, end: i + 1 };
    } else {
      value += ch;
    }
  }
  throw parseError('unterminated quoted value');
}

export function parseSearchQuery(query: string): { clauses: Clause[]; joiner: 'AND' | 'OR' } {
  const q = query.trim();
  const clauses: Clause[] = [];
  const joiners = new Set<string>();
  let i = 0;
  while (i < q.length) {
    const m = /^\s*([a-z_]+)(?:\[\s*(['"])((?:\\.|(?!\2).)*)\2\s*\])?\s*([:~])\s*/.exec(q.slice(i));
    if (!m) throw parseError(`unexpected text at position ${i}`);
    const field = m[1] ?? '';
    const metadataKey = m[3]?.replace(/\\(.)/g, '$1');
    if (field === 'metadata' ? metadataKey === undefined : !FIELDS.has(field) || metadataKey !== undefined) {
      throw parseError(`field '${field}' is not supported for customers`);
    }
    const op = m[4] === '~' ? '~' : ':';
    const { value, end } = readQuoted(q, i + m[0].length);
    if (op === '~' && value.length < 3) throw parseError('substring (~) queries need at least 3 characters');
    clauses.push({ field, metadataKey, op, value });
    i = end;
    const j = /^\s+(AND|OR)\s+/.exec(q.slice(i));
    if (j) {
      joiners.add(j[1] ?? '');
      i += j[0].length;
    } else if (i < q.length) {
      throw parseError(`expected AND or OR at position ${i}`);
    }
  }
  if (!clauses.length) throw parseError('the query is empty');
  if (joiners.size > 1) throw parseError('AND and OR cannot be combined in one query');
  return { clauses, joiner: joiners.has('OR') ? 'OR' : 'AND' };
}

function fieldValue(c: SandboxCustomer, clause: Clause): string | null {
  if (clause.field === 'metadata') return c.metadata[clause.metadataKey ?? ''] ?? null;
  const v = c[clause.field as 'email' | 'name' | 'phone' | 'description'];
  return v ?? null;
}

export function matchesQuery(c: SandboxCustomer, parsed: ReturnType<typeof parseSearchQuery>): boolean {
  const test = (clause: Clause): boolean => {
    const v = fieldValue(c, clause)?.toLowerCase();
    if (v === undefined) return false;
    const want = clause.value.toLowerCase();
    return clause.op === ':' ? v === want : v.includes(want);
  };
  return parsed.joiner === 'AND' ? parsed.clauses.every(test) : parsed.clauses.some(test);
}
