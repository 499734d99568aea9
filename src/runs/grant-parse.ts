/**
 * Reading a session's grants hash back into ScopedGrants. Fields: `g:<id>` (the grant's JSON, fixed
 * when it is made), `g:<id>:uses` (a count), `g:<id>:revoked` (who and when). A field named
 * `connector.tool` is a grant written before grants had scopes: it covers the whole tool, as it did.
 */
import type { ScopedGrant } from '../grants/grant.ts';

function legacy(session: string, field: string, raw: string): ScopedGrant | undefined {
  const dot = field.indexOf('.');
  if (dot < 1) return undefined;
  let g: { decision?: string; by?: string; owner?: string; channel?: string; at?: number };
  if (raw === 'approve' || raw === 'deny') g = { decision: raw };
  else {
    try {
      g = JSON.parse(raw) as typeof g;
    } catch {
      return undefined;
    }
  }
  if (g.decision !== 'approve' && g.decision !== 'deny') return undefined;
  return {
    id: `legacy-${field}`,
    session,
    connector: field.slice(0, dot),
    tool: field.slice(dot + 1),
    decision: g.decision,
    scope: 'tool',
    ...(g.by ? { by: g.by } : {}),
    ...(g.owner ? { owner: g.owner } : {}),
    ...(g.channel ? { channel: g.channel } : {}),
    at: g.at ?? 0,
    uses: 0,
  };
}

export function parseGrants(session: string, h: Record<string, string>): ScopedGrant[] {
  const out: ScopedGrant[] = [];
  for (const [field, raw] of Object.entries(h)) {
    if (!field.startsWith('g:')) {
      const old = legacy(session, field, raw);
      if (old) out.push(old);
      continue;
    }
    if (field.indexOf(':', 2) >= 0) continue;
    try {
      const g = JSON.parse(raw) as Omit<ScopedGrant, 'uses'>;
      const revoked = h[`${field}:revoked`];
      const r = revoked ? (JSON.parse(revoked) as { at: number; by?: string }) : undefined;
      out.push({
        ...g,
        uses: Number(h[`${field}:uses`] ?? 0),
        ...(r ? { revokedAt: r.at, ...(r.by ? { revokedBy: r.by } : {}) } : {}),
      });
    } catch {
      // A field that is not a grant's JSON is not a grant; nothing reads it as one.
    }
  }
  return out.sort((a, b) => a.at - b.at);
}
