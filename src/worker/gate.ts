import type { ToolInfo } from '../connectors/types.ts';
import type { PolicyVerdict } from '../policy/types.ts';
import type { ConfirmationPayload, GrantDecision } from '../runs/records.ts';
import type { CallStep, PolicyConfig } from '../workflows/types.ts';

/**
 * What the gate says about one resolved call, as data: proceed, ask a person (with the exact
 * payload to show), or stop because a remembered decision denies it. No I/O here, so every rule
 * of "writes wait" is testable on its own.
 */
export type GateDecision =
  | { kind: 'proceed'; via: 'read' | 'approved' | 'grant' | 'policy' }
  | { kind: 'ask'; payload: ConfirmationPayload }
  | { kind: 'deny'; via: 'grant' };

export interface GateInput {
  workflow: string;
  step: CallStep;
  tool: ToolInfo;
  arguments: Record<string, unknown>;
  argumentsHash: string;
  /** hash a person approved for this step earlier, if any */
  approvedHash?: string;
  /** remembered decision for (session, connector, tool) */
  grant?: GrantDecision;
  policy: PolicyConfig;
  /** what policy.rules said; a `require` verdict travels with the confirmation as its quorum */
  verdict?: PolicyVerdict;
}

export function unconfirmedAllowed(policy: PolicyConfig, workflow: string, step: CallStep): boolean {
  return (
    policy.allowUnconfirmed.includes(`${step.connector}.${step.tool}`) ||
    policy.allowUnconfirmed.includes(`${workflow}.${step.id}`)
  );
}

export function decideGate(g: GateInput): GateDecision {
  const mode = g.step.confirm;
  const needs =
    mode === 'always' ||
    (g.tool.write && mode !== 'never') ||
    // `never` on a write is honoured only when policy names it; validation should have caught
    // it, and this keeps a stale or hand-edited run definition from slipping a write through.
    (g.tool.write && mode === 'never' && !unconfirmedAllowed(g.policy, g.workflow, g.step));
  if (!needs) return { kind: 'proceed', via: g.tool.write ? 'policy' : 'read' };
  if (g.approvedHash !== undefined && g.approvedHash === g.argumentsHash) return { kind: 'proceed', via: 'approved' };
  if (g.grant === 'approve') return { kind: 'proceed', via: 'grant' };
  if (g.grant === 'deny') return { kind: 'deny', via: 'grant' };
  return {
    kind: 'ask',
    payload: {
      connector: g.tool.connector,
      tool: g.tool.name,
      ...(g.tool.title ? { title: g.tool.title } : {}),
      ...(g.tool.description ? { description: g.tool.description } : {}),
      annotations: g.tool.annotations,
      ...(g.tool.loosened ? { loosened: g.tool.loosened, serverAnnotations: g.tool.serverAnnotations ?? {} } : {}),
      arguments: g.arguments,
      argumentsHash: g.argumentsHash,
      ...(g.tool.outputSchema ? { outputSchema: g.tool.outputSchema } : {}),
      reason: g.tool.write ? 'write' : 'always',
      ...(g.verdict && (g.verdict.kind === 'rule' || g.verdict.money) ? { policy: g.verdict } : {}),
    },
  };
}
