/**
 * Workflow inputs checked against the workflow's JSON Schema. Validators are compiled once per
 * distinct schema (by canonical JSON, so a definition read back from Redis hits the cache too).
 * Each schema gets its own Ajv instance: two versions of a workflow may share an `$id`, which a
 * shared instance would refuse, and a shared instance would keep every schema object it saw.
 */
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { type FieldIssue, InterlockError, errorMessage } from '../errors.ts';
import { canonicalJson } from './canonical.ts';
import type { WorkflowDef } from './types.ts';

const addFormats = formatsPlugin.default;

const OPTIONS: Options = {
  allErrors: true,
  useDefaults: true,
  // Unknown keywords are errors (a `requried` typo would otherwise silently check nothing);
  // the type-shape lints stay off because they reject schemas that are correct.
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  logger: false,
};

type AjvLike = Ajv | Ajv2019 | Ajv2020;

function newAjv(schema: Record<string, unknown>): AjvLike | string {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : undefined;
  let ajv: AjvLike;
  if (dialect === undefined || dialect.includes('2020-12')) ajv = new Ajv2020(OPTIONS);
  else if (dialect.includes('2019-09')) ajv = new Ajv2019(OPTIONS);
  else if (dialect.includes('draft-07')) ajv = new Ajv(OPTIONS);
  else return `unsupported $schema "${dialect}": use draft 2020-12, 2019-09 or draft-07`;
  addFormats(ajv);
  return ajv;
}

/** A problem with an inputs schema; `pointer` leads to the schema node, `keyword` to a key in it. */
export interface SchemaProblem {
  pointer: string[];
  keyword?: string;
  message: string;
}

/** Everything wrong with a schema, or [] when it compiles. Used by the loader to point at the spot. */
export function inputSchemaProblems(schema: Record<string, unknown>): SchemaProblem[] {
  if (schema.type !== undefined && schema.type !== 'object') {
    return [{ pointer: [], keyword: 'type', message: 'inputs always arrive as an object, so the schema must have type: object' }];
  }
  const ajv = newAjv(schema);
  if (typeof ajv === 'string') return [{ pointer: [], keyword: '$schema', message: ajv }];
  if (!ajv.validateSchema(schema)) {
    const seen = new Set<string>();
    const out: SchemaProblem[] = [];
    for (const e of ajv.errors ?? []) {
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      const pointer = pointerOf(e.instancePath);
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
      const where = pointer.length ? pointer.join('.') : 'the schema';
      out.push({ pointer, message: `${where} ${e.message ?? 'is invalid'}${allowed ? ` (${allowed.join(', ')})` : ''}` });
    }
    return out;
  }
  try {
    // The loader checks every schema; keeping the result spares the first trigger a compile.
    remember(canonicalJson(schema), ajv.compile(schema));
    return [];
  } catch (err) {
    const msg = errorMessage(err);
    const keyword = /unknown keyword: "([^"]+)"/.exec(msg)?.[1];
    const at = keyword === undefined ? undefined : findKey(schema, keyword, []);
    return [{ pointer: at ?? [], ...(at ? { keyword } : {}), message: msg }];
  }
}

function pointerOf(instancePath: string): string[] {
  return instancePath === ''
    ? []
    : instancePath
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function findKey(v: unknown, key: string, path: string[]): string[] | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  if (!Array.isArray(v) && Object.hasOwn(v, key)) return path;
  for (const [k, child] of Object.entries(v)) {
    const hit = findKey(child, key, [...path, k]);
    if (hit) return hit;
  }
  return undefined;
}

const validators = new Map<string, ValidateFunction>();
const byObject = new WeakMap<object, ValidateFunction>();
const CACHE_LIMIT = 1000;

/** The compiled validator for a schema; throws INPUT_INVALID if the schema itself is broken. */
export function inputValidator(schema: Record<string, unknown>): ValidateFunction {
  const hit = byObject.get(schema);
  if (hit) return hit;
  const key = canonicalJson(schema);
  let fn = validators.get(key);
  if (!fn) {
    const ajv = newAjv(schema);
    if (typeof ajv === 'string') throw new InterlockError('INPUT_INVALID', `workflow inputs schema: ${ajv}`);
    try {
      fn = ajv.compile(schema);
    } catch (err) {
      throw new InterlockError('INPUT_INVALID', `workflow inputs schema does not compile: ${errorMessage(err)}`);
    }
    remember(key, fn);
  }
  byObject.set(schema, fn);
  return fn;
}

function remember(key: string, fn: ValidateFunction): void {
  if (validators.size >= CACHE_LIMIT) validators.delete(validators.keys().next().value as string);
  validators.set(key, fn);
}

/**
 * Checks inputs and fills in schema defaults, on a copy: the caller's object is left as given.
 * Issues name each bad field by its dotted path (`customer.email`, `items[2].qty`); messages never
 * include the submitted value, which may be sensitive.
 */
export function prepareInputs(
  workflowOrSchema: WorkflowDef | Record<string, unknown>,
  inputs: unknown,
): { inputs: Record<string, unknown>; issues: FieldIssue[] } {
  if (inputs === undefined || inputs === null) inputs = {};
  if (typeof inputs !== 'object' || Array.isArray(inputs)) {
    return { inputs: {}, issues: [{ field: 'inputs', message: 'must be an object of named fields' }] };
  }
  const copy = structuredClone(inputs) as Record<string, unknown>;
  const validate = inputValidator(schemaOf(workflowOrSchema));
  if (validate(copy)) return { inputs: copy, issues: [] };
  return { inputs: copy, issues: fieldIssues(validate.errors ?? []) };
}

/** Issues for `inputs` against a workflow (its `inputs` schema) or a bare schema; [] when valid. */
export function validateInputs(workflowOrSchema: WorkflowDef | Record<string, unknown>, inputs: unknown): FieldIssue[] {
  return prepareInputs(schemaOf(workflowOrSchema), inputs).issues;
}

function schemaOf(w: WorkflowDef | Record<string, unknown>): Record<string, unknown> {
  return isWorkflow(w) ? w.inputs : w;
}

// A JSON Schema never has `steps` and `version` beside `inputs` (strict Ajv would refuse them).
function isWorkflow(w: WorkflowDef | Record<string, unknown>): w is WorkflowDef {
  return Array.isArray(w.steps) && typeof w.version === 'string' && typeof w.inputs === 'object' && w.inputs !== null;
}

function fieldIssues(errors: ErrorObject[]): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const e of errors) {
    const base = pointerOf(e.instancePath);
    const params = e.params as Record<string, unknown>;
    let field = base;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      field = [...base, String(params.missingProperty)];
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      field = [...base, String(params.additionalProperty)];
      message = 'is not a known field';
    } else if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      message = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      // The branch errors say what is wrong; the summary only repeats it.
      if (errors.length > 1) continue;
    }
    const name = fieldName(field);
    if (!out.some((i) => i.field === name && i.message === message)) out.push({ field: name, message });
  }
  return out;
}

function fieldName(path: string[]): string {
  if (path.length === 0) return 'inputs';
  return path.map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}
