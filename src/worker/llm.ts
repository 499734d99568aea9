/**
 * The `callModel` operation of an `llm` step: ask the model for JSON (src/llm), check the answer
 * against the step's output_schema, and commit it as the step's output. An llm step calls no
 * tool and opens no gate: what it writes can only reach a later step's arguments, and a write
 * there still shows the person the exact text before anything is sent.
 */
import { InterlockError } from '../errors.ts';
import { checkAnswer } from '../llm/answer.ts';
import type { LlmCaller, LlmRequest } from '../llm/caller.ts';
import { evaluateCondition, resolveTemplates } from '../workflows/templates.ts';
import type { LlmStep, TemplateContext } from '../workflows/types.ts';
import { type StepDeps, type StepJob, commitAndAdvance, failAttempt } from './execute.ts';
import type { StepFacts, StepOp } from './plan.ts';
import { notStarted } from './start.ts';

export const DEFAULT_LLM_TIMEOUT_MS = 120_000;

const NO_LLM: LlmCaller = {
  complete: () => Promise.reject(new InterlockError('LLM_ERROR', 'this worker was started without a model client for llm steps')),
};

/** The step's condition, instructions and input, resolved against the run. */
export async function modelFacts(step: LlmStep, ctx: TemplateContext): Promise<StepFacts> {
  try {
    if (step.if !== undefined && !(await evaluateCondition(step.if, ctx))) return { kind: 'conditionFalse', condition: step.if };
    const resolved = (await resolveTemplates(step.with, ctx)) as { instructions?: unknown; input?: unknown };
    if (resolved.input === undefined)
      throw new InterlockError(
        'TEMPLATE_ERROR',
        `llm step "${step.id}": input resolved to nothing; check the templates in llm.input`,
      );
    const req: LlmRequest = { model: step.tool, instructions: String(resolved.instructions ?? ''), input: resolved.input };
    return { kind: 'model', req };
  } catch (error) {
    return { kind: 'error', error };
  }
}

export async function callModel(d: StepDeps, j: StepJob, op: Extract<StepOp, { kind: 'callModel' }>): Promise<string> {
  const { run } = j;
  const step = j.step as LlmStep;
  const started = await d.store.startStep(
    run.id,
    step.id,
    { argumentsHash: op.argumentsHash, attempt: j.job.attemptsMade + 1 },
    false,
  );
  if (!started.ok) return notStarted(started);
  const t0 = Date.now();
  const what = `llm step "${step.id}" (model ${step.tool})`;
  let output: unknown;
  try {
    const answer = await (d.llm ?? NO_LLM).complete(
      op.req,
      { name: schemaName(step.id), schema: step.outputSchema },
      { timeoutMs: step.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS },
    );
    output = checkAnswer(answer, step.outputSchema, what);
  } catch (err) {
    d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: Date.now() - t0, ok: false });
    // Answer problems already name the step; the endpoint's errors name only the model.
    const e =
      err instanceof InterlockError && err.code !== 'LLM_OUTPUT_INVALID'
        ? new InterlockError(err.code, `llm step "${step.id}": ${err.message}`, err.details, { cause: err })
        : err;
    return failAttempt(d, j, e, { arguments: op.args, argumentsHash: op.argumentsHash, startedAt: t0 });
  }
  const finishedAt = Date.now();
  d.onStepFinished?.({ connector: step.connector, tool: step.tool, durationMs: finishedAt - t0, ok: true });
  await commitAndAdvance(d, j, 'succeeded', {
    arguments: op.args,
    argumentsHash: op.argumentsHash,
    output,
    startedAt: t0,
    finishedAt,
    durationMs: finishedAt - t0,
  });
  return 'llm answered';
}

/** response_format names allow [a-zA-Z0-9_-]{1,64}; step ids are already close. */
function schemaName(stepId: string): string {
  return stepId.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'output';
}
