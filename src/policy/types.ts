/**
 * The shape of `policy.rules` once loaded (src/workflows/policy.ts reads it from workflows.yaml)
 * and what evaluating them decides. Plain JSON, so a verdict can travel in a confirmation and an
 * audit entry as it is.
 */

/** How long the audit keeps a decision unless policy.audit_retention says otherwise. */
export const DEFAULT_AUDIT_RETENTION_MS = 90 * 86_400_000;

/** What a matching rule does with the call. */
export type RuleEffect = 'approve' | 'deny' | 'require';

/** N distinct approvers from one group, each bound to the same argumentsHash. */
export interface Quorum {
  approvers: number;
  group: string;
}

export interface SourceLine {
  line: number;
  col: number;
}

export interface PolicyRule {
  /** unique in the file; decisions and the audit name it */
  name: string;
  /** what an operator wrote to say why (shown beside the rule's name) */
  description?: string;
  /** `connector.tool` or a glob of it (`stripe.*`); see connectors/glob.ts */
  tool: string;
  /** a workflow name or glob; absent: every workflow */
  workflow?: string;
  /** JSONata over {args, run, annotations, tool, step, amount, currency}; absent: always */
  when?: string;
  effect: RuleEffect;
  /** with effect `require` */
  require?: Quorum;
  /** made from `allow_unconfirmed` by the loader, not written as a rule */
  fromAllowUnconfirmed?: boolean;
  pos?: SourceLine;
}

/**
 * How to read the money a tool moves out of its call, for rules (`amount`, `currency`) and for
 * people (amounts shown in currency, not cents). Both are JSONata over the same context as `when`.
 */
export interface MoneySpec {
  /** `connector.tool` or a glob */
  tool: string;
  amount: string;
  currency: string;
  pos?: SourceLine;
}

/** An amount in minor units with its currency, and how a person reads it ("20.00 USD"). */
export interface Money {
  amount: number;
  currency: string;
  text: string;
}

/** What the rules say about one call. `default`: no rule matched, so one person is asked. */
export type PolicyVerdict =
  | { kind: 'default'; money?: Money }
  | { kind: 'rule'; rule: string; description?: string; effect: RuleEffect; require?: Quorum; money?: Money };

/** The facts a rule's condition reads. */
export interface RuleContext {
  args: Record<string, unknown>;
  run: {
    id?: string;
    workflow: string;
    inputs: Record<string, unknown>;
    /** the principal that started the run; absent for in-process callers (CLI) */
    triggeredBy?: string;
    /** earlier steps' outputs, as templates read them */
    steps: Record<string, { output?: unknown; status?: string }>;
  };
  /** the tool's annotations as Interlock applies them (overrides included) */
  annotations: Record<string, unknown>;
  tool: { connector: string; name: string; write: boolean };
  step?: { id: string; confirm: string };
  /**
   * a call inside a `foreach` or `parallel` step: its key (`3.refund`, `branch.step`) and, in a
   * foreach, the item, its index (from 0) and the list's length, as templates read them (`loop.index`)
   */
  loop?: { key: string; item?: unknown; index?: number; count?: number };
}
