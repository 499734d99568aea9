/**
 * One confirmation for the writes of a loop (or a parallel step) that wait together: it lists every
 * item's call, exact arguments and argumentsHash, and its own argumentsHash is the batch hash over
 * the list, so approving it approves exactly those payloads. When the step runs again, an item
 * whose arguments still hash to what was listed proceeds; one whose arguments differ asks again,
 * in a confirmation of its own (with any others that differ).
 */
import type { Money } from '../../policy/types.ts';
import type { RunStore } from '../../runs/store.ts';
import type { ConfirmationPayload, StepRecord } from '../../runs/records.ts';
import { canonicalJson, sha256Hex } from '../../workflows/canonical.ts';
import type { ActionOp } from '../plan.ts';
import type { Unit } from './units.ts';

export interface BatchItem {
  key: string;
  connector: string;
  tool: string;
  arguments: Record<string, unknown>;
  argumentsHash: string;
  /** what the call moves, as a person reads it, when policy.money says */
  money?: Money;
}

/** A unit that waits for a person, with the payload planStep would show for it alone. */
export interface Ask {
  unit: Unit;
  op: Extract<ActionOp, { kind: 'ask' }>;
}

/** The quorum a policy rule demands of an ask ('' for one person). */
function quorumOf(a: Ask): string {
  const v = a.op.payload.policy;
  return v?.kind === 'rule' && v.require ? `${v.require.approvers}:${v.require.group}` : '';
}

/**
 * The asks one confirmation can carry: those that need the same decision as the first (one
 * person, or the same quorum). The others are asked once this one is decided; no approval by one
 * person ever stands in for an item a rule gives to a quorum.
 */
export function batchOf(asks: Ask[]): Ask[] {
  const need = quorumOf(asks[0]);
  return asks.filter((a) => quorumOf(a) === need);
}

export function batchPayload(asks: Ask[]): ConfirmationPayload {
  const items: BatchItem[] = asks.map(({ unit, op: { payload: p } }) => ({
    key: unit.key,
    connector: p.connector,
    tool: p.tool,
    arguments: p.arguments,
    argumentsHash: p.argumentsHash,
    ...(p.policy?.money ? { money: p.policy.money } : {}),
  }));
  const args = { items };
  const first = asks[0].op.payload;
  const one = asks.every((a) => a.op.payload.connector === first.connector && a.op.payload.tool === first.tool);
  const rule = first.policy?.kind === 'rule' && first.policy.require ? first.policy : undefined;
  return {
    connector: one ? first.connector : 'flow',
    tool: one ? first.tool : 'batch',
    title: `${items.length} × ${one ? `${first.connector}.${first.tool}` : 'calls'}`,
    ...(one && first.description ? { description: first.description } : {}),
    annotations: first.annotations,
    arguments: args,
    argumentsHash: sha256Hex(canonicalJson(args)),
    reason: 'write',
    // The quorum the items' rule demands travels with the batch; one item's money does not.
    ...(rule
      ? { policy: { kind: 'rule', rule: rule.rule, effect: rule.effect, ...(rule.require ? { require: rule.require } : {}) } }
      : {}),
    ...(first.currency ? { currency: first.currency } : {}),
    batch: { items: items.length },
  };
}

/**
 * Item key → the argumentsHash a person approved for it: from the step's confirmation, when it was
 * approved with the hash the step holds as approved.
 */
export async function approvedItems(store: RunStore, rec: StepRecord): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!rec.confirmationId || !rec.approvedHash) return out;
  const conf = await store.getConfirmation(rec.confirmationId);
  if (conf?.status !== 'approved' || conf.argumentsHash !== rec.approvedHash || !conf.batch) return out;
  const items = (conf.arguments as { items?: BatchItem[] }).items ?? [];
  for (const i of items) out.set(i.key, i.argumentsHash);
  return out;
}
