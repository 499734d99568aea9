/**
 * The facts a policy rule reads about one call, gathered from the run as the worker (and
 * `interlock policy explain`) sees it. Kept beside the worker because it reads run records;
 * src/policy/ only knows the shape (RuleContext).
 */
import type { ToolInfo } from '../connectors/types.ts';
import { type RuleSet, evaluateRules, explainRules, type Explanation } from '../policy/evaluate.ts';
import type { PolicyVerdict, RuleContext } from '../policy/types.ts';
import type { RunRecord } from '../runs/records.ts';
import { unconfirmedRule } from '../workflows/policy.ts';
import type { PolicyConfig, StepDef } from '../workflows/types.ts';

/** The steps a rule reads: a run's, or for an item of a loop, the run's with the item's earlier steps over them. */
type StepsView = Record<string, { output?: unknown; status: string }>;

export function ruleContext(
  run: (Pick<RunRecord, 'id' | 'workflow' | 'inputs' | 'owner'> & { steps: StepsView }) | undefined,
  step: Pick<StepDef, 'id' | 'confirm'> | undefined,
  tool: Pick<ToolInfo, 'connector' | 'name' | 'write' | 'annotations'>,
  args: Record<string, unknown>,
  workflow = run?.workflow ?? '',
): RuleContext {
  const steps: RuleContext['run']['steps'] = {};
  for (const [id, s] of Object.entries(run?.steps ?? {})) steps[id] = { output: s.output, status: s.status };
  return {
    args,
    run: {
      ...(run ? { id: run.id } : {}),
      workflow,
      inputs: run?.inputs ?? {},
      ...(run?.owner ? { triggeredBy: run.owner } : {}),
      steps,
    },
    annotations: { ...tool.annotations },
    tool: { connector: tool.connector, name: tool.name, write: tool.write },
    ...(step ? { step: { id: step.id, confirm: step.confirm } } : {}),
  };
}

/** ruleSet by policy object: a config's policy never changes (a reload brings a new one), and every step asks. */
const sets = new WeakMap<PolicyConfig, RuleSet>();

/** The file's rules, then one per allow_unconfirmed name: first match wins. */
export function ruleSet(policy: PolicyConfig): RuleSet {
  let set = sets.get(policy);
  if (!set) {
    set = { rules: [...(policy.rules ?? []), ...policy.allowUnconfirmed.map(unconfirmedRule)], money: policy.money ?? [] };
    sets.set(policy, set);
  }
  return set;
}

/**
 * The verdict for a call; without rules or money specs there is nothing to evaluate (and `ctx`, a
 * function, is not even built: it copies every step's output of the run).
 */
export async function verdictFor(policy: PolicyConfig, ctx: RuleContext | (() => RuleContext)): Promise<PolicyVerdict> {
  const set = ruleSet(policy);
  if (set.rules.length === 0 && set.money.length === 0) return { kind: 'default' };
  return evaluateRules(set, typeof ctx === 'function' ? ctx() : ctx);
}

export function explainFor(policy: PolicyConfig, ctx: RuleContext): Promise<Explanation> {
  return explainRules(ruleSet(policy), ctx);
}
