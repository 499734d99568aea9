/**
 * Rules, quorums and amounts in words a person reads: the same sentences on the pages, in the
 * CLI, in `interlock chat` and in the MCP facade's answers.
 */
import type { Explanation } from './evaluate.ts';
import type { Money, PolicyVerdict, Quorum } from './types.ts';

/** One approval toward a quorum. */
export interface ApprovalMark {
  by: string;
  channel?: string;
  at?: number;
}

function named(v: { rule: string; description?: string }): string {
  return v.description ? `rule "${v.rule}" (${v.description})` : `rule "${v.rule}"`;
}

export function quorumWords(q: Quorum): string {
  return q.approvers === 1
    ? `one approver from group "${q.group}"`
    : `${q.approvers} different approvers from group "${q.group}"`;
}

/** What the verdict means for the call, as one sentence. */
export function verdictWords(v: PolicyVerdict): string {
  const amount = v.money ? ` of ${v.money.text}` : '';
  if (v.kind === 'default') return `No rule matches this call${amount}: one person with the confirm scope approves it.`;
  switch (v.effect) {
    case 'approve':
      return `Approved by ${named(v)} without asking anyone: this call${amount} is within it.`;
    case 'deny':
      return `Denied by ${named(v)}: this call${amount} is never sent.`;
    case 'require':
      return `${named(v)[0].toUpperCase()}${named(v).slice(1)} applies to this call${amount}: it needs ${quorumWords(v.require ?? { approvers: 1, group: '?' })}, and the person who started the run cannot be one of them.`;
  }
}

/** Where a quorum stands: "1 of 2 approvals so far (alice); 1 more needed from group "finance"". */
export function quorumState(q: Quorum, approvals: readonly ApprovalMark[]): string {
  const who = approvals.length ? ` (${approvals.map((a) => a.by).join(', ')})` : '';
  const left = Math.max(q.approvers - approvals.length, 0);
  const rest = left === 0 ? 'complete' : `${left} more needed from group "${q.group}"`;
  return `${approvals.length} of ${q.approvers} approvals so far${who}; ${rest}.`;
}

export function moneyWords(m: Money | undefined): string | undefined {
  return m ? `Amount: ${m.text}` : undefined;
}

/** `interlock policy explain` as text: the deciding rule, then why each earlier rule did not. */
export function explanationLines(e: Explanation): string[] {
  const lines = [verdictWords(e.verdict)];
  for (const t of e.trace) {
    lines.push(
      `  ${t.outcome === 'matched' ? '→' : '·'} ${t.rule}: ${t.outcome === 'matched' ? 'matches and decides' : `skipped (${t.outcome})`}`,
    );
  }
  if (e.trace.length === 0) lines.push('  (no rules configured)');
  return lines;
}

/** What a confirmation says about policy, line by line: the amount, the rule, the quorum so far. */
export function confirmationPolicyLines(c: {
  policy?: PolicyVerdict;
  approvals?: readonly ApprovalMark[];
  owner?: string;
}): string[] {
  const v = c.policy;
  if (!v) return [];
  const lines: string[] = [];
  const m = moneyWords(v.money);
  if (m) lines.push(m);
  if (v.kind === 'rule') {
    lines.push(`Policy: ${verdictWords(v)}`);
    if (v.require) {
      lines.push(`Quorum: ${quorumState(v.require, c.approvals ?? [])}`);
      if (c.owner) lines.push(`'${c.owner}' started this run and cannot approve it.`);
    }
  } else lines.push('Policy: no rule matches; one person approves.');
  return lines;
}
