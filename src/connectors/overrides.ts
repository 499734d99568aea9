import type { OverrideAnnotations, ToolOverride } from './config.ts';
import { matchesGlob } from './glob.ts';
import type { ToolAnnotations, ToolInfo } from './types.ts';

type Loosened = NonNullable<ToolInfo['loosened']>[number];

/**
 * Values that relax a rule compared with a server that said nothing: a tool without
 * `readOnlyHint: true` is a write (gated), without `idempotentHint: true` it is never retried and
 * is in doubt after a crash, and without `destructiveHint: false` it is assumed destructive.
 */
const LOOSE: Record<Loosened, boolean> = { readOnlyHint: true, idempotentHint: true, destructiveHint: false };

/** The overrides that match a tool name, in file order. */
export function matchingOverrides(name: string, overrides: readonly ToolOverride[] | undefined): ToolOverride[] {
  return (overrides ?? []).filter((o) => matchesGlob(name, o.match));
}

/**
 * The tool as workflows see it: override annotations merged over the server's (later overrides
 * win), `write`/`idempotent` recomputed from the merged hints, and what was loosened recorded so
 * every place that shows the tool can say so.
 */
export function applyOverrides(info: ToolInfo, overrides: readonly ToolOverride[] | undefined): ToolInfo {
  const matching = matchingOverrides(info.name, overrides);
  if (matching.length === 0) return info;
  const merged: OverrideAnnotations = {};
  for (const o of matching) Object.assign(merged, o.annotations ?? {});
  const failWhen = matching.flatMap((o) => (o.failWhen === undefined ? [] : [o.failWhen]));
  const out: ToolInfo = { ...info, ...(failWhen.length ? { failWhen } : {}) };
  const changed = Object.entries(merged).some(([k, v]) => info.annotations[k as keyof ToolAnnotations] !== v);
  if (!changed) return out;
  const annotations: ToolAnnotations = { ...info.annotations, ...merged };
  const loosened = (Object.keys(LOOSE) as Loosened[]).filter((k) => merged[k] === LOOSE[k] && info.annotations[k] !== LOOSE[k]);
  return {
    ...out,
    annotations,
    serverAnnotations: info.annotations,
    write: annotations.readOnlyHint !== true,
    idempotent: annotations.idempotentHint === true,
    ...(loosened.length ? { loosened } : {}),
  };
}

/** One line for lists and confirmations: "readOnlyHint set by tools.overrides; the server does not say so". */
export function loosenedText(tool: Pick<ToolInfo, 'loosened'>): string | undefined {
  if (!tool.loosened?.length) return undefined;
  const hints = tool.loosened.map((k) => `${k}: ${LOOSE[k]}`).join(', ');
  return `loosened by tools.overrides (${hints}); the server does not declare ${tool.loosened.length > 1 ? 'these' : 'this'}`;
}

export interface OverrideWarning {
  connector: string;
  match: string;
  pos: { line: number; col: number };
  message: string;
}

/**
 * What `interlock validate` warns about: each override that loosens a hint. With the connector's
 * tools (`listed`), it names the tools it loosens and says when the glob matches none; without
 * them (offline), it says what the override would loosen wherever the server is silent.
 */
export function overrideWarnings(
  connectors: Record<string, { id: string; tools: { overrides?: ToolOverride[] } }>,
  listed: Record<string, ToolInfo[] | undefined> = {},
): OverrideWarning[] {
  const out: OverrideWarning[] = [];
  for (const c of Object.values(connectors)) {
    for (const o of c.tools.overrides ?? []) {
      const loose = (Object.keys(LOOSE) as Loosened[]).filter((k) => o.annotations?.[k] === LOOSE[k]);
      const hints = loose.map((k) => `${k}: ${LOOSE[k]}`).join(', ');
      const add = (message: string) =>
        out.push({
          connector: c.id,
          match: o.match,
          pos: o.pos,
          message: `connectors.${c.id}.tools.overrides "${o.match}": ${message}`,
        });
      const tools = listed[c.id];
      if (!tools) {
        if (loose.length)
          add(
            `sets ${hints}; for every matching tool whose server does not declare it, this loosens the rule (shown on the tool and pinned)`,
          );
        continue;
      }
      const matching = tools.filter((t) => matchesGlob(t.name, o.match));
      if (matching.length === 0) {
        add(`matches none of the ${tools.length} tools connector '${c.id}' lists`);
        continue;
      }
      const loosened = matching.filter((t) => loose.some((k) => (t.serverAnnotations ?? t.annotations)[k] !== LOOSE[k]));
      if (loosened.length)
        add(`loosens ${hints} on ${loosened.map((t) => t.name).join(', ')}, which the server does not declare`);
    }
  }
  return out;
}
