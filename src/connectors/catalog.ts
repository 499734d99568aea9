import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { InterlockError } from '../errors.ts';
import type { ConnectorConfig } from './config.ts';
import { firstMatch } from './glob.ts';
import { applyOverrides } from './overrides.ts';
import type { ToolAnnotations, ToolInfo } from './types.ts';

/** A listed tool and whether the connector's allow/deny rules let workflows use it. */
export interface CatalogEntry {
  tool: ToolInfo;
  enabled: boolean;
  /** why a disabled tool is disabled, in words fit for an error message */
  disabledReason?: string;
}

/** Guards against a server whose cursors never end or loop back on themselves. */
const MAX_PAGES = 1000;

/**
 * Every tool the server lists, following `nextCursor` to the end. The SDK client keeps no
 * pagination state of its own, so a repeated cursor would otherwise loop forever.
 */
export async function fetchToolPages(client: Client, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Tool[]> {
  const tools: Tool[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: opts.timeoutMs, signal: opts.signal });
    tools.push(...res.tools);
    cursor = res.nextCursor;
    if (cursor === undefined || cursor === '' || seen.has(cursor)) return tools;
    seen.add(cursor);
  }
  return tools;
}

/**
 * The write rule is deliberately one-sided: only an explicit `readOnlyHint: true` makes a read.
 * A missing or malformed hint is a write, so an unannotated tool always waits for confirmation.
 */
export function toToolInfo(connector: string, raw: Tool): ToolInfo {
  const a = (raw.annotations ?? {}) as Record<string, unknown>;
  const annotations: ToolAnnotations = {};
  if (typeof a.title === 'string') annotations.title = a.title;
  for (const k of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
    if (typeof a[k] === 'boolean') annotations[k] = a[k];
  }
  const info: ToolInfo = {
    connector,
    name: raw.name,
    inputSchema: raw.inputSchema as Record<string, unknown>,
    annotations,
    write: annotations.readOnlyHint !== true,
    idempotent: annotations.idempotentHint === true,
  };
  const title = raw.title ?? annotations.title;
  if (title !== undefined) info.title = title;
  if (raw.description !== undefined) info.description = raw.description;
  if (raw.outputSchema !== undefined) info.outputSchema = raw.outputSchema as Record<string, unknown>;
  return info;
}

/** Deny wins over allow; an empty allow list means every tool not denied. */
export function toolFilterVerdict(
  name: string,
  filter: ConnectorConfig['tools'],
): { enabled: true } | { enabled: false; reason: string } {
  const denied = firstMatch(name, filter.deny);
  if (denied !== undefined) return { enabled: false, reason: `it matches tools.deny pattern "${denied}"` };
  if (filter.allow.length > 0 && firstMatch(name, filter.allow) === undefined) {
    return { enabled: false, reason: `it matches none of tools.allow [${filter.allow.map((g) => `"${g}"`).join(', ')}]` };
  }
  return { enabled: true };
}

/** One connector's cached tool list. `undefined` entries means "not loaded or invalidated". */
export class ToolCatalog {
  readonly connector: string;
  private readonly filter: ConnectorConfig['tools'];
  private entries: Map<string, CatalogEntry> | undefined;
  /** what the last load looked like, kept across invalidation to tell whether a reload changed anything */
  private signature: string | undefined;

  constructor(connector: string, filter: ConnectorConfig['tools']) {
    this.connector = connector;
    this.filter = filter;
  }

  get loaded(): boolean {
    return this.entries !== undefined;
  }

  invalidate(): void {
    this.entries = undefined;
  }

  /** Replaces the cache; true when a previous load existed and anything a caller sees differs. */
  set(raw: Tool[]): boolean {
    const next = new Map<string, CatalogEntry>();
    for (const t of raw) {
      const tool = applyOverrides(toToolInfo(this.connector, t), this.filter.overrides);
      const verdict = toolFilterVerdict(t.name, this.filter);
      next.set(t.name, verdict.enabled ? { tool, enabled: true } : { tool, enabled: false, disabledReason: verdict.reason });
    }
    this.entries = next;
    const before = this.signature;
    this.signature = JSON.stringify(this.all());
    return before !== undefined && before !== this.signature;
  }

  all(): CatalogEntry[] {
    return this.entries ? [...this.entries.values()] : [];
  }

  enabled(): ToolInfo[] {
    return this.all()
      .filter((e) => e.enabled)
      .map((e) => e.tool);
  }

  find(name: string): CatalogEntry | undefined {
    return this.entries?.get(name);
  }

  /** The enabled tool, or the error that says why it cannot be used. */
  require(name: string): ToolInfo {
    const entry = this.find(name);
    const qualified = `${this.connector}.${name}`;
    if (!entry) {
      throw new InterlockError('TOOL_NOT_FOUND', `Connector "${this.connector}" lists no tool named "${name}"`, {
        connector: this.connector,
        tool: name,
      });
    }
    if (!entry.enabled) {
      throw new InterlockError('TOOL_DISABLED', `Tool ${qualified} is disabled: ${entry.disabledReason}`, {
        connector: this.connector,
        tool: name,
      });
    }
    return entry.tool;
  }
}
