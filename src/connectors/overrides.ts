import type { OverrideAnnotations, ToolOverride } from '../workflows/types.ts';
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
