import { canonicalJson, sha256Hex } from '../workflows/canonical.ts';
import type { RecordedAnnotations } from './records.ts';

/**
 * A tool as the pins see it: the fields a definition is pinned by, plus the connector that lists
 * it. Plain data, so the store holds pins without importing connector code; a connector's
 * ToolInfo has this shape.
 */
export interface PinnableTool {
  connector: string;
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations: RecordedAnnotations;
  loosened?: readonly string[];
}

/**
 * What a tool is pinned by: everything a person or a model reads to decide what the tool does.
 * A server that rewrites any of it after the tool was pinned (a new description telling the model
 * to do something else, a wider schema, a write that now claims readOnlyHint) gets the tool
 * disabled until an admin has looked at the change.
 */
export type ToolDefinition = Pick<PinnableTool, (typeof PINNED_FIELDS)[number]>;

export interface ToolPin {
  connector: string;
  /** sha256 of the canonical JSON of `definition` */
  hash: string;
  definition: ToolDefinition;
  /** when this definition was first seen */
  seenAt: number;
  approvedBy?: string;
  approvedAt?: number;
}

/** `annotations` as overrides leave them, and `loosened`, so a new loosening in the config needs a review too. */
export const PINNED_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations', 'loosened'] as const;

export function toolDefinition(t: PinnableTool): ToolDefinition {
  return {
    name: t.name,
    ...(t.title !== undefined ? { title: t.title } : {}),
    ...(t.description !== undefined ? { description: t.description } : {}),
    inputSchema: t.inputSchema,
    ...(t.outputSchema !== undefined ? { outputSchema: t.outputSchema } : {}),
    annotations: t.annotations,
    ...(t.loosened !== undefined ? { loosened: t.loosened } : {}),
  };
}

export function makePin(t: PinnableTool, now = Date.now()): ToolPin {
  const definition = toolDefinition(t);
  return { connector: t.connector, hash: sha256Hex(canonicalJson(definition)), definition, seenAt: now };
}

export interface FieldChange {
  field: (typeof PINNED_FIELDS)[number];
  pinned: unknown;
  now: unknown;
}

export function diffDefinitions(pinned: ToolDefinition, now: ToolDefinition): FieldChange[] {
  const out: FieldChange[] = [];
  for (const field of PINNED_FIELDS) {
    const a = pinned[field];
    const b = now[field];
    if ((a === undefined ? '' : canonicalJson(a)) !== (b === undefined ? '' : canonicalJson(b)))
      out.push({ field, pinned: a, now: b });
  }
  return out;
}

/** A review text: each changed field as `- pinned` / `+ now` lines (JSON, pretty for schemas). */
export function formatDiff(changes: FieldChange[]): string {
  const show = (v: unknown) => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  return changes
    .map((c) => {
      const lines = (prefix: string, v: unknown) =>
        show(v)
          .split('\n')
          .map((l) => `${prefix} ${l}`)
          .join('\n');
      return `${c.field}:\n${lines('-', c.pinned)}\n${lines('+', c.now)}`;
    })
    .join('\n');
}
