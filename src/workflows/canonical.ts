import { hash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, `undefined` object members
 * dropped (as JSON.stringify does). Two values that are equal as JSON give the same string, so
 * its hash can pin a workflow version or bind an approval to the exact arguments (argumentsHash).
 * Inputs that JSON cannot carry faithfully are refused rather than silently changed, because a
 * hash over a lossy form would approve a payload the person never saw.
 */
export function canonicalJson(value: unknown): string {
  const out = write(value, []);
  if (out === undefined) throw new TypeError('canonicalJson: the value itself is undefined');
  return out;
}

function write(value: unknown, stack: object[]): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'undefined':
      return undefined;
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new TypeError(`canonicalJson: a ${typeof value} is not JSON`);
  }
  const obj = value as object;
  if (stack.includes(obj)) throw new TypeError('canonicalJson: circular structure');
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(obj), stack);
  stack.push(obj);
  try {
    if (Array.isArray(obj)) {
      // As in JSON.stringify, a hole or undefined in an array becomes null so positions survive.
      return `[${obj.map((v) => write(v, stack) ?? 'null').join(',')}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const v = write((obj as Record<string, unknown>)[key], stack);
      if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.pop();
  }
}

/** One-shot (crypto.hash): no Hash object per call, which every step's argumentsHash would make. */
export function sha256Hex(s: string): string {
  return hash('sha256', s, 'hex');
}
