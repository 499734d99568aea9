/**
 * Stripe's form encoding: `metadata[order]=7`, `expand[0]=customer`, `expand[]=customer`.
 * Arrays come out as objects with index keys; the param readers accept both, which keeps a
 * metadata key that happens to be numeric a metadata key instead of guessing at arrays here.
 */
import { invalidRequest } from './errors.ts';

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

function newObject(): FormObject {
  return Object.create(null) as FormObject;
}

/** `a[b][0]` → ['a', 'b', '0']; `a[]` → ['a', ''] */
function splitKey(key: string): string[] | undefined {
  const open = key.indexOf('[');
  if (open < 0) return [key];
  const parts = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^[\]]*)\]/gy;
  let consumed = 0;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    parts.push(m[1] ?? '');
    consumed = re.lastIndex;
  }
  return consumed === rest.length && parts[0] !== '' ? parts : undefined;
}

export function parseForm(encoded: string): FormObject {
  const root = newObject();
  const search = new URLSearchParams(encoded);
  for (const [rawKey, value] of search) {
    const path = splitKey(rawKey);
    if (!path) throw invalidRequest(`Invalid parameter name: ${rawKey}`, 'parameter_unknown', rawKey);
    let node = root;
    for (let i = 0; i < path.length; i++) {
      let seg = path[i] ?? '';
      if (FORBIDDEN.has(seg)) throw invalidRequest(`Received unknown parameter: ${rawKey}`, 'parameter_unknown', rawKey);
      // `a[]=x&a[]=y` appends, like Rack and Stripe do.
      if (seg === '' && i > 0) seg = String(Object.keys(node).length);
      const last = i === path.length - 1;
      const existing = node[seg];
      if (last) {
        if (existing !== undefined && typeof existing !== 'string') {
          throw invalidRequest(`Invalid value for ${rawKey}: expected a hash or array`, undefined, rawKey);
        }
        node[seg] = value;
      } else if (existing === undefined || existing === '') {
        // `metadata=&metadata[k]=v` is allowed; an empty string just means "unset" before the nested key.
        const child = newObject();
        node[seg] = child;
        node = child;
      } else if (typeof existing === 'string') {
        throw invalidRequest(`Invalid hash for parameter ${path.slice(0, i + 1).join('.')}`, undefined, rawKey);
      } else {
        node = existing;
      }
    }
  }
  return root;
}
