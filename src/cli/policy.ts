/**
 * `interlock policy explain` and `interlock audit`: which rule decides a call and why, and the
 * audit as JSON lines. Explaining reads the config and, for a confirmation, its run; it never
 * decides anything.
 */
import type { App } from '../app.ts';
import { InterlockError, errorMessage } from '../errors.ts';
import type { Explanation } from '../policy/evaluate.ts';
import { explanationLines } from '../policy/words.ts';
import type { RuleContext } from '../policy/types.ts';
import { explainFor, ruleContext } from '../worker/rule-context.ts';
import type { PolicyConfig } from '../workflows/types.ts';

export interface ExplainOptions {
  tool?: string;
  args?: string;
  workflow?: string;
  /** earlier steps' outputs, `{"charge": {"output": {…}}}` */
  steps?: string;
  json?: boolean;
}

function jsonOption(text: string | undefined, what: string): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InterlockError('BAD_REQUEST', `${what} is not JSON: ${errorMessage(err)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InterlockError('BAD_REQUEST', `${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** The context of a hypothetical call: `--tool connector.tool --args '{…}'`, taken as a write. */
export function contextFromOptions(o: ExplainOptions): RuleContext {
  const tool = o.tool ?? '';
  const dot = tool.indexOf('.');
  if (dot <= 0) throw new InterlockError('BAD_REQUEST', `--tool must be connector.tool, not "${tool}"`);
  const ctx = ruleContext(
    undefined,
    undefined,
    { connector: tool.slice(0, dot), name: tool.slice(dot + 1), write: true, annotations: {} },
    jsonOption(o.args, '--args'),
    o.workflow ?? '',
  );
  ctx.run.steps = jsonOption(o.steps, '--steps') as RuleContext['run']['steps'];
  return ctx;
}

/** The context of a confirmation: its exact arguments, its run's inputs and earlier outputs. */
export async function contextFromConfirmation(a: App, cid: string): Promise<RuleContext> {
  const conf = await a.store.requireConfirmation(cid);
  const run = await a.store.requireRun(conf.runId);
  const step = run.definition.steps.find((s) => s.id === conf.stepId);
  return ruleContext(
    run,
    step,
    { connector: conf.connector, name: conf.tool, write: conf.reason === 'write', annotations: conf.annotations },
    conf.arguments,
  );
}

export async function explain(policy: PolicyConfig, ctx: RuleContext, json: boolean): Promise<string> {
  const e: Explanation = await explainFor(policy, ctx);
  if (json) return JSON.stringify({ verdict: e.verdict, trace: e.trace }, null, 2);
  return explanationLines(e).join('\n');
}
