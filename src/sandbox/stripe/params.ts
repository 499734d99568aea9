/**
 * Reads one request's parameters the way Stripe validates them: each endpoint names what it takes,
 * anything else is `parameter_unknown`, so a connector that sends a misspelt field fails here the
 * same way it would against the real API instead of being silently ignored.
 */
import { invalidRequest, noSuch } from './errors.ts';
import type { FormObject, FormValue } from './form.ts';
import type { Metadata } from './types.ts';

interface Opts {
  required?: boolean;
}

export class Params {
  private readonly raw: FormObject;
  private readonly used = new Set<string>(['expand']);

  constructor(raw: FormObject) {
    this.raw = raw;
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined;
  }

  private take(name: string, required: boolean | undefined): FormValue | undefined {
    this.used.add(name);
    const v = this.raw[name];
    if (v === undefined && required) throw invalidRequest(`Missing required param: ${name}.`, 'parameter_missing', name);
    return v;
  }

  str(name: string, opts: Opts & { required: true }): string;
  str(name: string, opts?: Opts): string | undefined;
  str(name: string, opts: Opts = {}): string | undefined {
    const v = this.take(name, opts.required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidRequest(`Invalid string: ${name} must be a string`, undefined, name);
    if (v === '' && opts.required) {
      throw invalidRequest(
        `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. ` +
          `You should remove '${name}' from your request or supply a non-empty value.`,
        'parameter_invalid_empty',
        name,
      );
    }
    return v;
  }

  int(name: string, opts: Opts & { required: true; min?: number; max?: number }): number;
  int(name: string, opts?: Opts & { min?: number; max?: number }): number | undefined;
  int(name: string, opts: Opts & { min?: number; max?: number } = {}): number | undefined {
    const v = this.take(name, opts.required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
      throw invalidRequest(`Invalid integer: ${typeof v === 'string' ? v : name}`, 'parameter_invalid_integer', name);
    }
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${v}`, 'parameter_invalid_integer', name);
    if (opts.min !== undefined && n < opts.min) {
      throw invalidRequest(`This value must be greater than or equal to ${opts.min}.`, 'parameter_invalid_integer', name);
    }
    if (opts.max !== undefined && n > opts.max) {
      throw invalidRequest(`This value must be less than or equal to ${opts.max}.`, 'parameter_invalid_integer', name);
    }
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.take(name, false);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw invalidRequest(`Invalid boolean: ${typeof v === 'string' ? v : name}`, undefined, name);
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      throw invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, undefined, name);
    }
    return v as T;
  }

  /** `undefined`: not sent; `null`: sent empty, which Stripe reads as "clear it". */
  metadata(name = 'metadata'): Metadata | null | undefined {
    const v = this.take(name, false);
    if (v === undefined) return undefined;
    if (v === '') return null;
    if (typeof v === 'string') throw invalidRequest(`Invalid hash for ${name}`, undefined, name);
    const out: Metadata = {};
    const keys = Object.keys(v);
    if (keys.length > 50) throw invalidRequest('Metadata can have at most 50 keys.', undefined, name);
    for (const k of keys) {
      const val = v[k];
      if (typeof val !== 'string')
        throw invalidRequest(`Invalid value for ${name}[${k}]: must be a string`, undefined, `${name}[${k}]`);
      if (k.length > 40) throw invalidRequest(`Metadata keys can be at most 40 characters (${k}).`, undefined, `${name}[${k}]`);
      if (val.length > 500)
        throw invalidRequest(`Metadata values can be at most 500 characters (${k}).`, undefined, `${name}[${k}]`);
      out[k] = val;
    }
    return out;
  }

  expand(): string[] {
    const v = this.raw.expand;
    if (v === undefined) return [];
    if (typeof v === 'string') return v === '' ? [] : [v];
    return Object.values(v).map((x) => {
      if (typeof x !== 'string') throw invalidRequest('Invalid array: expand must be an array of strings', undefined, 'expand');
      return x;
    });
  }

  /** Reject what no reader asked for; called after the endpoint has read its params. */
  assertNoUnknown(): void {
    for (const k of Object.keys(this.raw)) {
      if (!this.used.has(k)) throw invalidRequest(`Received unknown parameter: ${k}`, 'parameter_unknown', k);
    }
  }
}

export interface PageParams {
  limit: number;
  startingAfter: string | undefined;
  endingBefore: string | undefined;
}

export function pageParams(p: Params): PageParams {
  const limit = p.int('limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = p.str('starting_after') || undefined;
  const endingBefore = p.str('ending_before') || undefined;
  if (startingAfter && endingBefore) {
    throw invalidRequest(
      'You may only specify one of these parameters: ending_before, starting_after.',
      'parameters_exclusive',
      'starting_after',
    );
  }
  return { limit, startingAfter, endingBefore };
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

/**
 * `items` newest first, as every Stripe list is ordered. A cursor that is not in the
 * filtered list is an error, as on Stripe.
 */
export function paginate<T extends { id: string }>(items: T[], page: PageParams, url: string, kind: string): ListPage<T> {
  const { limit, startingAfter, endingBefore } = page;
  let data: T[];
  let hasMore: boolean;
  if (startingAfter) {
    const i = items.findIndex((x) => x.id === startingAfter);
    if (i < 0) throw noSuch(kind, startingAfter, 'starting_after');
    data = items.slice(i + 1, i + 1 + limit);
    hasMore = i + 1 + limit < items.length;
  } else if (endingBefore) {
    const i = items.findIndex((x) => x.id === endingBefore);
    if (i < 0) throw noSuch(kind, endingBefore, 'ending_before');
    const from = Math.max(0, i - limit);
    data = items.slice(from, i);
    hasMore = from > 0;
  } else {
    data = items.slice(0, limit);
    hasMore = items.length > limit;
  }
  return { object: 'list', data, has_more: hasMore, url };
}
