import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { InterlockError, type FieldIssue } from '../errors.ts';
import type { ToolInfo } from './types.ts';

// ajv-formats is CommonJS with `exports.default`; Node hands ESM the function itself while the
// types describe the namespace, so take whichever is callable.
type FormatsPlugin = (ajv: Ajv | Ajv2020) => unknown;
const addFormats: FormatsPlugin =
  typeof addFormatsModule === 'function'
    ? (addFormatsModule as unknown as FormatsPlugin)
    : (addFormatsModule as unknown as { default: FormatsPlugin }).default;

/**
 * Tool input schemas come from servers we do not control: MCP defaults to draft 2020-12, SDKs
 * built on older zod emit draft-07, and many carry keywords ajv does not know. So: pick the dialect
 * from `$schema`, and run non-strict so an unknown keyword is ignored rather than fatal.
 */
const options = { strict: false, allErrors: true, validateSchema: false } as const;
const draft07 = new Ajv(options);
const draft2020 = new Ajv2020(options);
addFormats(draft07);
addFormats(draft2020);

const MAX_CACHED = 500;
/** Compiled validators keyed by the schema's JSON; `null` marks a schema ajv could not compile. */
const compiled = new Map<string, ValidateFunction | null>();

/**
 * The same, by the schema object: a tool's schema is one object for as long as its catalog lives,
 * and every call is checked against it, so the JSON key is built once per object, not per call.
 */
const bySchema = new WeakMap<object, ValidateFunction | null>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction | null {
  const known = bySchema.get(schema);
  if (known !== undefined) return known;
  const fn = compiledFor(schema);
  bySchema.set(schema, fn);
  return fn;
}

function compiledFor(schema: Record<string, unknown>): ValidateFunction | null {
  const key = JSON.stringify(schema);
  if (compiled.has(key)) {
    const hit = compiled.get(key) ?? null;
    // Re-insert so the map's order doubles as least-recently-used.
    compiled.delete(key);
    compiled.set(key, hit);
    return hit;
  }
  const { $schema, ...rest } = schema;
  const older = typeof $schema === 'string' && /draft-0[4-7]/.test($schema);
  let fn: ValidateFunction | null;
  try {
    fn = (older ? draft07 : draft2020).compile(rest);
  } catch {
    // The server validates its own input anyway; an uncompilable schema must not make a tool unusable.
    fn = null;
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(key, fn);
  return fn;
}

/** `/items/0/id` → `items[0].id`, the way a person reading the arguments would name it. */
function fieldPath(pointer: string, child?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function toIssue(e: ErrorObject): FieldIssue {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
    return { field: fieldPath(e.instancePath, params.missingProperty), message: 'is required' };
  }
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return { field: fieldPath(e.instancePath, params.additionalProperty), message: 'is not allowed' };
  }
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return { field: fieldPath(e.instancePath), message: `must be one of ${JSON.stringify(params.allowedValues)}` };
  }
  return { field: fieldPath(e.instancePath), message: e.message ?? `fails ${e.keyword}` };
}

/** Problems with `args` against the tool's input schema, one per field; empty when they are valid. */
export function argumentIssues(tool: ToolInfo, args: unknown): FieldIssue[] {
  return schemaIssues(tool.inputSchema, args);
}

/** Problems with `value` against a server-given JSON Schema, one per field (input or output). */
export function schemaIssues(schema: Record<string, unknown>, value: unknown): FieldIssue[] {
  const validate = validatorFor(schema);
  if (!validate || validate(value)) return [];
  const seen = new Set<string>();
  const issues: FieldIssue[] = [];
  for (const e of validate.errors ?? []) {
    // allErrors reports each failed branch of anyOf/oneOf too; the summary line is enough.
    const issue = toIssue(e);
    const key = `${issue.field}\u0000${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

export function validateArguments(tool: ToolInfo, args: unknown): void {
  const issues = argumentIssues(tool, args);
  if (issues.length === 0) return;
  const list = issues.map((i) => `${i.field || '(arguments)'} ${i.message}`).join('; ');
  throw new InterlockError('ARGUMENTS_INVALID', `Invalid arguments for ${tool.connector}.${tool.name}: ${list}`, {
    connector: tool.connector,
    tool: tool.name,
    issues,
  });
}
