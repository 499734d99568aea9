/**
 * One confirmation for the writes of a loop (or a parallel step) that wait together: it lists every
 * item's call, exact arguments and argumentsHash, and its own argumentsHash is the batch hash over
 * the list, so approving it approves exactly those payloads. When the step runs again, an item
 * whose arguments still hash to what was listed proceeds; one whose arguments differ asks again,
 * in a confirmation of its own (with any others that differ).
 */
import type { RunStore } from '../../runs/store.ts';
import type { StepRecord } from '../../runs/records.ts';
import { canonicalJson, sha256Hex } from '../../workflows/canonical.ts';
import type { ConfirmationPayload } from '../../runs/records.ts';
import type { UnitPlan } from './units.ts';

export interface BatchItem {
  key: string;
  connector: string;
  tool: string;
  arguments: Record<string, unknown>;
  argumentsHash: string;
}

type Ask = Extract<UnitPlan, { kind: 'ask' }>;

export function batchPayload(asks: Ask[]): ConfirmationPayload {
  const items: BatchItem[] = asks.map((a) => ({
    key: a.unit.key,
    connector: a.tool.connector,
    tool: a.tool.name,
    arguments: a.args,
    argumentsHash: a.argumentsHash,
  }));
  const args = { items };
  const [first] = asks;
  const one = asks.every((a) => a.tool.connector === first.tool.connector && a.tool.name === first.tool.name);
  return {
    connector: one ? first.tool.connector : 'flow',
    tool: one ? first.tool.name : 'batch',
    title: `${items.length} × ${one ? `${first.tool.connector}.${first.tool.name}` : 'calls'}`,
    ...(one && first.tool.description ? { description: first.tool.description } : {}),
    annotations: first.tool.annotations,
    arguments: args,
    argumentsHash: sha256Hex(canonicalJson(args)),
    reason: 'write',
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
