/**
 * Checks that need the connectors' live tool catalogs, run after loading (`interlock validate`,
 * server start). They point at the step keys recorded in `keyPos`, and at the `tool` and `by` of
 * connectors' rate limits.
 */
import { type ConfigIssue, errorMessage } from '../errors.ts';
import type { ToolInfo } from '../connectors/types.ts';
import { suggest } from './source.ts';
import type { CallStep, InterlockConfig, SourcePos, WorkflowDef } from './types.ts';

export type ToolLookup = (connector: string, tool: string) => Promise<ToolInfo | undefined>;

export interface CatalogOptions {
  /** tool names of a connector, only used to suggest a name for an unknown tool */
  listTools?: (connector: string) => Promise<string[] | undefined>;
}

export async function validateAgainstCatalog(
  config: InterlockConfig,
  lookup: ToolLookup,
  options: CatalogOptions = {},
): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  // One lookup per distinct tool: many steps call the same tool, and a lookup may be a round trip.
  const infos = new Map<string, Promise<ToolInfo | undefined | Error>>();
  const info = (connector: string, tool: string) => {
    const key = `${connector}\u0000${tool}`;
    let p = infos.get(key);
    if (!p) {
      p = lookup(connector, tool).catch((err: unknown) => (err instanceof Error ? err : new Error(errorMessage(err))));
      infos.set(key, p);
    }
    return p;
  };
  for (const wf of Object.values(config.workflows)) {
    for (const [i, step] of wf.steps.entries()) {
      // An llm step calls no connector; the loader checked all there is to check about it.
      if (step.kind === 'llm') continue;
      const path = `workflows.${wf.name}.steps[${i}]`;
      const add = (pos: SourcePos, key: string, message: string) =>
        issues.push({ file: config.file, line: pos.line, col: pos.col, path: `${path}.${key}`, message });
      const callPos = step.keyPos.call ?? step.pos;
      const found = await info(step.connector, step.tool);
      if (found instanceof Error) {
        add(
          callPos,
          'call',
          `cannot check ${step.connector}.${step.tool}: connector '${step.connector}' did not answer (${found.message})`,
        );
        continue;
      }
      if (!found) {
        // The names only make a 'did you mean'; without them the finding stands on its own.
        const names = await options.listTools?.(step.connector).catch(() => undefined);
        const hint = names ? suggest(step.tool, names) : undefined;
        add(
          callPos,
          'call',
          `connector '${step.connector}' has no tool "${step.tool}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
        continue;
      }
      const unconfirmed = unconfirmedWrite(config, wf, step, found);
      if (unconfirmed) add(step.keyPos.confirm ?? step.pos, 'confirm', unconfirmed);
      for (const m of argumentProblems(step, found)) add(step.keyPos.with ?? callPos, 'with', m);
    }
  }
  for (const c of Object.values(config.connectors)) {
    for (const [i, rule] of (c.rateLimits ?? []).entries()) {
      if (rule.tool === undefined) continue;
      const path = `connectors.${c.id}.rate_limit${c.rateLimits && c.rateLimits.length > 1 ? `[${i}]` : ''}`;
      const add = (pos: SourcePos, key: string, message: string) =>
        issues.push({ file: config.file, line: pos.line, col: pos.col, path: `${path}.${key}`, message });
      const toolPos = rule.keyPos.tool ?? rule.pos;
      const found = await info(c.id, rule.tool);
      if (found instanceof Error) {
        add(
          toolPos,
          'tool',
          `cannot check the rate limit on ${c.id}.${rule.tool}: connector '${c.id}' did not answer (${found.message})`,
        );
        continue;
      }
      if (!found) {
        // The names only make a 'did you mean'; without them the finding stands on its own.
        const names = await options.listTools?.(c.id).catch(() => undefined);
        const hint = names ? suggest(rule.tool, names) : undefined;
        add(
          toolPos,
          'tool',
          `rate_limit: connector '${c.id}' has no tool "${rule.tool}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        );
        continue;
      }
      const props = found.inputSchema.properties;
      if (rule.by !== undefined && props && typeof props === 'object' && !Object.hasOwn(props, rule.by)) {
        const hint = suggest(rule.by, Object.keys(props));
        add(
          rule.keyPos.by ?? rule.pos,
          'by',
          `rate_limit: ${c.id}.${rule.tool} takes no argument "${rule.by}"${hint ? ` (did you mean "${hint}"?)` : ''}; ` +
            'every call would share the one window of calls without it',
        );
      }
    }
  }
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Writes are confirmed unless the config opts in by name; `confirm: never` alone is not enough. */
function unconfirmedWrite(config: InterlockConfig, wf: WorkflowDef, step: CallStep, tool: ToolInfo): string | undefined {
  if (step.confirm !== 'never' || !tool.write) return undefined;
  const byTool = `${step.connector}.${step.tool}`;
  const byStep = `${wf.name}.${step.id}`;
  const allowed = config.policy.allowUnconfirmed;
  if (allowed.includes(byTool) || allowed.includes(byStep)) return undefined;
  return (
    `step "${step.id}" calls ${byTool}, which is a write (no readOnlyHint), with confirm: never; ` +
    `writes are confirmed unless the config opts in by name: add "${byStep}" (this step) or "${byTool}" (every call of the tool) ` +
    `to policy.allow_unconfirmed, or remove confirm: never`
  );
}

/**
 * What can be known about arguments before templates are resolved: required arguments missing from
 * `with`, and names the tool does not take when its schema closes the object.
 */
function argumentProblems(step: CallStep, tool: ToolInfo): string[] {
  const schema = tool.inputSchema;
  const out: string[] = [];
  const given = Object.keys(step.with);
  const required = Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : [];
  for (const r of required)
    if (!given.includes(r))
      out.push(`${step.connector}.${step.tool} needs argument "${r}", which step "${step.id}" does not pass in with`);
  const props = schema.properties && typeof schema.properties === 'object' ? Object.keys(schema.properties) : undefined;
  if (props && schema.additionalProperties === false) {
    for (const g of given) {
      if (props.includes(g)) continue;
      const hint = suggest(g, props);
      out.push(`${step.connector}.${step.tool} takes no argument "${g}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
  }
  return out;
}
