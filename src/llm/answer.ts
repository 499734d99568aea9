/** Checking a model's answer against the step's output_schema, saying exactly what is wrong. */
import type { ErrorObject } from 'ajv';
import { InterlockError } from '../errors.ts';
import { inputValidator } from '../workflows/inputs.ts';
import type { LlmAnswer } from './caller.ts';

/** The answer as JSON matching the schema, or LLM_OUTPUT_INVALID saying exactly what is wrong. */
export function checkAnswer(answer: LlmAnswer, schema: Record<string, unknown>, what: string): unknown {
  if (answer.refusal) throw new InterlockError('LLM_OUTPUT_INVALID', `${what} refused to answer: ${clip(answer.refusal)}`);
  if (answer.finishReason === 'length')
    throw new InterlockError('LLM_OUTPUT_INVALID', `${what} was cut off at its token limit before the JSON answer was complete`);
  if (answer.finishReason === 'content_filter')
    throw new InterlockError('LLM_OUTPUT_INVALID', `${what}: the answer was withheld by the endpoint's content filter`);
  const text = answer.content ?? '';
  if (text.trim() === '')
    throw new InterlockError('LLM_OUTPUT_INVALID', `${what} answered with no content, not the JSON output_schema asks for`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InterlockError(
      'LLM_OUTPUT_INVALID',
      `${what} did not answer with JSON (${(err as Error).message}); it said: ${clip(text)}`,
    );
  }
  // Validated on a copy: ajv fills in defaults, and the output recorded is what the model said.
  const validate = inputValidator(schema);
  if (!validate(structuredClone(value))) {
    const problems = (validate.errors ?? []).map(describe);
    throw new InterlockError(
      'LLM_OUTPUT_INVALID',
      `${what} answered JSON that does not match output_schema: ${[...new Set(problems)].join('; ')}; it said: ${clip(text)}`,
      { problems },
    );
  }
  return value;
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? 'the answer' : e.instancePath.slice(1).replace(/\//g, '.');
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'required') return `${at} is missing required property "${String(p.missingProperty)}"`;
  if (e.keyword === 'additionalProperties')
    return `${at} has property "${String(p.additionalProperty)}", which the schema does not allow`;
  if (e.keyword === 'enum' && Array.isArray(p.allowedValues))
    return `${at} must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at} ${e.message ?? 'is invalid'}`;
}

function clip(s: string, n = 300): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > n ? `${one.slice(0, n)}…` : one);
}
