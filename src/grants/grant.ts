/**
 * A remembered decision and what it covers, as data. A person who ticks "remember" picks the
 * scope: this exact payload (bound to its argumentsHash), or this tool with a constraint on the
 * arguments derived from what they approved; either for a time and a number of uses, in one
 * session. Everything here is pure: the worker's planner asks `pickGrant`, the store re-checks
 * time, uses and revocation in Lua when it records a use.
 */
import { type Constraint, deriveConstraints, describeConstraint, satisfiesAll } from './constraints.ts';

export type GrantDecision = 'approve' | 'deny';

/**
 * `payload`: exactly the arguments that were approved; `arguments`: the tool with a constraint
 * on some fields; `tool`: any call of the tool (only grants written before scopes existed, and a
 * remembered deny).
 */
export type GrantScope = 'payload' | 'arguments' | 'tool';

export interface ScopedGrant {
  id: string;
  session: string;
  connector: string;
  tool: string;
  decision: GrantDecision;
  scope: GrantScope;
  /** `payload` scope: the hash the person approved */
  argumentsHash?: string;
  /** `arguments` scope: every one must hold */
  constraints?: Constraint[];
  /** the principal that decided and asked to remember */
  by?: string;
  /** the principal whose runs it covers; absent for in-process runs */
  owner?: string;
  /** where the decision was made (a DecisionChannel) */
  channel?: string;
  at: number;
  /** the confirmation the person decided when they remembered */
  confirmationId?: string;
  expiresAt?: number;
  maxUses?: number;
  uses: number;
  revokedAt?: number;
  revokedBy?: string;
}

/** What a person asked to remember, as the approve body, CLI flags and chat carry it. */
export interface RememberRequest {
  scope: 'payload' | 'arguments';
  /** `arguments` scope: the fields to hold to what was approved (dotted paths) */
  fields?: string[];
  ttlMs?: number;
  uses?: number;
}

/** One write the gate is looking at. */
export interface GatedCall {
  connector: string;
  tool: string;
  args: Record<string, unknown>;
  argumentsHash: string;
  /** the run's owner */
  owner: string | undefined;
}

export type GrantStanding = 'covers' | 'elsewhere' | 'not-theirs' | 'revoked' | 'expired' | 'spent' | 'outside';

/**
 * Whether one grant covers one call now, and if not, why. A grant belongs to the runs of one
 * owner and must have been made by that owner (see Engine.mayRemember).
 */
export function standing(g: ScopedGrant, call: GatedCall, now: number): GrantStanding {
  if (g.connector !== call.connector || g.tool !== call.tool) return 'elsewhere';
  if ((g.owner ?? undefined) !== (call.owner ?? undefined)) return 'not-theirs';
  if (call.owner !== undefined && g.by !== call.owner) return 'not-theirs';
  if (g.revokedAt !== undefined) return 'revoked';
  if (g.expiresAt !== undefined && now >= g.expiresAt) return 'expired';
  if (g.maxUses !== undefined && g.uses >= g.maxUses) return 'spent';
  if (g.scope === 'payload') return g.argumentsHash === call.argumentsHash ? 'covers' : 'outside';
  if (g.scope === 'arguments') return satisfiesAll(g.constraints ?? [], call.args) ? 'covers' : 'outside';
  return 'covers';
}

/**
 * The grant that decides a call, if any: a remembered deny that covers it wins over any approve
 * (a person said no to these arguments), then the approve made first.
 */
export function pickGrant(grants: readonly ScopedGrant[], call: GatedCall, now: number): ScopedGrant | undefined {
  const covering = grants.filter((g) => standing(g, call, now) === 'covers').sort((a, b) => a.at - b.at);
  return covering.find((g) => g.decision === 'deny') ?? covering.find((g) => g.decision === 'approve');
}

/** Whether a grant may still be used by anyone (the listing shows these as active). */
export function isActive(g: ScopedGrant, now: number): boolean {
  return (
    g.revokedAt === undefined &&
    (g.expiresAt === undefined || now < g.expiresAt) &&
    (g.maxUses === undefined || g.uses < g.maxUses)
  );
}

export type GrantBuild =
  | { ok: true; scope: GrantScope; argumentsHash?: string; constraints?: Constraint[] }
  | { ok: false; message: string; field?: string };

/**
 * The scope a request gives for the call that was decided. An approve constrained on no field
 * would cover any arguments, the exposure scopes exist to close, so it is refused; a deny may
 * cover the whole tool.
 */
export function buildScope(
  req: RememberRequest,
  decision: GrantDecision,
  args: Record<string, unknown>,
  argumentsHash: string,
  currency?: string,
): GrantBuild {
  if (req.scope === 'payload') return { ok: true, scope: 'payload', argumentsHash };
  const fields = req.fields ?? [];
  if (fields.length === 0) {
    if (decision === 'deny') return { ok: true, scope: 'tool' };
    return {
      ok: false,
      message:
        'remember with scope "arguments" needs at least one field to hold to what was approved (an approval for any arguments is not offered)',
    };
  }
  const d = deriveConstraints(args, fields, currency);
  if (!d.ok) return { ok: false, message: `The approved arguments have no field '${d.field}' to constrain`, field: d.field };
  return { ok: true, scope: 'arguments', constraints: d.constraints };
}

function duration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms / size === 1 ? '' : 's'}`;
  return `${Math.ceil(ms / 1000)} seconds`;
}

/** What a grant covers, in words: "stripe.create_refund with amount up to 15.00 USD". */
export function describeCoverage(g: Pick<ScopedGrant, 'connector' | 'tool' | 'scope' | 'constraints' | 'argumentsHash'>): string {
  const name = `${g.connector}.${g.tool}`;
  if (g.scope === 'payload') return `${name} with exactly the approved arguments (${(g.argumentsHash ?? '').slice(0, 12)}…)`;
  if (g.scope === 'tool') return `${name} with any arguments`;
  return `${name} with ${(g.constraints ?? []).map(describeConstraint).join(' and ')}`;
}

/** The limits of a grant in words: "for 10 minutes (until …), 2 of 5 uses left". */
export function describeLimits(g: ScopedGrant, now: number): string {
  const parts: string[] = [];
  if (g.revokedAt !== undefined) parts.push(`revoked${g.revokedBy ? ` by ${g.revokedBy}` : ''}`);
  if (g.expiresAt === undefined) parts.push('until the session ends');
  else if (now >= g.expiresAt) parts.push(`expired at ${new Date(g.expiresAt).toISOString()}`);
  else parts.push(`for ${duration(g.expiresAt - g.at)} (until ${new Date(g.expiresAt).toISOString()})`);
  if (g.maxUses !== undefined) parts.push(`${Math.max(g.maxUses - g.uses, 0)} of ${g.maxUses} uses left`);
  else parts.push(`used ${g.uses} time${g.uses === 1 ? '' : 's'}`);
  return parts.join(', ');
}

export function describeGrant(g: ScopedGrant, now: number): string {
  return `${g.decision === 'approve' ? 'Approves' : 'Denies'} ${describeCoverage(g)} in session ${g.session}, ${describeLimits(g, now)}`;
}

/** The words for a request before it is made (the page's preview, chat's question). */
export function describeRequest(
  req: RememberRequest,
  connector: string,
  tool: string,
  args: Record<string, unknown>,
  currency?: string,
): string {
  const built = buildScope(req, 'approve', args, '', currency);
  if (!built.ok) return built.message;
  const what = describeCoverage({ connector, tool, ...built });
  const limits = [req.ttlMs !== undefined ? `for ${duration(req.ttlMs)}` : 'until the session ends'];
  if (req.uses !== undefined) limits.push(`at most ${req.uses} use${req.uses === 1 ? '' : 's'}`);
  return `${what}, ${limits.join(', ')}`;
}
