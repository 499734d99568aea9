/**
 * The constraint a scoped grant puts on a tool's arguments, derived from the call a person
 * approved: per chosen field, equality for ids and text, "up to" for an amount. Pure: the gate,
 * the pages, the CLI and the property test all use these same functions.
 */
import { canonicalJson } from '../workflows/canonical.ts';
import { formatMinor, isAmountField } from './money.ts';

export type Constraint =
  /** the field must be exactly this JSON value */
  | { field: string; op: 'eq'; value: unknown }
  /** the field must be a number no larger than `max` (minor units when `currency` is given) */
  | { field: string; op: 'lte'; max: number; currency?: string };

/** One field a person may choose to constrain, with the constraint it would become. */
export interface FieldChoice {
  field: string;
  constraint: Constraint;
  words: string;
}

/** Dotted path into the arguments (`metadata.order`); a field whose name holds a dot is not offered. */
export function valueAt(args: unknown, field: string): unknown {
  let v: unknown = args;
  for (const part of field.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    if (!Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** The constraint one approved value gives: numbers that are amounts become a ceiling, anything else equality. */
export function constraintFor(field: string, value: unknown, currency?: string): Constraint {
  const leaf = field.slice(field.lastIndexOf('.') + 1);
  if (typeof value === 'number' && Number.isFinite(value) && isAmountField(leaf))
    return { field, op: 'lte', max: value, ...(currency ? { currency } : {}) };
  return { field, op: 'eq', value };
}

/**
 * The fields of an approved call a person can constrain: every scalar field, top level and one
 * object level down (`metadata.order`), in the order the arguments hold them.
 */
export function fieldChoices(args: Record<string, unknown>, currency?: string): FieldChoice[] {
  const out: FieldChoice[] = [];
  const add = (field: string, value: unknown) => {
    const constraint = constraintFor(field, value, currency);
    out.push({ field, constraint, words: describeConstraint(constraint) });
  };
  for (const [k, v] of Object.entries(args)) {
    if (k.includes('.')) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>))
        if (!k2.includes('.') && (v2 === null || typeof v2 !== 'object')) add(`${k}.${k2}`, v2);
      continue;
    }
    add(k, v);
  }
  return out;
}

/** The constraints for the fields a person picked; a field the approved call lacks is an error, not a silent widening. */
export function deriveConstraints(
  args: Record<string, unknown>,
  fields: readonly string[],
  currency?: string,
): { ok: true; constraints: Constraint[] } | { ok: false; field: string } {
  const constraints: Constraint[] = [];
  for (const field of new Set(fields)) {
    const value = valueAt(args, field);
    if (value === undefined) return { ok: false, field };
    constraints.push(constraintFor(field, value, currency));
  }
  return { ok: true, constraints };
}

/** Whether the arguments satisfy one constraint. A missing field never does. */
export function satisfies(c: Constraint, args: Record<string, unknown>): boolean {
  const v = valueAt(args, c.field);
  if (v === undefined) return false;
  if (c.op === 'lte') return typeof v === 'number' && Number.isFinite(v) && v <= c.max;
  try {
    return canonicalJson(v) === canonicalJson(c.value);
  } catch {
    return false;
  }
}

export function satisfiesAll(cs: readonly Constraint[], args: Record<string, unknown>): boolean {
  return cs.every((c) => satisfies(c, args));
}

function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** "amount up to 15.00 USD", "channel is #billing". */
export function describeConstraint(c: Constraint): string {
  if (c.op === 'lte') return `${c.field} up to ${c.currency ? formatMinor(c.max, c.currency) : String(c.max)}`;
  return `${c.field} is ${shown(c.value)}`;
}

/** The currency of a call: its own `currency` argument, else what the run read before (a charge's currency). */
export function currencyOf(args: Record<string, unknown>, fromRun?: string): string | undefined {
  const own = args.currency;
  if (typeof own === 'string' && /^[a-z]{3}$/i.test(own)) return own.toLowerCase();
  return fromRun;
}
