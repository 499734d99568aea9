/**
 * Evaluating `policy.rules` against one call: the first rule whose tool, workflow and `when` all
 * match decides; no match leaves the default, one person asked. JSONata is asynchronous, so the
 * worker evaluates before it plans and hands the verdict to the pure planner (worker/plan.ts).
 * A condition that fails to evaluate stops the evaluation with POLICY_ERROR: a broken rule must
 * neither let a write through nor quietly lower what a later rule demands.
 */
import { matchesGlob } from '../connectors/glob.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import { compileExpression, evaluateCondition } from '../templates.ts';
import { toMoney } from './money.ts';
import type { Money, MoneySpec, PolicyRule, PolicyVerdict, RuleContext } from './types.ts';

export interface RuleSet {
  rules: readonly PolicyRule[];
  money: readonly MoneySpec[];
}

/** Why each rule did or did not decide, in order, up to the one that did. */
export interface RuleTrace {
  rule: string;
  outcome: 'matched' | 'other tool' | 'other workflow' | 'condition false';
}

export interface Explanation {
  verdict: PolicyVerdict;
  trace: RuleTrace[];
  /** the facts the conditions read, as they read them */
  context: Record<string, unknown>;
}

async function moneyOf(specs: readonly MoneySpec[], toolName: string, ctx: RuleContext): Promise<Money | undefined> {
  const spec = specs.find((s) => matchesGlob(toolName, s.tool));
  if (!spec) return undefined;
  try {
    const [amount, currency] = await Promise.all([
      compileExpression(spec.amount).evaluate(ctx),
      compileExpression(spec.currency).evaluate(ctx),
    ]);
    return toMoney(amount, currency);
  } catch (err) {
    throw new InterlockError('POLICY_ERROR', `policy money for ${spec.tool} failed: ${errorMessage(err)}`, { tool: spec.tool });
  }
}

export async function explainRules(set: RuleSet, ctx: RuleContext): Promise<Explanation> {
  const toolName = `${ctx.tool.connector}.${ctx.tool.name}`;
  const money = await moneyOf(set.money, toolName, ctx);
  const facts: Record<string, unknown> = {
    ...ctx,
    ...(money ? { amount: money.amount, currency: money.currency } : {}),
  };
  const trace: RuleTrace[] = [];
  for (const rule of set.rules) {
    if (!matchesGlob(toolName, rule.tool)) {
      trace.push({ rule: rule.name, outcome: 'other tool' });
      continue;
    }
    if (rule.workflow !== undefined && !matchesGlob(ctx.run.workflow, rule.workflow)) {
      trace.push({ rule: rule.name, outcome: 'other workflow' });
      continue;
    }
    let hit = true;
    if (rule.when !== undefined) {
      try {
        hit = await evaluateCondition(rule.when, facts);
      } catch (err) {
        throw new InterlockError('POLICY_ERROR', `policy rule "${rule.name}" failed to evaluate: ${errorMessage(err)}`, {
          rule: rule.name,
        });
      }
    }
    trace.push({ rule: rule.name, outcome: hit ? 'matched' : 'condition false' });
    if (hit) {
      const verdict: PolicyVerdict = {
        kind: 'rule',
        rule: rule.name,
        ...(rule.description ? { description: rule.description } : {}),
        effect: rule.effect,
        ...(rule.require ? { require: rule.require } : {}),
        ...(money ? { money } : {}),
      };
      return { verdict, trace, context: facts };
    }
  }
  return { verdict: { kind: 'default', ...(money ? { money } : {}) }, trace, context: facts };
}

export async function evaluateRules(set: RuleSet, ctx: RuleContext): Promise<PolicyVerdict> {
  return (await explainRules(set, ctx)).verdict;
}
